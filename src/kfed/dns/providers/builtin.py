"""The builtin provider: record sets as DNSRecordSet objects in the federation API.

kfed's own authoritative server (kfed.dns.server, fed by kfed.controllers.zonesource) serves
whatever DNSRecordSet objects hold, so this provider only writes objects; it reaches the API
through an injected `RecordSetStore`, which the controller layer wires to the federation API (and
tests to an in-memory twin).

One object per owner (a federated Service) and zone, holding all of its names, as ExternalDNS's
DNSEndpoint does (federation.kfed.io/v1beta1, cluster-scoped; see kfed.dns.recordsets):

```yaml
metadata:
  name: nginx.mynamespace.myfederation         # <service>.<namespace>.<federation>, else hashed
  labels: {app.kubernetes.io/managed-by: kfed, federation.kfed.io/federation: myfederation}
  annotations: {federation.kfed.io/dns-owner: "heritage=kfed,federation=myfederation,owner=mynamespace/nginx"}
spec:
  zone: example.com.
  records:
  - {name: nginx.mynamespace.myfederation.svc.example.com., type: A, ttl: 180, data: [104.197.247.191]}
  - {name: nginx.mynamespace.myfederation.svc.us-central1-a.example.com., type: CNAME, ttl: 180,
     data: [nginx.mynamespace.myfederation.svc.us-central1.example.com.]}
```

The object's name is `dnsrecordset-<hash of owner and zone>` instead when the readable one is not a
valid object name, or is already taken by another object (someone else's, or the same Service's in
another zone).

Ownership is the object's labels and annotation rather than TXT records: listing shows the plan a
`_kfed-owner.<name>` marker for every name a kfed object serves, and applying folds the markers
back into the object's owner. An object without kfed's label (or owner annotation) is someone
else's, with one name or many: its names are listed (so the plan sees them taken) and the object
is never changed. When several objects hold a name, the one that serves it (the oldest: see
kfed.dns.recordsets) is what listing shows; a kfed object that holds a name another object serves
drops that name the next time kfed writes it.

Writes: `apply` gets a batch of per-name changes and groups them by object, then reads, changes
and writes each object once (create when new, update with its resourceVersion for optimistic
concurrency, delete when its last record goes). Objects are written concurrently, at most
`max_in_flight` at a time (32 by default); with `requests_per_second` set, the object writes are
paced to that rate (for a federation API shared with other heavy writers), else unpaced: the API
server is kfed's own, not a metered cloud API. Batches are not split for this provider, so a pass
of the DNS controller writes each Service's object once; a 429 or 5xx answer is retried with
backoff by the applier, and a retried batch writes only the objects not yet written. A name moving
between objects is written into its new object before it leaves the old one, so it is always
served. What the provider remembers of each object is small: its resourceVersion, creation time,
records and any labels or annotations not kfed's, not the object the API server returned.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import sys
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from kfed.dns.names import absolute
from kfed.dns.plan import OWNER_TTL, Action, Change, Owner, owned_name_of, registry_name
from kfed.dns.providers.base import ProviderError, ProviderLimits
from kfed.dns.providers.ratelimit import TokenBucket
from kfed.dns.records import DEFAULT_TTL, RecordSet, RecordType
from kfed.dns.recordsets import API_VERSION, KIND, NameHolders, spec_records

Obj = dict[str, Any]
T = TypeVar("T")

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "kfed"
FEDERATION_LABEL = "federation.kfed.io/federation"
OWNER_ANNOTATION = "federation.kfed.io/dns-owner"
DEFAULT_MAX_IN_FLIGHT = 32
HASHED_PREFIX = "dnsrecordset-"

__all__ = ["API_VERSION", "DEFAULT_MAX_IN_FLIGHT", "FEDERATION_LABEL", "KIND", "MANAGED_BY", "MANAGED_BY_LABEL",
           "OWNER_ANNOTATION", "BuiltinProvider", "ObjectWrites", "RecordSetConflict", "RecordSetStore",
           "RecordSetStoreUnavailable", "object_names"]

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_KFED_LABELS = (MANAGED_BY_LABEL, FEDERATION_LABEL)


class RecordSetConflict(Exception):
    """What a store raises when an object changed or appeared under it (HTTP 409, or 404 on update)."""


class RecordSetStoreUnavailable(Exception):
    """What a store raises when the API could not be reached or did not answer in time: retry."""


class RecordSetStore(Protocol):
    """DNSRecordSet objects, as plain dicts, in some API. Errors carrying an HTTP `status`
    attribute are classified by it; `RecordSetConflict` means the zone must be listed again.
    Listed and written objects need metadata.name, resourceVersion and creationTimestamp."""

    async def list(self) -> list[Obj]:
        """Every object (a new list: the provider empties it as it reads it)."""
        ...

    async def create(self, obj: Obj) -> Obj: ...

    async def update(self, obj: Obj) -> Obj: ...

    async def delete(self, name: str) -> None: ...


def object_names(owner: Owner, zone: str) -> tuple[str, ...]:
    """The names an owner's object in `zone` may take, first choice first: the readable
    `<service>.<namespace>.<federation>` when it is a valid object name, then a hash of owner and zone."""
    hashed = HASHED_PREFIX + hashlib.sha256(f"{owner.txt()}\n{absolute(zone)}".encode()).hexdigest()[:40]
    readable = f"{owner.service}.{owner.namespace}.{owner.federation}"
    labels = readable.split(".")
    # Service and namespace names hold no dot, so the readable name is one owner's alone.
    if (len(readable) <= 253 and len(labels) >= 3 and all(_DNS1123_LABEL.match(label) for label in labels)
            and not readable.startswith(HASHED_PREFIX)):
        return (readable, hashed)
    return (hashed,)


def _store_error(what: str, err: Exception) -> ProviderError:
    if isinstance(err, RecordSetConflict):
        return ProviderError(f"{what}: {err}", retryable=False, replan=True)
    status = getattr(err, "status", None)
    if isinstance(status, int):
        if status in (404, 409, 410):
            return ProviderError(f"{what}: {status} {err}", retryable=False, replan=True)
        if status == 429:
            return ProviderError(f"{what}: {status} {err}", retryable=True, throttled=True)
        if status >= 500:
            return ProviderError(f"{what}: {status} {err}", retryable=True)
        return ProviderError(f"{what}: {status} {err}", retryable=False)
    if isinstance(err, RecordSetStoreUnavailable):
        return ProviderError(f"{what}: {err}", retryable=True)
    if isinstance(err, OSError | TimeoutError):
        return ProviderError(f"{what}: {err!r}", retryable=True)
    return ProviderError(f"{what}: {err!r}", retryable=False)


def _owner_of(obj: Obj) -> str | None:
    """The owner text of an object kfed manages, None for anyone else's object."""
    meta = obj.get("metadata") or {}
    if (meta.get("labels") or {}).get(MANAGED_BY_LABEL) != MANAGED_BY:
        return None
    text = (meta.get("annotations") or {}).get(OWNER_ANNOTATION)
    if not text or Owner.parse(str(text)) is None:
        return None
    return sys.intern(str(text))  # one string for all the objects and names of a Service


def _marker_owner(marker: RecordSet) -> str | None:
    """The owner text a marker set names (unquoted, as the annotation holds it), None if none."""
    if len(marker.data) != 1 or Owner.parse(marker.data[0]) is None:
        return None
    return sys.intern(marker.data[0].strip('"'))


def _sort_key(record: RecordSet) -> tuple[str, str]:
    return record.key


@dataclass(slots=True)
class _Known:
    """What the provider remembers of one object: enough to list it and to write it again."""

    zone: str
    resource_version: str
    created: str  # metadata.creationTimestamp: which object serves a name several hold
    records: tuple[RecordSet, ...]  # sorted by (name, type)
    owner: str | None  # the owner text of an object kfed manages
    labels: dict[str, str] | None  # labels other than kfed's own, kept as they were
    annotations: dict[str, str] | None  # likewise

    @classmethod
    def of(cls, obj: Obj) -> _Known:
        meta = obj.get("metadata") or {}
        owner = _owner_of(obj)
        labels = dict(meta.get("labels") or {})
        annotations = dict(meta.get("annotations") or {})
        if owner is not None:
            for key in _KFED_LABELS:
                labels.pop(key, None)
            annotations.pop(OWNER_ANNOTATION, None)
        records = {}
        for name, rtype, ttl, data in spec_records(obj):
            record = RecordSet(name, rtype, DEFAULT_TTL if ttl is None else ttl, tuple(str(d) for d in data))
            records[record.key] = record
        return cls(absolute(str((obj.get("spec") or {}).get("zone", ""))), str(meta.get("resourceVersion") or ""),
                   str(meta.get("creationTimestamp") or ""), tuple(sorted(records.values(), key=_sort_key)),
                   owner, labels or None, annotations or None)

    def names(self) -> Iterator[str]:
        last = None
        for record in self.records:
            if record.name != last:
                last = record.name
                yield last

    def by_name(self) -> dict[str, dict[str, RecordSet]]:
        out: dict[str, dict[str, RecordSet]] = {}
        for record in self.records:
            out.setdefault(record.name, {})[record.type] = record
        return out


@dataclass(slots=True)
class _State:
    """Every object as of the last listing, with each write folded in."""

    objects: dict[str, _Known] = field(default_factory=dict)
    holders: dict[str, NameHolders] = field(default_factory=dict)  # by zone
    primary: dict[tuple[str, str], str] = field(default_factory=dict)  # (owner, zone) -> its object
    claimed: dict[str, tuple[str, str]] = field(default_factory=dict)  # object -> (owner, zone)

    def zone_holders(self, zone: str) -> NameHolders:
        holders = self.holders.get(zone)
        if holders is None:
            holders = self.holders[zone] = NameHolders()
        return holders

    def remember(self, key: str, known: _Known) -> None:
        before = self.objects.get(key)
        holders = self.zone_holders(known.zone)
        if before is not None:
            gone = set(before.names()).difference(known.names())
            self.zone_holders(before.zone).release(key, gone)
        holders.hold(key, (known.created, key), known.names())
        self.objects[key] = known
        if known.owner is not None and known.records:
            self.claim(key, known.owner, known.zone)

    def forget(self, key: str) -> None:
        before = self.objects.pop(key, None)
        if before is not None:
            holders = self.zone_holders(before.zone)
            holders.release(key, before.names())
            holders.forget(key)
        claim = self.claimed.pop(key, None)
        if claim is not None and self.primary.get(claim) == key:
            del self.primary[claim]

    def claim(self, key: str, owner: str, zone: str) -> None:
        self.claimed[key] = (owner, zone)
        current = self.primary.get((owner, zone))
        if current is None or (current != key and key < current):
            self.primary[(owner, zone)] = key  # several (made by hand, say): the first by name


@dataclass
class ObjectWrites:
    """DNSRecordSet writes the provider made; they only grow."""

    creates: int = 0
    updates: int = 0
    deletes: int = 0

    @property
    def total(self) -> int:
        return self.creates + self.updates + self.deletes


@dataclass(slots=True)
class _NameEdit:
    """One name's records in a batch: where they are, what they become, and whose they are."""

    source: str | None  # the kfed object serving the name now
    records: dict[str, RecordSet]
    owner: str | None


class BuiltinProvider:
    name = "builtin"

    def __init__(self, store: RecordSetStore, *, requests_per_second: float | None = None,
                 max_in_flight: int = DEFAULT_MAX_IN_FLIGHT) -> None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self.store = store
        self.max_in_flight = max_in_flight
        # One batch is a whole plan (a pass of the DNS controller): an owner's names never straddle
        # two batches, so its object is written once. The pacing that matters is of object
        # writes, below; the applier's own bucket then only spaces listings and retries.
        self.limits = ProviderLimits(max_records=sys.maxsize, max_chars=sys.maxsize,
                                     requests_per_second=1000.0, burst=1000)
        self._pace = TokenBucket(requests_per_second) if requests_per_second else None
        self.writes = ObjectWrites()
        self._state: _State | None = None

    async def _load(self) -> _State:
        try:
            items = await self.store.list()
        except Exception as err:  # noqa: BLE001 - classified for the applier
            raise _store_error("listing DNSRecordSets", err) from err
        state = _State()
        items.reverse()
        while items:  # each object goes as soon as it is remembered: a listing can be large
            obj = items.pop()
            state.remember(str(obj["metadata"]["name"]), _Known.of(obj))
        self._state = state
        return state

    async def list_records(self, zone: str) -> list[RecordSet]:
        """Every name's records as the object serving it holds them, and kfed's marker at each
        name a kfed object serves."""
        zone = absolute(zone)
        state = await self._load()
        holders = state.zone_holders(zone)
        out: list[RecordSet] = []
        for key, known in state.objects.items():
            if known.zone != zone:
                continue
            last, serves = None, False
            for record in known.records:
                if record.name != last:
                    last = record.name
                    serves = holders.winner(last) == key
                    if serves and known.owner is not None:
                        out.append(RecordSet(registry_name(last), RecordType.TXT, OWNER_TTL, (f'"{known.owner}"',)))
                if serves:
                    out.append(record)
        return sorted(out, key=_sort_key)

    async def apply(self, zone: str, batch: Sequence[Change]) -> None:
        state = self._state if self._state is not None else await self._load()
        zone = absolute(zone)
        edits = self._edits(state, zone, batch)
        # Objects that gain or change names first, then those that only lose names: a name moving
        # between objects is served by one of them throughout.
        gaining = [(key, names) for key, names in edits.items() if any(v is not None for v in names.values())]
        losing = [(key, names) for key, names in edits.items() if all(v is None for v in names.values())]
        for group in (gaining, losing):
            await self._write_all(state, zone, group)

    def _edits(self, state: _State, zone: str,
               batch: Sequence[Change]) -> dict[str, dict[str, tuple[RecordSet, ...] | None]]:
        """Per object, the names it gets (their records) or loses (None)."""
        holders = state.zone_holders(zone)
        names: dict[str, _NameEdit] = {}
        by_name: dict[str, dict[str, dict[str, RecordSet]]] = {}  # object -> name -> type -> its set
        for change in batch:
            marker_for = owned_name_of(change.record)
            name = marker_for or change.record.name
            edit = names.get(name)
            if edit is None:
                source = holders.winner(name)
                current = state.objects.get(source) if source is not None else None
                if current is None or current.owner is None:
                    edit = names[name] = _NameEdit(None, {}, None)  # someone else's, or nobody's
                else:
                    assert source is not None
                    sets = by_name.get(source)
                    if sets is None:  # once per object, not once per name: a Service has dozens
                        sets = by_name[source] = current.by_name()
                    edit = names[name] = _NameEdit(source, dict(sets.get(name, {})), current.owner)
            if marker_for is not None:
                edit.owner = None if change.action is Action.DELETE else _marker_owner(change.record)
            elif change.action is Action.DELETE:
                edit.records.pop(change.record.type, None)
            else:
                edit.records[change.record.type] = change.record
        edits: dict[str, dict[str, tuple[RecordSet, ...] | None]] = {}
        for name, edit in names.items():
            target = None
            if edit.records and edit.owner is not None:  # records without an owner: none of kfed's
                holder = state.objects.get(edit.source) if edit.source is not None else None
                if holder is not None and holder.owner == edit.owner:
                    target = edit.source
                else:
                    target = self._object_for(state, edit.owner, zone)
            if edit.source is not None and edit.source != target:
                edits.setdefault(edit.source, {})[name] = None
            if target is not None:
                edits.setdefault(target, {})[name] = tuple(sorted(edit.records.values(), key=_sort_key))
        return edits

    @staticmethod
    def _object_for(state: _State, owner: str, zone: str) -> str:
        """The object an owner's names in `zone` go into: its own, or a free name for a new one."""
        key = state.primary.get((owner, zone))
        if key is not None:
            return key
        parsed = Owner.parse(owner)
        assert parsed is not None  # owner texts are only taken from markers that parse
        for key in object_names(parsed, zone):
            if key not in state.objects and key not in state.claimed:
                state.claim(key, owner, zone)
                return key
        raise ProviderError(f"no free DNSRecordSet name for {parsed} in {zone}: "
                            f"{', '.join(object_names(parsed, zone))} are someone else's", retryable=False)

    async def _write_all(self, state: _State, zone: str,
                         group: list[tuple[str, dict[str, tuple[RecordSet, ...] | None]]]) -> None:
        pending = iter(group)
        failures: list[ProviderError] = []

        async def writer() -> None:
            # Writers share one iterator: each takes the next object as it finishes one. After a
            # failure no new write starts; those in flight finish, so `state` stays true.
            for key, names in pending:
                if failures:
                    return
                try:
                    await self._write(state, zone, key, names)
                except ProviderError as err:
                    failures.append(err)
                    return

        await asyncio.gather(*(writer() for _ in range(min(self.max_in_flight, len(group)))))
        if failures:
            raise failures[0]

    async def _write(self, state: _State, zone: str, key: str, names: dict[str, tuple[RecordSet, ...] | None]) -> None:
        current = state.objects.get(key)
        holders = state.zone_holders(zone)
        if current is not None:
            owner = current.owner
        else:
            owner = state.claimed[key][0]
        records: list[RecordSet] = []
        if current is not None:
            last, keep = None, False
            for record in current.records:
                if record.name != last:
                    last = record.name
                    # Names this batch sets are replaced below; names another object serves are dropped.
                    keep = last not in names and holders.winner(last) == key
                if keep:
                    records.append(record)
        for sets in names.values():
            if sets:
                records.extend(sets)
        records.sort(key=_sort_key)
        new = tuple(records)
        try:
            if not new:
                if current is not None:
                    await self._paced(lambda: self.store.delete(key))
                    self.writes.deletes += 1
                state.forget(key)
                return
            if current is not None and current.records == new and current.zone == zone:
                return  # already so: this batch is being tried again after a retryable error
            desired = self._object(zone, key, new, owner, current)
            if current is None:
                written = await self._paced(lambda: self.store.create(desired))
                self.writes.creates += 1
            else:
                written = await self._paced(lambda: self.store.update(desired))
                self.writes.updates += 1
        except Exception as err:  # noqa: BLE001 - classified for the applier
            error = _store_error(f"writing DNSRecordSet {key}", err)
            if not error.retryable:
                self._state = None  # whatever we thought the objects were, list them again
            raise error from err
        meta = (written or {}).get("metadata") or {}
        created = current.created if current is not None else str(meta.get("creationTimestamp") or "")
        state.remember(key, _Known(zone, str(meta.get("resourceVersion") or ""), created, new, owner,
                                   current.labels if current is not None else None,
                                   current.annotations if current is not None else None))

    async def _paced(self, write: Callable[[], Awaitable[T]]) -> T:
        if self._pace is not None:
            await self._pace.acquire()
        return await write()

    @staticmethod
    def _object(zone: str, key: str, records: tuple[RecordSet, ...], owner: str | None,
                current: _Known | None) -> Obj:
        meta: Obj = {"name": key}
        labels = dict(current.labels or {}) if current is not None else {}
        annotations = dict(current.annotations or {}) if current is not None else {}
        if owner is not None:
            parsed = Owner.parse(owner)
            labels[MANAGED_BY_LABEL] = MANAGED_BY
            if parsed is not None:
                labels[FEDERATION_LABEL] = parsed.federation
            annotations[OWNER_ANNOTATION] = owner
        if labels:
            meta["labels"] = labels
        if annotations:
            meta["annotations"] = annotations
        if current is not None and current.resource_version:
            meta["resourceVersion"] = current.resource_version  # optimistic concurrency
        return {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "metadata": meta,
            "spec": {
                "zone": zone,
                "records": [{"name": r.name, "type": r.type, "ttl": r.ttl, "data": list(r.data)} for r in records],
            },
        }

    async def close(self) -> None:
        return None

