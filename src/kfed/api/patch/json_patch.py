"""JSON patch (RFC 6902), `kubectl patch --type=json`."""

from __future__ import annotations

from typing import Any

import jsonpatch
import jsonpointer

from kfed.api.patch.errors import PatchError
from kfed.api.patch.json_values import json_copy
from kfed.model.resource import Obj

# kube-apiserver refuses larger patches; the same bound keeps one request from costing too much.
MAX_OPERATIONS = 10000


def apply_json_patch(obj: Obj, patch: Any) -> Obj:
    """Apply an RFC 6902 patch to a copy of `obj`; `obj` itself is left as it was.

    A body that is not a list of operations is a 400; an operation that does not apply
    (missing path, failed `test`, unknown op) is a 422, as kube-apiserver answers.
    """
    if not isinstance(patch, list):
        raise PatchError("json: cannot unmarshal object into Go value of type jsonpatch.Patch", 400)
    if len(patch) > MAX_OPERATIONS:
        raise PatchError(f"The allowed maximum operations in a JSON patch is {MAX_OPERATIONS}, got {len(patch)}")
    for index, op in enumerate(patch):
        if not isinstance(op, dict):
            raise PatchError(f"json patch operation {index} is not an object", 400)
        if "op" not in op:
            raise PatchError(f"Unexpected kind: missing op in operation {index}")
    doc = json_copy(obj)
    try:
        result = jsonpatch.JsonPatch(patch).apply(doc, in_place=True)
    except jsonpatch.JsonPatchTestFailed as exc:
        raise PatchError(f"testing value failed: {exc}") from None
    except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:
        raise PatchError(str(exc)) from None
    except (TypeError, KeyError, ValueError, IndexError, AttributeError) as exc:
        raise PatchError(f"json patch could not be applied: {exc}") from None
    if not isinstance(result, dict):
        raise PatchError("json patch produced a document that is not an object")
    return result
