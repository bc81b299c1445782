"""metadata.managedFields: who owns which fields, and how ordinary writes change that.

Each entry is one field manager (the client's `fieldManager`, e.g. `kubectl-client-side-apply`,
`kubectl-edit`, `kubectl`) and one operation: `Apply` entries hold what that manager last applied
with server-side apply; `Update` entries hold what a manager changed with create/update/patch.
Entries are told apart as kube-apiserver does: Apply entries by (manager, subresource), Update
entries by (manager, apiVersion, subresource).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import orjson

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
    # The FieldsV1 dict `fields` was read from, when it is exactly what fields.to_fields_v1() writes:
    # while `fields` is still that set (same object), writing the entry back reuses the dict.
    # Writes leave most entries' sets alone, and re-encoding them was a good part of every update.
    encoded: tuple[FieldSet, Obj] | None = field(default=None, compare=False, repr=False)

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

    def fields_v1(self) -> Obj:
        """The FieldsV1 of `fields`: the dict it was read from while the set is unchanged (shared:
        FieldsV1 dicts are never modified in place), else a new encoding."""
        encoded = self.encoded
        if encoded is not None and encoded[0] is self.fields:
            return encoded[1]
        return self.fields.to_fields_v1()

    def to_dict(self) -> Obj:
        return entry_dict(self.manager, self.operation, self.api_version, self.time, self.fields_v1(),
                          self.subresource)

    @classmethod
    def from_dict(cls, data: Any, *, shared: bool = False) -> ManagedFieldsEntry:
        """Parse one entry; ValueError when it is malformed.

        `shared`: the entry's FieldSet may be one also handed to other callers (parsed once for
        equal FieldsV1): the caller replaces `fields`, never modifies it in place.
        """
        if not isinstance(data, dict):
            raise ValueError("managedFields entry must be an object")
        fields_type = data.get("fieldsType", FIELDS_V1)
        if fields_type != FIELDS_V1:
            raise ValueError(f"unsupported fieldsType {fields_type!r}")
        operation = data.get("operation") or ""
        if operation not in (APPLY, UPDATE):
            raise ValueError(f"unsupported operation {operation!r}")
        time = data.get("time")
        raw = data.get("fieldsV1") or {}
        fields, canonical = _parse_shared(raw) if shared else FieldSet.parse_fields_v1(raw)
        return cls(
            manager=str(data.get("manager") or ""),
            operation=operation,
            api_version=str(data.get("apiVersion") or ""),
            fields=fields,
            time=str(time) if time is not None else None,
            subresource=str(data.get("subresource") or ""),
            encoded=(fields, raw) if canonical and _UNCHANGED_SHORTCUTS else None,
        )


Managers = dict[Identity, ManagedFieldsEntry]

# The tests turn these off to check the shortcuts against the general path: the create shortcut,
# and on updates the reuse of unchanged entries (their parsed sets and FieldsV1 dicts).
_CREATE_SHORTCUT = True
_UNCHANGED_SHORTCUTS = True


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


@lru_cache(maxsize=4096)
def _parsed(fields_v1_json: bytes) -> tuple[FieldSet, bool]:
    # shared by every caller that reads the same FieldsV1: see _parse_shared
    return FieldSet.parse_fields_v1(orjson.loads(fields_v1_json))


def _parse_shared(raw: Any) -> tuple[FieldSet, bool]:
    """FieldSet.parse_fields_v1, remembered by the JSON text (key order included, so canonical
    too): the same few FieldsV1 come back on every write of every object of a kind, and one
    orjson.dumps costs far less than walking them. The set is shared: read it, never change it."""
    try:
        text = orjson.dumps(raw)
    except TypeError:  # not JSON (a YAML body's odd keys): parsed as it is, with its own errors
        return FieldSet.parse_fields_v1(raw)
    return _parsed(text)


def decode_managed_fields(entries: Any, *, shared: bool = False) -> Managers:
    """Parse metadata.managedFields; entries naming the same manager are merged. ValueError if malformed.

    `shared`: as for ManagedFieldsEntry.from_dict (entries' sets replaced, never modified in place).
    """
    if entries is None:
        return {}
    if not isinstance(entries, list):
        raise ValueError("managedFields must be a list")
    managers: Managers = {}
    for raw in entries:
        entry = ManagedFieldsEntry.from_dict(raw, shared=shared)
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
        # update_managed_fields only ever replaces an entry's set: shared parses are safe here
        return decode_managed_fields(entries, shared=_UNCHANGED_SHORTCUTS)
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

    Entries this write leaves alone keep the FieldsV1 dicts they were read from (old's, or those
    the client sent), shared rather than rebuilt: FieldsV1 dicts are never modified in place.
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
    # The comparison's sets are this call's own: merged and trimmed in place rather than copied.
    changed = comparison.added
    if comparison.modified:
        changed.add_all(comparison.modified, take=True)
    _keep_owned(changed, reset)
    removed = comparison.removed
    _keep_owned(removed, reset)
    if changed or removed:
        for entry in managers.values():
            # An entry that owns none of it keeps its very set (and with it its encoded FieldsV1).
            if not _UNCHANGED_SHORTCUTS or entry.fields.intersects(changed) or entry.fields.intersects(removed):
                rest = entry.fields.difference(changed)  # a new set: trimmed further in place
                rest.remove(removed)
                entry.fields = rest
    if changed:
        identity: Identity = (manager, operation, "" if operation == APPLY else api_version, subresource)
        mine = managers.get(identity)
        if mine is None:
            managers[identity] = ManagedFieldsEntry(manager, operation, api_version, changed, now, subresource)
        else:
            # changed is not needed any more: it becomes the union (mine.fields may be shared)
            changed.add_all(mine.fields)
            mine.fields = changed
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
