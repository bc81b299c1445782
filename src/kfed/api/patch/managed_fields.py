"""metadata.managedFields: who owns which fields, and how ordinary writes change that.

Each entry is one field manager (the client's `fieldManager`, e.g. `kubectl-client-side-apply`,
`kubectl-edit`, `kubectl`) and one operation: `Apply` entries hold what that manager last applied
with server-side apply; `Update` entries hold what a manager changed with create/update/patch.
Entries are told apart as kube-apiserver does: Apply entries by (manager, subresource), Update
entries by (manager, apiVersion, subresource).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from kfed.api.patch.created_fields import created_fields_v1
from kfed.api.patch.fields import compare_fields
from kfed.api.patch.fieldset import FieldSet, field_pe
from kfed.api.patch.json_values import go_json
from kfed.model.resource import Obj

APPLY = "Apply"
UPDATE = "Update"
FIELDS_V1 = "FieldsV1"

# kube-apiserver folds the oldest Update entries into one bucket past this many.
MAX_UPDATE_MANAGERS = 10
ANCIENT_CHANGES_MANAGER = "ancient-changes"
BEFORE_FIRST_APPLY_MANAGER = "before-first-apply"

# Never owned by anyone: identity and bookkeeping fields the server sets (kube's stripMeta set).
_STRIPPED = FieldSet.from_paths([
    ("f:apiVersion",), ("f:kind",), ("f:metadata",),
    *[("f:metadata", field_pe(name)) for name in (
        "name", "namespace", "creationTimestamp", "selfLink", "uid", "clusterName", "generation",
        "managedFields", "resourceVersion")],
])

Identity = tuple[str, str, str, str]


@dataclass
class ManagedFieldsEntry:
    """One metav1.ManagedFieldsEntry, with its fields parsed."""

    manager: str
    operation: str
    api_version: str
    fields: FieldSet
    time: str | None = None
    subresource: str = ""

    @property
    def identity(self) -> Identity:
        # Appliers keep one entry whatever apiVersion they apply with.
        version = "" if self.operation == APPLY else self.api_version
        return (self.manager, self.operation, version, self.subresource)

    def identifier(self) -> str:
        """kube-apiserver's manager identifier (JSON of the identifying fields); sorts conflicts."""
        ident: Obj = {"manager": self.manager, "operation": self.operation}
        if self.operation != APPLY and self.api_version:
            ident["apiVersion"] = self.api_version
        if self.subresource:
            ident["subresource"] = self.subresource
        return go_json(ident)

    def printed(self) -> str:
        """The manager as kube names it in conflict messages: `"kubectl-client-side-apply" using v1`."""
        text = go_json(self.manager)
        if self.subresource:
            text += f" with subresource {go_json(self.subresource)}"
        if self.operation == UPDATE:
            text += f" using {self.api_version}"
        return text

    def to_dict(self) -> Obj:
        return entry_dict(self.manager, self.operation, self.api_version, self.time, self.fields.to_fields_v1(),
                          self.subresource)

    @classmethod
    def from_dict(cls, data: Any) -> ManagedFieldsEntry:
        """Parse one entry; ValueError when it is malformed."""
        if not isinstance(data, dict):
            raise ValueError("managedFields entry must be an object")
        fields_type = data.get("fieldsType", FIELDS_V1)
        if fields_type != FIELDS_V1:
            raise ValueError(f"unsupported fieldsType {fields_type!r}")
        operation = data.get("operation") or ""
        if operation not in (APPLY, UPDATE):
            raise ValueError(f"unsupported operation {operation!r}")
        time = data.get("time")
        return cls(
            manager=str(data.get("manager") or ""),
            operation=operation,
            api_version=str(data.get("apiVersion") or ""),
            fields=FieldSet.from_fields_v1(data.get("fieldsV1") or {}),
            time=str(time) if time is not None else None,
            subresource=str(data.get("subresource") or ""),
        )


Managers = dict[Identity, ManagedFieldsEntry]

# The tests turn this off to check the create shortcut against the general path.
_CREATE_SHORTCUT = True


def entry_dict(manager: str, operation: str, api_version: str, time: str | None, fields_v1: Obj,
               subresource: str = "") -> Obj:
    """One metav1.ManagedFieldsEntry as JSON, its keys in kube-apiserver's order."""
    entry: Obj = {"manager": manager, "operation": operation, "apiVersion": api_version}
    if time is not None:
        entry["time"] = time
    entry["fieldsType"] = FIELDS_V1
    entry["fieldsV1"] = fields_v1
    if subresource:
        entry["subresource"] = subresource
    return entry


def decode_managed_fields(entries: Any) -> Managers:
    """Parse metadata.managedFields; entries naming the same manager are merged. ValueError if malformed."""
    if entries is None:
        return {}
    if not isinstance(entries, list):
        raise ValueError("managedFields must be a list")
    managers: Managers = {}
    for raw in entries:
        entry = ManagedFieldsEntry.from_dict(raw)
        seen = managers.get(entry.identity)
        if seen is not None:
            seen.fields = seen.fields.union(entry.fields)
            seen.time = max(seen.time or "", entry.time or "") or None
        else:
            managers[entry.identity] = entry
    return managers


def encode_managed_fields(managers: Managers) -> list[Obj]:
    """The managedFields list, in kube-apiserver's order (Apply before Update, oldest first)."""
    entries = sorted(managers.values(), key=lambda e: (e.operation, e.time or "", e.manager, e.api_version,
                                                       e.subresource))
    return [entry.to_dict() for entry in entries if entry.fields]


def reset_field_set(reset_fields: Iterable[Sequence[str]]) -> FieldSet:
    """A set of field-name paths (`[("status",)]`) as a FieldSet of `f:` path elements."""
    return FieldSet.from_paths([tuple(field_pe(name) for name in path) for path in reset_fields])


def owned_only(fields: FieldSet, reset: FieldSet | None = None) -> FieldSet:
    """`fields` without what nobody owns: identity/bookkeeping metadata, and the reset fields
    (with everything under them), e.g. `status` on the main resource of a kind with /status."""
    out = fields.difference(_STRIPPED)
    if reset is not None and reset:
        out = out.recursive_difference(reset)
    return out


@lru_cache(maxsize=64)
def _shared_reset_set(reset_fields: tuple[tuple[str, ...], ...]) -> FieldSet:
    # shared between calls: only ever read
    return reset_field_set(reset_fields)


def _keep_owned(fields: FieldSet, reset: FieldSet) -> None:
    """owned_only, in place on a set nobody else holds."""
    fields.remove(_STRIPPED)
    if reset:
        fields.remove_recursive(reset)


def cap_update_managers(managers: Managers) -> None:
    """Fold the oldest Update entries into `ancient-changes` until at most MAX_UPDATE_MANAGERS remain."""
    updaters = [e for e in managers.values() if e.operation == UPDATE]
    if len(updaters) <= MAX_UPDATE_MANAGERS:
        return
    updaters.sort(key=lambda e: (e.time or "", e.identifier()))
    count = len(updaters)
    for entry in updaters:
        if count <= MAX_UPDATE_MANAGERS:
            break
        bucket_id: Identity = (ANCIENT_CHANGES_MANAGER, UPDATE, entry.api_version, "")
        if entry.identity == bucket_id:
            continue
        bucket = managers.get(bucket_id)
        del managers[entry.identity]
        if bucket is None:
            # the first old entry of this version becomes the bucket; nothing is folded yet
            managers[bucket_id] = ManagedFieldsEntry(ANCIENT_CHANGES_MANAGER, UPDATE, entry.api_version,
                                                     entry.fields, entry.time)
            continue
        bucket.fields = bucket.fields.union(entry.fields)
        bucket.time = entry.time
        count -= 1


def _is_reset(entries: Any) -> bool:
    # `managedFields: [{}]` clears ownership (kube's documented way to strip managedFields)
    return isinstance(entries, list) and len(entries) == 1 and entries[0] == {}


def _decode_or_empty(entries: Any) -> Managers:
    try:
        return decode_managed_fields(entries)
    except ValueError:
        return {}


def update_managed_fields(old: Obj | None, new: Obj, *, manager: str, operation: str = UPDATE, schema: Obj,
                          api_version: str, now: str, subresource: str = "",
                          reset_fields: Iterable[Sequence[str]] = ()) -> None:
    """Record in new.metadata.managedFields what an ordinary create/update/patch changed.

    `manager` takes ownership of every field whose value it added or changed; other managers lose
    those fields and every field that was removed; entries left empty are dropped. Managed fields
    the client sent in `new` are respected (a client may edit them), except on a subresource;
    `[{}]` clears them. `reset_fields` are field-name paths nobody owns on this endpoint, e.g.
    `[("status",)]` on the main resource of a kind with a status subresource.
    """
    meta = new.get("metadata")
    if not isinstance(meta, dict):
        meta = new["metadata"] = {}
    old_entries = (old.get("metadata") or {}).get("managedFields") if old is not None else None
    sent = meta.get("managedFields")
    if subresource:
        managers = _decode_or_empty(old_entries)
    elif _is_reset(sent):
        managers = {}
    else:
        managers = _decode_or_empty(sent)
        if not managers:
            managers = _decode_or_empty(old_entries)

    reset = _shared_reset_set(tuple(tuple(path) for path in reset_fields))
    if not old and not managers and _CREATE_SHORTCUT:
        # A create that nobody owns anything of yet: the writer owns every field it set.
        owned = created_fields_v1(new, schema, strip=_STRIPPED, reset=reset)
        if owned:
            meta["managedFields"] = [entry_dict(manager, operation, api_version, now, owned, subresource)]
        else:
            meta.pop("managedFields", None)
        return
    comparison = compare_fields(old, new, schema)
    # The comparison's sets are this call's own: trimmed in place rather than copied.
    changed = comparison.added.union(comparison.modified) if comparison.modified else comparison.added
    _keep_owned(changed, reset)
    removed = comparison.removed
    _keep_owned(removed, reset)
    if changed or removed:
        for entry in managers.values():
            entry.fields = entry.fields.difference(changed).difference(removed)
    if changed:
        identity: Identity = (manager, operation, "" if operation == APPLY else api_version, subresource)
        mine = managers.get(identity)
        if mine is None:
            managers[identity] = ManagedFieldsEntry(manager, operation, api_version, changed, now, subresource)
        else:
            mine.fields = mine.fields.union(changed)
            mine.api_version = api_version
            mine.time = now
    for identity in [i for i, e in managers.items() if not e.fields]:
        del managers[identity]
    cap_update_managers(managers)
    set_managed_fields(new, managers)


def set_managed_fields(obj: Obj, managers: Managers) -> None:
    """Write `managers` into obj.metadata.managedFields (removing the key when there are none)."""
    meta = obj.setdefault("metadata", {})
    encoded = encode_managed_fields(managers)
    if encoded:
        meta["managedFields"] = encoded
    else:
        meta.pop("managedFields", None)
