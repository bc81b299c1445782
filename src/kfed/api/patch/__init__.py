"""The patch engines of the API server: pure functions over JSON objects, no I/O.

- JSON patch (RFC 6902) and JSON merge patch (RFC 7386);
- strategic merge patch (kubectl patch/edit and client-side apply), driven by the schema's
  x-kubernetes-patch-strategy / x-kubernetes-patch-merge-key;
- server-side apply and field ownership (metadata.managedFields), driven by the schema's
  x-kubernetes-list-type / list-map-keys / map-type, as structured-merge-diff does it.

None of them modifies its arguments; results share no containers with them.
"""

from kfed.api.patch.errors import ApplyConflict, PatchError
from kfed.api.patch.fields import Comparison, compare_fields, fields_of
from kfed.api.patch.fieldset import FieldSet, path_string
from kfed.api.patch.json_patch import apply_json_patch
from kfed.api.patch.managed_fields import (
    ManagedFieldsEntry,
    decode_managed_fields,
    encode_managed_fields,
    update_managed_fields,
)
from kfed.api.patch.merge_patch import apply_merge_patch, create_merge_patch
from kfed.api.patch.server_side_apply import LAST_APPLIED_ANNOTATION, server_side_apply
from kfed.api.patch.strategic import apply_strategic_merge_patch

__all__ = [
    "LAST_APPLIED_ANNOTATION",
    "ApplyConflict",
    "Comparison",
    "FieldSet",
    "ManagedFieldsEntry",
    "PatchError",
    "apply_json_patch",
    "apply_merge_patch",
    "apply_strategic_merge_patch",
    "compare_fields",
    "create_merge_patch",
    "decode_managed_fields",
    "encode_managed_fields",
    "fields_of",
    "path_string",
    "server_side_apply",
    "update_managed_fields",
]
