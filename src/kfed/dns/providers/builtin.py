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
records are listed (so the plan sees the name taken) and never changed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any, Protocol

from kfed.dns.names import absolute, relative
from kfed.dns.plan import OWNER_TTL, Action, Change, Owner, owned_name, registry_name
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


class RecordSetStore(Protocol):
    """DNSRecordSet objects, as plain dicts, in some API. Errors carrying an HTTP `status`
    attribute are classified by it; `RecordSetConflict` means the zone must be listed again."""

    async def list(self) -> list[Obj]: ...

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
    if isinstance(err, OSError | TimeoutError):
        return ProviderError(f"{what}: {err!r}", retryable=True)
    return ProviderError(f"{what}: {err!r}", retryable=False)


def _owner_of(obj: Obj) -> str | None:
    """The owner text of an object kfed manages, None for anyone else's object."""
    meta = obj.get("metadata") or {}
    if (meta.get("labels") or {}).get(MANAGED_BY_LABEL) != MANAGED_BY:
        return None
    text = (meta.get("annotations") or {}).get(OWNER_ANNOTATION)
    return str(text) if text else None


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


class BuiltinProvider:
    name = "builtin"

    def __init__(self, store: RecordSetStore, *, requests_per_second: float = 50.0) -> None:
        self.store = store
        # A batch is one object write per name, against kfed's own API: no provider quota to respect.
        self.limits = ProviderLimits(max_records=1000, max_chars=1_000_000,
                                     requests_per_second=requests_per_second, burst=10)
        self._objects: dict[str, Obj] | None = None  # by object name, as of the last list or write

    async def _load(self) -> dict[str, Obj]:
        try:
            items = await self.store.list()
        except Exception as err:  # noqa: BLE001 - classified for the applier
            raise _store_error("listing DNSRecordSets", err) from err
        self._objects = {str(o["metadata"]["name"]): o for o in items}
        return self._objects

    async def list_records(self, zone: str) -> list[RecordSet]:
        zone = absolute(zone)
        out: list[RecordSet] = []
        for obj in (await self._load()).values():
            spec = obj.get("spec") or {}
            if absolute(str(spec.get("zone", ""))) != zone:
                continue
            out.extend(_records_of(obj).values())
            owner = _owner_of(obj)
            if owner is not None:
                out.append(RecordSet(registry_name(str(spec.get("name", ""))), RecordType.TXT, OWNER_TTL,
                                     (f'"{owner}"',)))
        return sorted(out, key=lambda r: r.key)

    async def apply(self, zone: str, batch: Sequence[Change]) -> None:
        objects = self._objects if self._objects is not None else await self._load()
        groups: dict[str, list[Change]] = {}
        for change in batch:
            groups.setdefault(owned_name(change.record.name) or change.record.name, []).append(change)
        for name, changes in groups.items():
            await self._apply_name(absolute(zone), name, changes, objects)

    async def _apply_name(self, zone: str, name: str, changes: list[Change], objects: dict[str, Obj]) -> None:
        key = object_name(name)
        current = objects.get(key)
        records = _records_of(current) if current is not None else {}
        owner = _owner_of(current) if current is not None else None
        for change in changes:
            if owned_name(change.record.name) is not None:  # the ownership marker
                if change.action is Action.DELETE:
                    owner = None
                else:
                    parsed = Owner.parse(change.record.data[0]) if change.record.data else None
                    owner = change.record.data[0].strip('"') if parsed else None
            elif change.action is Action.DELETE:
                records.pop(change.record.type, None)
            else:
                records[change.record.type] = change.record
        try:
            if not records:
                if current is not None:
                    await self.store.delete(key)
                    objects.pop(key, None)
                return
            desired = self._object(zone, name, key, records, owner, current)
            if current is None:
                objects[key] = await self.store.create(desired)
            else:
                objects[key] = await self.store.update(desired)
        except Exception as err:  # noqa: BLE001 - classified for the applier
            self._objects = None  # whatever we thought the objects were, list them again
            raise _store_error(f"writing DNSRecordSet {key}", err) from err

    @staticmethod
    def _object(zone: str, name: str, key: str, records: dict[str, RecordSet], owner: str | None,
                current: Obj | None) -> Obj:
        meta: Obj = {"name": key}
        labels = dict((current or {}).get("metadata", {}).get("labels") or {})
        annotations = dict((current or {}).get("metadata", {}).get("annotations") or {})
        if owner is not None:
            parsed = Owner.parse(owner)
            labels[MANAGED_BY_LABEL] = MANAGED_BY
            if parsed is not None:
                labels[FEDERATION_LABEL] = parsed.federation
            annotations[OWNER_ANNOTATION] = owner
        else:
            labels.pop(MANAGED_BY_LABEL, None)
            labels.pop(FEDERATION_LABEL, None)
            annotations.pop(OWNER_ANNOTATION, None)
        if labels:
            meta["labels"] = labels
        if annotations:
            meta["annotations"] = annotations
        if current is not None and current.get("metadata", {}).get("resourceVersion"):
            meta["resourceVersion"] = current["metadata"]["resourceVersion"]  # optimistic concurrency
        return {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "metadata": meta,
            "spec": {
                "zone": zone,
                "name": absolute(name),
                "records": [{"type": r.type, "ttl": r.ttl, "data": list(r.data)}
                            for r in sorted(records.values(), key=lambda r: r.type)],
            },
        }

    async def close(self) -> None:
        return None
