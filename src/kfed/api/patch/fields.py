"""Walking an object by its schema: its field set, and what changed between two versions of it.

These follow structured-merge-diff (the library behind server-side apply), which decides for each
node whether it is a leaf (scalars, atomic maps and lists) or a container whose entries are owned
one by one (granular maps and structs, `set` and `map` lists).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from kfed.api.patch.errors import PatchError
from kfed.api.patch.fieldset import FieldSet, field_pe, index_pe, key_pe, path_string, value_pe
from kfed.api.patch.schema_view import (
    ListType,
    SchemaNode,
    field_schema,
    is_named_field,
    items_schema,
    key_default,
    list_type,
    map_is_atomic,
    resolve,
    schema_node,
)
from kfed.model.resource import Obj


class _Absent:
    """A value that is not there at all (as opposed to JSON null)."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()


def without_managed_fields(obj: Obj) -> Obj:
    """`obj` minus metadata.managedFields (a shallow copy when there is something to drop)."""
    meta = obj.get("metadata")
    if isinstance(meta, dict) and "managedFields" in meta:
        obj = dict(obj)
        obj["metadata"] = {k: v for k, v in meta.items() if k != "managedFields"}
    return obj


def item_pe(item: Any, index: int, kind: ListType, keys: tuple[str, ...], item_schema: Obj,
            *, strict: bool = False, where: tuple[str, ...] = ()) -> str:
    """The path element of one item of a granular list.

    Strict (for an applied configuration) raises PatchError where structured-merge-diff refuses
    the list; lenient (for stored objects) falls back to the item's index.
    """
    if kind is ListType.MAP and keys:
        if not isinstance(item, dict):
            if strict:
                raise PatchError(f"{path_string(where)}: element {index}: associative list with keys has an "
                                 "element that's not a map type")
            return index_pe(index)
        values: dict[str, Any] = {}
        for key in keys:
            value = item.get(key)
            if value is None:
                value = key_default(item_schema, key)
            if value is None:
                if strict:
                    raise PatchError(f"{path_string(where)}: element {index}: associative list with keys has an "
                                     f"element that omits key field \"{key}\" (and doesn't have default value)")
                continue
            values[key] = value
        return key_pe(values) if values else index_pe(index)
    if strict and isinstance(item, dict | list):
        raise PatchError(f"{path_string(where)}: element {index}: associative list without keys has an element "
                         "that's a map type")
    return value_pe(item)


# --- field sets ---------------------------------------------------------------------------------


def fields_of(obj: Obj, schema: Obj, *, strict: bool = False) -> FieldSet:
    """Every field `obj` sets, as server-side apply records them (structured-merge-diff's ToFieldSet).

    Scalars and atomic values are members; items of granular lists are members too (with their
    fields below them); so are map entries that are not declared properties, empty objects and
    nulls. metadata.managedFields is never part of it. `strict` refuses list items without their
    keys and duplicate items (the checks kube-apiserver makes on an applied configuration).
    """
    schema = resolve(schema)
    root = FieldSet()
    for key, value in without_managed_fields(obj).items():
        pe = field_pe(key)
        _collect(root, pe, value, field_schema(schema, key), is_named_field(schema, key), False, (pe,), strict)
    return root


def _collect(parent: FieldSet, pe: str, value: Any, schema: Obj, named: bool, in_list: bool,
             where: tuple[str, ...], strict: bool) -> None:
    if isinstance(value, dict) and not map_is_atomic(schema):
        node = FieldSet()
        for key, sub in value.items():
            child_pe = field_pe(key)
            _collect(node, child_pe, sub, field_schema(schema, key), is_named_field(schema, key), False,
                     (*where, child_pe) if strict else where, strict)
        if node:
            parent.children[pe] = node
        if in_list or not named or not value:
            parent.members.add(pe)
        return
    if isinstance(value, list):
        kind, keys = list_type(schema)
        if kind is not ListType.ATOMIC:
            node = FieldSet()
            item_schema = items_schema(schema)
            for index, item in enumerate(value):
                child_pe = item_pe(item, index, kind, keys, item_schema, strict=strict, where=where)
                if strict and (child_pe in node.members):
                    raise PatchError(f"{path_string(where)}: duplicate entries for key {path_string((child_pe,))}")
                _collect(node, child_pe, item, item_schema, False, True, (*where, child_pe) if strict else where,
                         strict)
            if node:
                parent.children[pe] = node
            if in_list or not named:
                parent.members.add(pe)
            return
    parent.members.add(pe)


# --- comparing ----------------------------------------------------------------------------------


class Comparison(NamedTuple):
    """What changed from one version of an object to the next, as field sets."""

    added: FieldSet
    modified: FieldSet
    removed: FieldSet

    def changed(self) -> FieldSet:
        """Added or modified: what the writer of the new version takes ownership of."""
        return self.added.union(self.modified)


def compare_fields(old: Obj | None, new: Obj, schema: Obj) -> Comparison:
    """Compare two versions of an object (structured-merge-diff's Compare).

    Leaves that appear are added, that disappear are removed, that differ are modified; a granular
    map or list (or list item) that appears or disappears as a whole is itself added or removed.
    metadata.managedFields is ignored.

    Against no old object (a create) everything is added: that case, the hot one, is built by one
    walk of the new object instead of a comparison, with exactly the same result as
    compare_versions (the unit tests check that over random objects).
    """
    if not old:
        return _compare_with_nothing(new, schema)
    return compare_versions(old, new, schema)


def compare_versions(old: Obj | None, new: Obj, schema: Obj) -> Comparison:
    """compare_fields by walking both versions side by side (any `old`, None included)."""
    added, modified, removed = FieldSet(), FieldSet(), FieldSet()
    root = schema_node(schema)
    lhs = without_managed_fields(old) if old is not None else {}
    rhs = without_managed_fields(new)
    for key in {**lhs, **rhs}:
        before, after = lhs.get(key, ABSENT), rhs.get(key, ABSENT)
        if before is after and type(before) in _CONTAINERS:
            # The very same container (a /status write carries spec over from the old object by
            # reference) is equal to itself, so _compare would find nothing: skip even its ==.
            continue
        pe = "f:" + key
        sub = root.field(key)
        if sub.has_properties and isinstance(before, dict | _Absent) and isinstance(after, dict | _Absent):
            # metadata, spec, status: Kubernetes' typed objects always have these structs, so they
            # never appear or disappear as a whole (no `.` entry for them, as in kube's managedFields)
            _compare(added, modified, removed, pe, before if before is not ABSENT else {},
                     after if after is not ABSENT else {}, sub)
        else:
            _compare(added, modified, removed, pe, before, after, sub)
    return Comparison(added, modified, removed)


_LEAF, _MAP, _LIST = 0, 1, 2
_CONTAINERS = (dict, list)


def _shape(value: Any, schema: SchemaNode) -> int | None:
    if value is ABSENT or value is None:
        return None
    if isinstance(value, dict):
        return _LEAF if schema.atomic_map else _MAP
    if isinstance(value, list):
        return _LEAF if schema.list_type()[0] is _ATOMIC else _LIST
    return _LEAF


def _compare_leaf(a: FieldSet, m: FieldSet, r: FieldSet, pe: str, lhs: Any, rhs: Any) -> None:
    if lhs is ABSENT:
        if rhs is not ABSENT:
            a.members.add(pe)
    elif rhs is ABSENT:
        r.members.add(pe)
    elif lhs != rhs or type(lhs) is not type(rhs) and (isinstance(lhs, bool) or isinstance(rhs, bool)):
        m.members.add(pe)


def _compare(a: FieldSet, m: FieldSet, r: FieldSet, pe: str, lhs: Any, rhs: Any, schema: SchemaNode) -> None:
    if type(lhs) is type(rhs) and lhs == rhs:
        return  # most of an object is unchanged: one C-level comparison instead of a walk
    left, right = _shape(lhs, schema), _shape(rhs, schema)
    shape = left if left is not None else right
    if shape is None or shape == _LEAF or (left is not None and right is not None and left != right):
        _compare_leaf(a, m, r, pe, lhs, rhs)
        return
    ca, cm, cr = FieldSet(), FieldSet(), FieldSet()
    if shape == _MAP:
        lmap = lhs if isinstance(lhs, dict) else {}
        rmap = rhs if isinstance(rhs, dict) else {}
        if not lmap and not rmap:
            _compare_leaf(a, m, r, pe, lhs, rhs)
            return
        for key, value in lmap.items():
            _compare(ca, cm, cr, "f:" + key, value, rmap.get(key, ABSENT), schema.field(key))
        for key, value in rmap.items():
            if key not in lmap:
                _compare(ca, cm, cr, "f:" + key, ABSENT, value, schema.field(key))
    else:
        llist = lhs if isinstance(lhs, list) else []
        rlist = rhs if isinstance(rhs, list) else []
        if not llist and not rlist:
            _compare_leaf(a, m, r, pe, lhs, rhs)
            return
        _compare_list_items(ca, cm, cr, llist, rlist, schema)
    for parent, child in ((a, ca), (m, cm), (r, cr)):
        if child:
            parent.children[pe] = child
    # a container that appears or disappears as a whole is itself added or removed
    if lhs is ABSENT:
        a.members.add(pe)
    elif rhs is ABSENT:
        r.members.add(pe)


def group_list_items(items: list[Any], kind: ListType, keys: tuple[str, ...], item_schema: Obj) -> dict[str, list[Any]]:
    groups: dict[str, list[Any]] = {}
    for index, item in enumerate(items):
        groups.setdefault(item_pe(item, index, kind, keys, item_schema), []).append(item)
    return groups


def _compare_list_items(a: FieldSet, m: FieldSet, r: FieldSet, llist: list[Any], rlist: list[Any],
                        schema: SchemaNode) -> None:
    kind, keys = schema.list_type()
    item_schema = schema.items()
    lgroups = group_list_items(llist, kind, keys, item_schema.schema)
    rgroups = group_list_items(rlist, kind, keys, item_schema.schema)
    for pe in {**lgroups, **rgroups}:
        lg = lgroups.get(pe, [])
        rg = rgroups.get(pe, [])
        if len(lg) <= 1 and len(rg) <= 1:
            _compare(a, m, r, pe, lg[0] if lg else ABSENT, rg[0] if rg else ABSENT, item_schema)
        elif len(lg) >= 2 and len(rg) >= 2:
            # duplicated items are compared as one atomic value
            if lg != rg:
                m.members.add(pe)
        elif len(lg) >= 2:
            if rg:
                _compare(a, m, r, pe, ABSENT, rg[0], item_schema)
            r.members.add(pe)
        else:
            if lg:
                _compare(a, m, r, pe, lg[0], ABSENT, item_schema)
            a.members.add(pe)


# --- comparing with nothing (a create) --------------------------------------------------------------


# Enum members cost a class-attribute lookup each time they are named (Python 3.11): name it once.
_ATOMIC = ListType.ATOMIC


def _compare_with_nothing(new: Obj, schema: Obj) -> Comparison:
    """compare_versions(None, new): every field of `new` is added.

    Mirrors _compare with an absent left side: a leaf (scalar, null, atomic value, empty map or
    list) is an added member; a granular map or list is an added member with its entries below it;
    items of a list that share a path element are one added member with nothing below it. The
    top-level structs (metadata, spec, status) are compared with an empty object instead, so they
    get no member of their own, and an atomic one is a modified leaf.
    """
    added, modified = FieldSet(), FieldSet()
    root = schema_node(schema)
    for key, value in without_managed_fields(new).items():
        pe = "f:" + key
        sub = root.field(key)
        if sub.has_properties and isinstance(value, dict):
            if not value:
                continue
            if sub.atomic_map:
                modified.members.add(pe)
                continue
            node = FieldSet()
            for child_key, child in value.items():
                _add_all(node, "f:" + child_key, child, sub.field(child_key))
            added.children[pe] = node
        else:
            _add_all(added, pe, value, sub)
    return Comparison(added, modified, FieldSet())


def _add_all(parent: FieldSet, pe: str, value: Any, schema: SchemaNode) -> None:
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        pass  # a leaf: the common case, told apart first
    elif kind is dict or isinstance(value, dict):
        if value and not schema.atomic_map:
            node = FieldSet()
            for key, child in value.items():
                _add_all(node, "f:" + key, child, schema.field(key))
            parent.children[pe] = node
    elif (kind is list or isinstance(value, list)) and value:
        list_kind, keys = schema.list_type()
        if list_kind is not _ATOMIC:
            item_schema = schema.items()
            groups = group_list_items(value, list_kind, keys, item_schema.schema)
            node = FieldSet()
            for item_key, items in groups.items():
                if len(items) == 1:
                    _add_all(node, item_key, items[0], item_schema)
                else:
                    node.members.add(item_key)  # duplicates: one atomic value
            parent.children[pe] = node
    parent.members.add(pe)
