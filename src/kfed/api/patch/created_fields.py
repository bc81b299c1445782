"""The FieldsV1 a create gives its writer, built in one walk of the new object.

On a create nobody owns anything yet, so the writer's managedFields entry is every field of the new
object: compare_fields(None, new).changed(), less what nobody owns (identity metadata, reset
fields), encoded as FieldsV1. Creates are the API server's hot write, and building that FieldsV1
dict straight from the object, with no FieldSet in between and no second walk to encode it, is
most of what managed fields cost there. The unit tests check it against the general path
(compare_versions, FieldSet algebra, to_fields_v1) over random objects of every kind.
"""

from __future__ import annotations

from typing import Any

from kfed.api.patch.fields import group_list_items, without_managed_fields
from kfed.api.patch.fieldset import FieldSet, sorted_pes
from kfed.api.patch.schema_view import ListType, SchemaNode, schema_node
from kfed.model.resource import Obj

# Enum members cost a class-attribute lookup each time they are named (Python 3.11): name it once.
_ATOMIC = ListType.ATOMIC


def created_fields_v1(new: Obj, schema: Obj, *, strip: FieldSet, reset: FieldSet) -> Obj:
    """FieldsV1 of compare_fields(None, new, schema).changed(), less the members of `strip` and
    everything at or under a member of `reset` (owned_only's two rules)."""
    root = schema_node(schema)
    out: Obj = {}
    for key, value in without_managed_fields(new).items():
        pe = "f:" + key
        if pe in reset.members:
            continue
        sub = root.field(key)
        member = pe not in strip.members
        if sub.has_properties and isinstance(value, dict):
            # metadata, spec, status: compared with an empty struct, so never a member themselves
            # (unless atomic, when the whole value is one modified leaf)
            if not value:
                continue
            if sub.atomic_map:
                if member:
                    out[pe] = {}
                continue
            entries = _map(value, sub, strip.children.get(pe), reset.children.get(pe))
            if entries:
                out[pe] = _node(entries, False)
        else:
            _add(out, pe, value, sub, member, strip.children.get(pe), reset.children.get(pe))
    return _node(out, False)


def _add(out: Obj, pe: str, value: Any, schema: SchemaNode, member: bool, strip: FieldSet | None,
         reset: FieldSet | None) -> None:
    """Record `value` (added under `pe`): a leaf is `{}`, a granular map or list is its entries,
    with a `.` when the container is itself a member."""
    kind = type(value)
    entries: Obj | None = None
    if kind is str or kind is int or kind is bool or value is None:
        pass  # a leaf: the common case, told apart first
    elif kind is dict or isinstance(value, dict):
        if value and not schema.atomic_map:
            entries = _map(value, schema, strip, reset)
    elif (kind is list or isinstance(value, list)) and value:
        list_kind, keys = schema.list_type()
        if list_kind is not _ATOMIC:
            entries = _list(value, schema, list_kind, keys, strip, reset)
    if entries:
        out[pe] = _node(entries, member)
    elif member:
        out[pe] = {}


def _map(value: dict[str, Any], schema: SchemaNode, strip: FieldSet | None, reset: FieldSet | None) -> Obj:
    """The entries of a granular map, in no particular order."""
    out: Obj = {}
    if strip is None and reset is None:
        for key, child in value.items():
            kind = type(child)
            if kind is str or kind is int or kind is bool or child is None:
                out["f:" + key] = {}  # a leaf, as _add would record it, without the call
            else:
                _add(out, "f:" + key, child, schema.field(key), True, None, None)
    else:
        for key, child in value.items():
            pe = "f:" + key
            if reset is not None and pe in reset.members:
                continue
            _add(out, pe, child, schema.field(key), strip is None or pe not in strip.members,
                 strip.children.get(pe) if strip is not None else None,
                 reset.children.get(pe) if reset is not None else None)
    return out


def _list(value: list[Any], schema: SchemaNode, kind: ListType, keys: tuple[str, ...], strip: FieldSet | None,
          reset: FieldSet | None) -> Obj:
    """The items of a granular list, in no particular order."""
    item_schema = schema.items()
    out: Obj = {}
    for pe, items in group_list_items(value, kind, keys, item_schema.schema).items():
        if reset is not None and pe in reset.members:
            continue
        member = strip is None or pe not in strip.members
        if len(items) == 1:
            _add(out, pe, items[0], item_schema, member,
                 strip.children.get(pe) if strip is not None else None,
                 reset.children.get(pe) if reset is not None else None)
        elif member:
            out[pe] = {}  # duplicated items: one atomic value, nothing owned below it
    return out


def _node(entries: Obj, member: bool) -> Obj:
    """A FieldsV1 node as FieldSet.to_fields_v1 writes it: `.` first when the container is itself
    owned, then its entries in structured-merge-diff's order."""
    if len(entries) == 1:
        return {".": {}, **entries} if member else entries
    node: Obj = {".": {}} if member else {}
    for pe in sorted_pes(entries):
        node[pe] = entries[pe]
    return node
