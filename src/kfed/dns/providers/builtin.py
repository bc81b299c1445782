"""The builtin provider: record sets as DNSRecordSet objects in the federation API.

kfed's own authoritative server (kfed.dns.server) serves whatever DNSRecordSet objects hold, so
this provider only writes objects; it reaches the API through an injected `RecordSetStore`, which
the controller layer wires to the federation API (and tests to an in-memory twin).

One object per owner name (federation.kfed.io/v1beta1, cluster-scoped):

```yaml
metadata:
  name: nginx.mynamespace.myfederation.svc.us-central1-a.example.com   # the DNS name, when valid
  labels: {app.kubernetes.io/managed-by: kfed, federation.kfed.io/federation: myfederation}
  annotations: {federation.kfed.io/dns-owner: "heritage=kfed,federation=myfederation,owner=mynamespace/nginx"}
spec:
  zone: example.com.
  name: nginx.mynamespace.myfederation.svc.us-central1-a.example.com.
  records: [{type: A, ttl: 180, data: [104.197.247.191]}]
```

Ownership is the object's labels and annotation rather than a TXT record: the plan's
`_kfed-owner.<name>` markers are shown to it as TXT record sets when listing, and folded back into
the object of `<name>` when applying. An object without kfed's label is someone else's: its
records are listed (so the plan sees the name taken) and never changed. (kfed's DNS server serves
the objects' records only, so the markers do not show in the served zone; `kfed dns records
--show-ownership` shows them from this provider's listing.)

Throughput: a batch's names are independent objects, so they are written concurrently, at most
`max_in_flight` at a time (32 by default): 56,000 objects one after another would take minutes
however fast the API server is. The API server is kfed's own, not a metered cloud API, so
batches are not paced by a request rate (`requests_per_second` only applies when set); a 429
or 5xx answer is retried with backoff by the applier, and a retried batch only writes the names
not yet written. What the provider remembers of each object is small (its resourceVersion,
records and any labels or annotations not kfed's), not the object the API server returned.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from kfed.dns.names import absolute, relative
from kfed.dns.plan import OWNER_TTL, Action, Change, Owner, owned_name_of, registry_name
from kfed.dns.providers.base import ProviderError, ProviderLimits
from kfed.dns.records import DEFAULT_TTL, RecordSet, RecordType

Obj = dict[str, Any]

API_VERSION = "federation.kfed.io/v1beta1"
KIND = "DNSRecordSet"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "kfed"
FEDERATION_LABEL = "federation.kfed.io/federation"
OWNER_ANNOTATION = "federation.kfed.io/dns-owner"

_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


class RecordSetConflict(Exception):
    """What a store raises when an object changed or appeared under it (HTTP 409, or 404 on update)."""


class RecordSetStoreUnavailable(Exception):
    """What a store raises when the API could not be reached or did not answer in time: retry."""


class RecordSetStore(Protocol):
    """DNSRecordSet objects, as plain dicts, in some API. Errors carrying an HTTP `status`
    attribute are classified by it; `RecordSetConflict` means the zone must be listed again."""

    async def list(self) -> list[Obj]:
        """Every object (a new list: the provider empties it as it reads it)."""
        ...

    async def create(self, obj: Obj) -> Obj: ...

    async def update(self, obj: Obj) -> Obj: ...

    async def delete(self, name: str) -> None: ...


def object_name(dns_name: str) -> str:
    """The Kubernetes object name for the records at `dns_name`: the name itself when it is a valid
    DNS-1123 subdomain (the readable case, nearly always), else `dnsrecordset-<hash>`."""
    bare = relative(dns_name)
    if len(bare) <= 253 and _DNS1123_SUBDOMAIN.match(bare) and all(len(label) <= 63 for label in bare.split(".")):
        return bare
    return "dnsrecordset-" + hashlib.sha256(bare.encode()).hexdigest()[:40]


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


_KFED_LABELS = (MANAGED_BY_LABEL, FEDERATION_LABEL)
DEFAULT_MAX_IN_FLIGHT = 32


def _owner_of(obj: Obj) -> str | None:
    """The owner text of an object kfed manages, None for anyone else's object."""
    meta = obj.get("metadata") or {}
    if (meta.get("labels") or {}).get(MANAGED_BY_LABEL) != MANAGED_BY:
        return None
    text = (meta.get("annotations") or {}).get(OWNER_ANNOTATION)
    return sys.intern(str(text)) if text else None  # one string for all the names of a Service


def _records_of(obj: Obj) -> dict[str, RecordSet]:
    spec = obj.get("spec") or {}
    name = absolute(str(spec.get("name", "")))
    out: dict[str, RecordSet] = {}
    for record in spec.get("records") or []:
        rtype = str(record.get("type", "")).upper()
        ttl = record.get("ttl")
        out[rtype] = RecordSet(name, rtype, DEFAULT_TTL if ttl is None else int(ttl),
                               tuple(str(d) for d in record.get("data") or ()))
    return out


@dataclass(slots=True)
class _Known:
    """What the provider remembers of one object: enough to list it and to write it again."""

    zone: str
    name: str  # the DNS name (absolute)
    resource_version: str
    records: tuple[RecordSet, ...]
    owner: str | None  # the owner text of an object kfed manages
    labels: dict[str, str] | None  # labels other than kfed's own, kept as they were
    annotations: dict[str, str] | None  # likewise

    @classmethod
    def of(cls, obj: Obj) -> _Known:
        meta = obj.get("metadata") or {}
        spec = obj.get("spec") or {}
        owner = _owner_of(obj)
        labels = dict(meta.get("labels") or {})
        annotations = dict(meta.get("annotations") or {})
        if owner is not None:
            for key in _KFED_LABELS:
                labels.pop(key, None)
            annotations.pop(OWNER_ANNOTATION, None)
        return cls(absolute(str(spec.get("zone", ""))), absolute(str(spec.get("name", ""))),
                   str(meta.get("resourceVersion") or ""), tuple(_records_of(obj).values()), owner,
                   labels or None, annotations or None)

    def by_type(self) -> dict[str, RecordSet]:
        return {r.type: r for r in self.records}


class BuiltinProvider:
    name = "builtin"

    def __init__(self, store: RecordSetStore, *, requests_per_second: float | None = None,
                 max_in_flight: int = DEFAULT_MAX_IN_FLIGHT) -> None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self.store = store
        self.max_in_flight = max_in_flight
        # A "request" here is one batch: up to a few thousand names, each its own object write.
        # Batches of a few thousand records keep the applier's progress counters moving and cost
        # little in waits between batches. Unpaced unless asked: see the module docstring.
        self.limits = ProviderLimits(max_records=5000, max_chars=10_000_000,
                                     requests_per_second=requests_per_second or 1000.0,
                                     burst=1 if requests_per_second else 1000)
        self._known: dict[str, _Known] | None = None  # by object name, as of the last list or write

    async def _load(self) -> dict[str, _Known]:
        try:
            items = await self.store.list()
        except Exception as err:  # noqa: BLE001 - classified for the applier
            raise _store_error("listing DNSRecordSets", err) from err
        known: dict[str, _Known] = {}
        items.reverse()
        while items:  # each object goes as soon as it is remembered: a listing of 56,000 is large
            obj = items.pop()
            known[str(obj["metadata"]["name"])] = _Known.of(obj)
        self._known = known
        return known

    async def list_records(self, zone: str) -> list[RecordSet]:
        zone = absolute(zone)
        out: list[RecordSet] = []
        for known in (await self._load()).values():
            if known.zone != zone:
                continue
            out.extend(known.records)
            if known.owner is not None:
                out.append(RecordSet(registry_name(known.name), RecordType.TXT, OWNER_TTL, (f'"{known.owner}"',)))
        return sorted(out, key=lambda r: r.key)

    async def apply(self, zone: str, batch: Sequence[Change]) -> None:
        known = self._known if self._known is not None else await self._load()
        zone = absolute(zone)
        groups: dict[str, list[Change]] = {}
        for change in batch:
            groups.setdefault(owned_name_of(change.record) or change.record.name, []).append(change)
        pending = iter(groups.items())
        failures: list[ProviderError] = []

        async def writer() -> None:
            # Writers share one iterator: each takes the next name as it finishes one. After a
            # failure no new write starts; those in flight finish, so `known` stays true.
            for name, changes in pending:
                if failures:
                    return
                try:
                    await self._apply_name(zone, name, changes, known)
                except ProviderError as err:
                    failures.append(err)
                    return

        await asyncio.gather(*(writer() for _ in range(min(self.max_in_flight, len(groups)))))
        if failures:
            raise failures[0]

    async def _apply_name(self, zone: str, name: str, changes: list[Change], known: dict[str, _Known]) -> None:
        key = object_name(name)
        current = known.get(key)
        records = current.by_type() if current is not None else {}
        owner = current.owner if current is not None else None
        for change in changes:
            if owned_name_of(change.record) is not None:  # the ownership marker
                if change.action is Action.DELETE:
                    owner = None
                else:
                    parsed = Owner.parse(change.record.data[0]) if change.record.data else None
                    owner = sys.intern(change.record.data[0].strip('"')) if parsed else None
            elif change.action is Action.DELETE:
                records.pop(change.record.type, None)
            else:
                records[change.record.type] = change.record
                name = change.record.name  # the same name, as a string the records already hold
        try:
            if not records:
                if current is not None:
                    await self.store.delete(key)
                    known.pop(key, None)
                return
            if (current is not None and current.zone == zone and current.name == name
                    and current.owner == owner and current.by_type() == records):
                return  # already so: this batch is being tried again after a retryable error
            desired = self._object(zone, name, key, records, owner, current)
            if current is None:
                written = await self.store.create(desired)
            else:
                written = await self.store.update(desired)
        except Exception as err:  # noqa: BLE001 - classified for the applier
            error = _store_error(f"writing DNSRecordSet {key}", err)
            if not error.retryable:
                self._known = None  # whatever we thought the objects were, list them again
            raise error from err
        extra_labels = current.labels if current is not None else None
        extra_annotations = current.annotations if current is not None else None
        if current is not None and current.owner is None and owner is not None:
            # An object kfed takes over: kfed's own keys now live in `owner`, not among the extras.
            extra_labels = {k: v for k, v in (extra_labels or {}).items() if k not in _KFED_LABELS} or None
            extra_annotations = {k: v for k, v in (extra_annotations or {}).items()
                                 if k != OWNER_ANNOTATION} or None
        version = str((written or {}).get("metadata", {}).get("resourceVersion") or "")
        known[key] = _Known(zone, name, version, tuple(sorted(records.values(), key=lambda r: r.type)), owner,
                            extra_labels, extra_annotations)

    @staticmethod
    def _object(zone: str, name: str, key: str, records: dict[str, RecordSet], owner: str | None,
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
        else:
            for label in _KFED_LABELS:
                labels.pop(label, None)
            annotations.pop(OWNER_ANNOTATION, None)
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
                "name": name,
                "records": [{"type": r.type, "ttl": r.ttl, "data": list(r.data)}
                            for r in sorted(records.values(), key=lambda r: r.type)],
            },
        }

    async def close(self) -> None:
        return None
