"""Server-side apply (`kubectl apply --server-side`, PATCH with application/apply-patch+yaml).

The applied configuration is the manager's whole intent: it is merged into the live object, the
manager's Apply entry becomes exactly the configuration's fields, fields it applied before and no
longer applies are removed unless someone else owns them, and changing a value another manager
owns is a conflict (unless forced, which takes the field over).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from kfed.api.patch.errors import ApplyConflict, PatchError
from kfed.api.patch.fields import compare_fields, fields_of, without_managed_fields
from kfed.api.patch.fieldset import FieldSet, path_string
from kfed.api.patch.json_values import go_json
from kfed.api.patch.managed_fields import (
    APPLY,
    BEFORE_FIRST_APPLY_MANAGER,
    UPDATE,
    ManagedFieldsEntry,
    Managers,
    cap_update_managers,
    decode_managed_fields,
    owned_only,
    reset_field_set,
    set_managed_fields,
)
from kfed.api.patch.structured_merge import drop_unset_fields, merge_applied, paths_to_prune, remove_paths
from kfed.model.resource import Obj

LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"
# kube-apiserver keeps the client-side apply annotation in step only for kubectl's own applies.
_LAST_APPLIED_SYNC_MANAGER = "kubectl"
_MAX_ANNOTATION_BYTES = 256 * 1024
_KEEP = FieldSet.from_paths([("f:apiVersion",), ("f:kind",), ("f:metadata", "f:name")])


def server_side_apply(live: Obj | None, applied: Obj, *, manager: str, schema: Obj, force: bool,
                      api_version: str, now: str, subresource: str = "",
                      reset_fields: Iterable[Sequence[str]] = ()) -> Obj:
    """Apply `applied` as `manager` onto `live` (None to create); return the new object.

    Neither argument is modified. The result carries the updated metadata.managedFields.
    Raises ApplyConflict (409) when the configuration changes fields other managers own and
    `force` is false, PatchError for a configuration server-side apply refuses (list items
    without their keys, duplicate items, managedFields set). The caller still applies the kind's
    rules (immutable fields, status reset, defaulting, validation) as for any update.
    """
    meta = applied.get("metadata")
    if isinstance(meta, dict) and meta.get("managedFields") is not None:
        raise PatchError("metadata.managedFields must be nil", 400)

    reset = reset_field_set(reset_fields)
    config_fields = fields_of(applied, schema, strict=True).recursive_difference(reset)
    config_set = owned_only(config_fields)

    live_plain = without_managed_fields(live) if live is not None else {}
    managers = _live_managers(live, live_plain, schema, api_version, now, reset)

    merged = merge_applied(live_plain, applied, schema)

    identity = (manager, APPLY, "", subresource)
    last = managers.get(identity)
    managers[identity] = ManagedFieldsEntry(manager, APPLY, api_version, config_set,
                                            last.time if last is not None else None, subresource)
    if last is not None and last.fields:
        # Pruning sees the configuration's fields before identity metadata is stripped from them
        # (as structured-merge-diff does), so metadata itself always counts as applied.
        owned = config_fields.union(_KEEP)
        for other_identity, entry in managers.items():
            if other_identity != identity:
                owned = owned.union(entry.fields)
        remove_paths(merged, paths_to_prune(last.fields, owned, schema), schema)

    comparison = compare_fields(live_plain, merged, schema)
    changed = owned_only(comparison.changed(), reset)
    removed = owned_only(comparison.removed, reset)
    # a field the configuration sets to null is removed from the object but still "changed" by it
    contested = changed.union(removed.intersection(config_set))

    conflicts: list[tuple[ManagedFieldsEntry, FieldSet]] = []
    for other_identity, entry in managers.items():
        if other_identity == identity:
            continue
        clash = entry.fields.intersection(contested)
        if clash:
            conflicts.append((entry, clash))
    if conflicts and not force:
        raise _conflict_error(conflicts)
    for entry, clash in conflicts:
        entry.fields = entry.fields.difference(clash)
    if removed:
        for other_identity, entry in managers.items():
            if other_identity != identity:
                entry.fields = entry.fields.difference(removed)

    drop_unset_fields(merged, schema)
    changed_object = merged != live_plain
    entry = managers[identity]
    if changed_object or entry.time is None:
        entry.time = now
    for dropped in [i for i, e in managers.items() if not e.fields]:
        del managers[dropped]
    cap_update_managers(managers)

    if manager == _LAST_APPLIED_SYNC_MANAGER:
        _sync_last_applied(merged, applied)
    set_managed_fields(merged, managers)
    return merged


def _live_managers(live: Obj | None, live_plain: Obj, schema: Obj, api_version: str, now: str,
                   reset: FieldSet) -> Managers:
    if live is None:
        return {}
    try:
        managers = decode_managed_fields((live.get("metadata") or {}).get("managedFields"))
    except ValueError:
        managers = {}
    if not managers:
        # An object nobody has recorded ownership for yet: everything in it belongs to a
        # stand-in manager, so the first apply conflicts where it would change existing values.
        existing = owned_only(compare_fields(None, live_plain, schema).changed(), reset)
        if existing:
            entry = ManagedFieldsEntry(BEFORE_FIRST_APPLY_MANAGER, UPDATE, api_version, existing, now)
            managers[entry.identity] = entry
    return managers


def _conflict_error(conflicts: list[tuple[ManagedFieldsEntry, FieldSet]]) -> ApplyConflict:
    details: list[tuple[str, str, str]] = []
    for entry, clash in sorted(conflicts, key=lambda c: c[0].identifier()):
        details.extend((entry.identifier(), entry.printed(), path_string(path)) for path in clash.paths())
    return ApplyConflict(details)


def _sync_last_applied(merged: Obj, applied: Obj) -> None:
    """Keep kubectl's client-side apply annotation in step, as kube-apiserver does for `kubectl`,
    so a later client-side `kubectl apply` diffs against what was really applied."""
    annotations = (merged.get("metadata") or {}).get("annotations")
    if not isinstance(annotations, dict) or LAST_APPLIED_ANNOTATION not in annotations:
        return
    config = dict(applied)
    config_meta = dict(config.get("metadata") or {})
    config_annotations = {k: v for k, v in (config_meta.get("annotations") or {}).items()
                          if k != LAST_APPLIED_ANNOTATION}
    if config_annotations:
        config_meta["annotations"] = config_annotations
    else:
        config_meta.pop("annotations", None)
    config["metadata"] = config_meta
    value = go_json(config, sort_keys=True) + "\n"
    if len(value.encode()) > _MAX_ANNOTATION_BYTES:
        del annotations[LAST_APPLIED_ANNOTATION]
    else:
        annotations[LAST_APPLIED_ANNOTATION] = value
