"""The object half of server-side apply: merging an applied configuration into the live object,
and pruning what an applier stopped applying (structured-merge-diff's Merge and RemoveItems)."""

from __future__ import annotations

from typing import Any

from kfed.api.patch.fields import ABSENT, item_pe
from kfed.api.patch.fieldset import FieldSet
from kfed.api.patch.json_values import json_copy
from kfed.api.patch.schema_view import (
    ListType,
    field_schema,
    is_named_field,
    is_nullable,
    items_schema,
    list_type,
    map_is_atomic,
    resolve,
)
from kfed.model.resource import Obj

_DUPLICATE = object()


def merge_applied(live: Obj, applied: Obj, schema: Obj) -> Obj:
    """`applied` merged into `live`, applied values winning; a new object sharing nothing with either.

    Granular maps merge key by key; `set` and `map` lists merge item by item (applied order for
    the items both have, live-only items kept where they were); scalars and atomic values are
    replaced. A null in `applied` replaces a leaf (drop_unset_fields then drops it).
    """
    merged = _merge(live, applied, resolve(schema))
    assert isinstance(merged, dict)
    return merged


def _merge(lhs: Any, rhs: Any, schema: Obj) -> Any:
    if rhs is ABSENT:
        return json_copy(lhs)
    if lhs is ABSENT:
        return json_copy(rhs)
    if rhs is None:
        # structured-merge-diff keeps a non-empty granular container that the config nulls
        if isinstance(lhs, dict) and lhs and not map_is_atomic(schema):
            return json_copy(lhs)
        if isinstance(lhs, list) and lhs and list_type(schema)[0] is not ListType.ATOMIC:
            return json_copy(lhs)
        return None
    if isinstance(lhs, dict) and isinstance(rhs, dict) and not map_is_atomic(schema):
        out: Obj = {}
        for key, value in lhs.items():
            out[key] = _merge(value, rhs[key], field_schema(schema, key)) if key in rhs else json_copy(value)
        for key, value in rhs.items():
            if key not in lhs:
                out[key] = json_copy(value)
        return out
    if isinstance(lhs, list) and isinstance(rhs, list) and (lhs or rhs):
        kind, keys = list_type(schema)
        if kind is not ListType.ATOMIC:
            return _merge_list(lhs, rhs, kind, keys, items_schema(schema))
    return json_copy(rhs)


def _merge_list(lhs: list[Any], rhs: list[Any], kind: ListType, keys: tuple[str, ...], item_schema: Obj) -> list[Any]:
    left = [(item_pe(item, i, kind, keys, item_schema), item) for i, item in enumerate(lhs)]
    first_left: dict[str, Any] = {}
    for pe, item in left:
        first_left[pe] = _DUPLICATE if pe in first_left else item
    right: list[tuple[str, Any]] = []
    by_pe: dict[str, Any] = {}
    for i, item in enumerate(rhs):
        pe = item_pe(item, i, kind, keys, item_schema)
        if pe not in by_pe:
            by_pe[pe] = item
            right.append((pe, item))

    def merged_item(pe: str) -> Any:
        base = first_left.get(pe, ABSENT)
        # an item duplicated in the live list is replaced whole by the applied one
        return _merge(ABSENT if base is _DUPLICATE else base, by_pe[pe], item_schema)

    # Items both lists have come out in the applied order; live-only items stay where they were
    # relative to them (structured-merge-diff's ordering).
    shared = iter([pe for pe, _ in right if pe in first_left])
    next_shared = next(shared, None)
    done: set[str] = set()
    out: list[Any] = []
    li = ri = 0
    while li < len(left) or ri < len(right):
        if li < len(left) and ri < len(right):
            lpe = left[li][0]
            if lpe == right[ri][0]:
                done.add(lpe)
                out.append(merged_item(lpe))
                li += 1
                ri += 1
                next_shared = next(shared, None)
                continue
            if lpe in by_pe and next_shared is not None and next_shared != lpe:
                li += 1
                continue
        if li < len(left):
            lpe, litem = left[li]
            if lpe not in by_pe:
                out.append(json_copy(litem))
                li += 1
                continue
            if lpe in done:
                li += 1
                continue
        if ri < len(right):
            rpe = right[ri][0]
            done.add(rpe)
            out.append(merged_item(rpe))
            ri += 1
            if next_shared == rpe:
                next_shared = next(shared, None)
    return out


# --- pruning ------------------------------------------------------------------------------------


def paths_to_prune(last: FieldSet, owned: FieldSet, schema: Obj) -> FieldSet:
    """What to remove from the merged object: fields the applier set last time, no longer sets,
    and nobody else owns.

    A declared field (struct member) counts as owned when anything under it is owned, so a struct
    goes only when nothing in it is owned any more; a list item or map entry goes when the item
    itself is no longer owned (structured-merge-diff's EnsureNamedFieldsAreMembers + RemoveItems).
    """
    return _prune(last, owned, resolve(schema))


def _prune(last: FieldSet, owned: FieldSet | None, schema: Obj) -> FieldSet:
    out = FieldSet()
    for pe in last.members | last.children.keys():
        named = pe.startswith("f:") and is_named_field(schema, pe[2:])
        in_last = pe in last.members or (named and pe in last.children)
        in_owned = owned is not None and (pe in owned.members or (named and pe in owned.children))
        if in_last and not in_owned:
            out.members.add(pe)
            continue
        child = last.children.get(pe)
        if child is not None:
            sub_schema = field_schema(schema, pe[2:]) if pe.startswith("f:") else items_schema(schema)
            below = _prune(child, owned.children.get(pe) if owned is not None else None, sub_schema)
            if below:
                out.children[pe] = below
    return out


def remove_paths(obj: Obj, paths: FieldSet, schema: Obj) -> None:
    """Remove `paths` (and everything under their members) from `obj` in place. A list or map that
    the removal empties goes too, as it would decode to nothing in Kubernetes (a struct stays `{}`)."""
    _remove(obj, paths, resolve(schema), top=True)


def _remove(value: Any, paths: FieldSet, schema: Obj, top: bool = False) -> None:
    if isinstance(value, dict):
        if map_is_atomic(schema):
            return
        for pe in paths.members:
            if not pe.startswith("f:") or pe[2:] not in value:
                continue
            if top and "properties" in field_schema(schema, pe[2:]):
                # spec, status: Kubernetes' typed objects always have them, at worst empty
                value[pe[2:]] = {}
            else:
                del value[pe[2:]]
        for pe, child in paths.children.items():
            name = pe[2:]
            if not pe.startswith("f:") or name not in value:
                continue
            sub = value[name]
            if isinstance(sub, dict | list) and sub:
                sub_schema = field_schema(schema, name)
                _remove(sub, child, sub_schema)
                if not sub and "properties" not in sub_schema:
                    del value[name]
    elif isinstance(value, list):
        kind, keys = list_type(schema)
        if kind is ListType.ATOMIC:
            return
        item_schema = items_schema(schema)
        kept: list[Any] = []
        for index, item in enumerate(value):
            pe = item_pe(item, index, kind, keys, item_schema)
            if pe in paths.members:
                continue
            below = paths.children.get(pe)
            if below is not None and isinstance(item, dict | list):
                _remove(item, below, item_schema)
            kept.append(item)
        value[:] = kept


def drop_unset_fields(obj: Any, schema: Obj) -> None:
    """Normalise `obj` as decoding into a typed Kubernetes object would: drop null values of fields
    that are not `nullable` (a null in an applied configuration means "unset"), and empty lists and
    empty maps of declared list and map fields (Kubernetes omits them when empty). Structs (`{}`
    meaning "present", like emptyDir) and fields of unknown structure are kept as they are."""
    _strip(obj, resolve(schema))


def _strip(value: Any, schema: Obj) -> None:
    if isinstance(value, dict):
        doomed: list[str] = []
        for key, sub in value.items():
            sub_schema = field_schema(schema, key)
            if sub is None:
                if not is_nullable(sub_schema):
                    doomed.append(key)
            elif isinstance(sub, dict | list):
                _strip(sub, sub_schema)
                if not sub and _omitted_when_empty(sub, sub_schema):
                    doomed.append(key)
        for key in doomed:
            del value[key]
    elif isinstance(value, list):
        item_schema = items_schema(schema)
        for item in value:
            if isinstance(item, dict | list):
                _strip(item, item_schema)


def _omitted_when_empty(value: Obj | list[Any], schema: Obj) -> bool:
    if isinstance(value, list):
        return schema.get("type") == "array"
    return "additionalProperties" in schema and "properties" not in schema
