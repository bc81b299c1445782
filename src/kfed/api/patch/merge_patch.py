"""JSON merge patch (RFC 7386), `kubectl patch --type=merge`: objects merge, null deletes, rest replaces."""

from __future__ import annotations

from typing import Any

from kfed.api.patch.errors import PatchError
from kfed.api.patch.json_values import json_copy
from kfed.model.resource import Obj


def apply_merge_patch(obj: Obj, patch: Any) -> Obj:
    """Apply a merge patch; the result shares no container with `obj` or `patch`."""
    if not isinstance(patch, dict):
        raise PatchError("a merge patch for an object must be a JSON object", 400)
    result = _merge(obj, patch)
    assert isinstance(result, dict)
    return result


def _merge(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return json_copy(patch)
    out: Obj = {}
    if isinstance(target, dict):
        for key, value in target.items():
            if key not in patch:
                out[key] = json_copy(value)
    for key, value in patch.items():
        if value is None:
            continue
        out[key] = _merge(target.get(key) if isinstance(target, dict) else None, value)
    # keep the target's key order for keys the patch changed, new keys last (as Go's map output
    # is sorted anyway, order only matters for humans reading the stored object)
    if isinstance(target, dict):
        ordered: Obj = {k: out[k] for k in target if k in out}
        ordered.update((k, v) for k, v in out.items() if k not in ordered)
        return ordered
    return out


def create_merge_patch(source: Any, target: Any) -> Any:
    """The merge patch that turns `source` into `target` (nulls for deleted keys).

    Exact for objects whose values are never null: a merge patch cannot set a value to null.
    """
    if not isinstance(source, dict) or not isinstance(target, dict):
        return json_copy(target)
    patch: Obj = {}
    for key in source:
        if key not in target:
            patch[key] = None
    for key, value in target.items():
        if key not in source:
            patch[key] = json_copy(value)
        elif value != source[key] or type(value) is not type(source[key]):
            patch[key] = create_merge_patch(source[key], value)
    return patch
