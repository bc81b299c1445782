"""Strategic merge patch, what `kubectl patch`, `kubectl edit` and client-side `kubectl apply` send.

Like a JSON merge patch, except that the schema's extensions decide how lists merge:
`x-kubernetes-patch-strategy: merge` with `x-kubernetes-patch-merge-key` merges lists of objects
by that key (Service ports by `port`), `merge` without a key unions lists of scalars, and every
other list is replaced. Directives the patch may carry:

- `$patch: replace` (replace this map / list instead of merging), `$patch: delete` (in a map:
  empty it; in a list item: delete the items with that merge key), `$patch: merge` in a map (the
  default, accepted and ignored);
- `$retainKeys: [...]`: drop the keys of this map that are not listed;
- `$deleteFromPrimitiveList/<field>: [...]`: remove those values from a list of scalars;
- `$setElementOrder/<field>: [...]`: the order the merged list must have (items by merge key).

Semantics follow apimachinery's strategicpatch as kube-apiserver runs it (parallel deletion lists
merged, nulls for absent keys dropped), with two deliberate differences: directives inside values
that are new to the object are interpreted instead of stored, and directive items in replaced
lists are dropped.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from kfed.api.patch.errors import PatchError
from kfed.api.patch.json_values import go_json, json_copy
from kfed.api.patch.schema_view import field_schema, items_schema, merge_key, patch_strategies, resolve
from kfed.model.resource import Obj

DIRECTIVE = "$patch"
RETAIN_KEYS = "$retainKeys"
DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList/"
SET_ELEMENT_ORDER = "$setElementOrder/"

_DROP = object()  # a new value that must not be stored (a `$patch: delete` map, a null)


def apply_strategic_merge_patch(obj: Obj, patch: Any, schema: Obj) -> Obj:
    """Apply a strategic merge patch to a copy of `obj`; neither argument is modified."""
    if not isinstance(patch, dict):
        raise PatchError("a strategic merge patch must be a JSON object", 400)
    original = json_copy(obj)
    return _merge_map(original, patch, resolve(schema))


def _merge_map(original: Obj, patch: Obj, schema: Obj) -> Obj:
    """Merge `patch` into `original` (owned by us, modified in place) and return the result."""
    directive = patch.get(DIRECTIVE)
    if directive is not None:
        if directive == "replace":
            return _new_map({k: v for k, v in patch.items() if k != DIRECTIVE}, schema)
        if directive == "delete":
            return {}
        if directive != "merge":
            raise PatchError(f"unknown patch type: {directive} in map: {_show(patch)}", 400)

    retain = patch.get(RETAIN_KEYS)
    if retain is not None:
        _apply_retain_keys(original, patch, retain)

    ordered = _merge_ordered_lists(original, patch, schema)

    for key, value in patch.items():
        if key in (DIRECTIVE, RETAIN_KEYS) or key in ordered or key.startswith(SET_ELEMENT_ORDER):
            continue
        if key.startswith(DELETE_FROM_PRIMITIVE_LIST):
            _delete_from_primitive_list(original, key, value)
            continue
        if value is None:
            original.pop(key, None)
            continue
        sub = field_schema(schema, key)
        current = original.get(key, _DROP)
        if isinstance(current, dict) and isinstance(value, dict):
            if "replace" in patch_strategies(sub):
                merged: Any = _new_map(value, sub)
            else:
                merged = _merge_map(current, value, sub)
        elif isinstance(current, list) and isinstance(value, list):
            merged = _merge_list(current, value, sub)
        else:
            # absent, or of another type: the patch value replaces it
            merged = _new_value(value, sub)
        if merged is _DROP:
            original.pop(key, None)
        else:
            original[key] = merged
    return original


def _apply_retain_keys(original: Obj, patch: Obj, retain: Any) -> None:
    if not isinstance(retain, list):
        raise PatchError("invalid patch format of retainKeys", 400)
    keep = {k for k in retain if isinstance(k, str)}
    for key, value in patch.items():
        if value is None or key.startswith("$"):
            continue
        if key not in keep:
            raise PatchError("invalid patch format of retainKeys", 400)
    for key in [k for k in original if k not in keep]:
        del original[key]


def _delete_from_primitive_list(original: Obj, key: str, values: Any) -> None:
    field = key[len(DELETE_FROM_PRIMITIVE_LIST):]
    if not field or not isinstance(values, list):
        raise PatchError("invalid patch format of primitive list", 400)
    current = original.get(field)
    if not isinstance(current, list):
        return
    doomed = [_hashable(v) for v in values]
    original[field] = [v for v in current if _hashable(v) not in doomed]


def _merge_ordered_lists(original: Obj, patch: Obj, schema: Obj) -> set[str]:
    """Handle every `$setElementOrder/<field>`: merge that list and put it in the given order.

    Returns the fields handled here, which the main loop then skips.
    """
    done: set[str] = set()
    for key, order in patch.items():
        if not key.startswith(SET_ELEMENT_ORDER):
            continue
        field = key[len(SET_ELEMENT_ORDER):]
        if not field or not isinstance(order, list):
            raise PatchError("invalid patch format of setElementOrder list", 400)
        sub = field_schema(schema, field)
        key_name = merge_key(sub)
        current = original.get(field)
        incoming = patch.get(field)
        if current is not None and not isinstance(current, list):
            raise PatchError(f"expected a list for {field}, but received a {type(current).__name__}")
        if incoming is not None and not isinstance(incoming, list):
            raise PatchError(f"expected a list for {field}, but received a {type(incoming).__name__}", 400)
        _check_order_matches_patch(incoming or [], order, key_name)
        done.add(field)
        if current is not None and incoming is not None:
            merged = _merge_list(current, incoming, sub)
        elif incoming is not None:
            merged = _new_list(incoming, sub)
        elif current is not None:
            merged = current
        else:
            continue
        in_order, server_only = _partition(merged, order, key_name)
        original[field] = _normalize_order(in_order, server_only, order, current or [], key_name)
    return done


def _check_order_matches_patch(items: list[Any], order: list[Any], key_name: str) -> None:
    """The patch's items (deletions aside) must appear in `$setElementOrder` in the same order."""
    if not items or not order:
        return
    wanted = [i for i in items if not (isinstance(i, dict) and DIRECTIVE in i)]
    position = 0
    for item in order:
        if position >= len(wanted):
            break
        if _merge_value(wanted[position], key_name) == _merge_value(item, key_name):
            position += 1
    if position < len(wanted):
        raise PatchError(f"the order in patch list:\n{_show(items)}\n doesn't match $setElementOrder list:\n"
                         f"{_show(order)}", 400)


def _merge_list(original: list[Any], patch: list[Any], schema: Obj) -> list[Any]:
    if "merge" not in patch_strategies(schema):
        return _new_list(patch, schema)
    if not original and not patch:
        return original
    key_name = merge_key(schema)
    if not any(isinstance(item, dict) for item in original) and not any(isinstance(item, dict) for item in patch):
        # a set of scalars: union, patch items ordered as in the patch, live items as they were
        merged = _dedupe(original + patch)
        in_patch, server_only = _partition(merged, patch, "")
        return _normalize_order(in_patch, server_only, patch, original, "")
    if not key_name:
        raise PatchError("cannot merge lists without merge key for type map")
    item_schema = items_schema(schema)
    original, plain = _apply_list_directives(original, patch, key_name)
    merged = list(original)  # new items go here; `original` stays the live order
    for item in plain:
        if not isinstance(item, dict):
            raise PatchError(f"expected a map in the patch list, but received {_show(item)}")
        if key_name not in item:
            raise PatchError(f"map: {_show(item)} does not contain declared merge key: {key_name}")
        wanted = item[key_name]
        for index, existing in enumerate(merged):
            if isinstance(existing, dict) and existing.get(key_name, _DROP) == wanted:
                merged[index] = _merge_map(existing, item, item_schema)
                break
        else:
            new_item = _new_value(item, item_schema)
            if new_item is not _DROP:
                merged.append(new_item)
    in_patch, server_only = _partition(merged, plain, key_name)
    return _normalize_order(in_patch, server_only, plain, original, key_name)


def _apply_list_directives(original: list[Any], patch: list[Any], key_name: str) -> tuple[list[Any], list[Any]]:
    """Carry out `$patch` items of a merging list; return the list left and the plain patch items."""
    plain: list[Any] = []
    replace = False
    for item in patch:
        if not isinstance(item, dict) or DIRECTIVE not in item:
            plain.append(item)
            continue
        directive = item[DIRECTIVE]
        if directive == "delete":
            if key_name not in item:
                raise PatchError(f"map: {_show(item)} does not contain declared merge key: {key_name}")
            doomed = item[key_name]
            original = [x for x in original if not (isinstance(x, dict) and x.get(key_name, _DROP) == doomed)]
        elif directive == "replace":
            replace = True
        elif directive == "merge":
            raise PatchError("merging lists cannot yet be specified in the patch")
        else:
            raise PatchError(f"unknown patch type: {directive} in map: {_show(item)}", 400)
    if replace:
        return [], plain
    return original, plain


def _partition(items: list[Any], by: list[Any], key_name: str) -> tuple[list[Any], list[Any]]:
    """Split `items` into those present in `by` (by merge key, or by value) and the rest."""
    present = {_hashable(_merge_value(v, key_name)) for v in by}
    inside: list[Any] = []
    outside: list[Any] = []
    for item in items:
        if key_name and not (isinstance(item, dict) and key_name in item):
            raise PatchError(f"map: {_show(item)} does not contain declared merge key: {key_name}")
        (inside if _hashable(_merge_value(item, key_name)) in present else outside).append(item)
    return inside, outside


def _normalize_order(in_patch: list[Any], server_only: list[Any], patch_order: list[Any],
                     server_order: list[Any], key_name: str) -> list[Any]:
    """Order the patch's items as the patch (or $setElementOrder) says, the live-only items as they
    were, then interleave them: a live-only item goes before a patch item only when both were in the
    live list and it came first there (apimachinery's normalizeElementOrder)."""
    patch_index = _index_of(patch_order, key_name)
    server_index = _index_of(server_order, key_name)
    in_patch = _sorted_by(in_patch, patch_index, key_name)
    server_only = _sorted_by(server_only, server_index, key_name)
    out: list[Any] = []
    i = j = 0
    while i < len(server_only) or j < len(in_patch):
        if i >= len(server_only):
            out.append(in_patch[j])
            j += 1
        elif j >= len(in_patch):
            out.append(server_only[i])
            i += 1
        else:
            left = server_index.get(_hashable(_merge_value(server_only[i], key_name)), -1)
            right = server_index.get(_hashable(_merge_value(in_patch[j], key_name)), -1)
            if left >= 0 and right >= 0 and left < right:
                out.append(server_only[i])
                i += 1
            else:
                out.append(in_patch[j])
                j += 1
    return out


def _index_of(items: list[Any], key_name: str) -> dict[Hashable, int]:
    index: dict[Hashable, int] = {}
    for position, item in enumerate(items):
        index.setdefault(_hashable(_merge_value(item, key_name)), position)
    return index


def _sorted_by(items: list[Any], index: dict[Hashable, int], key_name: str) -> list[Any]:
    unknown = len(index)
    return sorted(items, key=lambda item: index.get(_hashable(_merge_value(item, key_name)), unknown))


def _merge_value(item: Any, key_name: str) -> Any:
    if key_name:
        return item.get(key_name) if isinstance(item, dict) else None
    return item


def _hashable(value: Any) -> Hashable:
    if isinstance(value, dict | list):
        return ("json", go_json(value, sort_keys=True))
    if isinstance(value, bool):
        return ("bool", value)
    hashable: Hashable = value
    return hashable


def _dedupe(items: list[Any]) -> list[Any]:
    seen: set[Hashable] = set()
    out: list[Any] = []
    for item in items:
        marker = _hashable(item)
        if marker not in seen:
            seen.add(marker)
            out.append(item)
    return out


def _new_value(value: Any, schema: Obj) -> Any:
    """A patch value for a key the object doesn't have (or has with another type): stored without
    its directives and nulls, as if merged into nothing."""
    if value is None:
        return _DROP
    if isinstance(value, dict):
        if value.get(DIRECTIVE) == "delete":
            return _DROP
        return _new_map(value, schema)
    if isinstance(value, list):
        return _new_list(value, schema)
    return value


def _new_map(value: Obj, schema: Obj) -> Obj:
    return _merge_map({}, {k: v for k, v in value.items() if k != DIRECTIVE}, schema)


def _new_list(value: list[Any], schema: Obj) -> list[Any]:
    item_schema = items_schema(schema)
    out: list[Any] = []
    for item in value:
        if isinstance(item, dict):
            if DIRECTIVE in item:
                continue
            out.append(_merge_map({}, item, item_schema))
        elif isinstance(item, list):
            out.append(_new_list(item, item_schema))
        else:
            out.append(item)
    return out


def _show(value: Any) -> str:
    text = go_json(value)
    return text if len(text) <= 200 else text[:200] + "..."
