"""A zone source for kfed's DNS server that follows the federation API's DNSRecordSet objects.

Every replica of `kfed dns-server` list+watches the same objects, so all serve the same data.
The SOA serial is the federation's resourceVersion of the newest change the replica has seen:
after the first listing, the largest resourceVersion among the zone's objects; after that, the
resourceVersion of each event (a deletion has its own). Replicas that saw the same changes
therefore agree on the serial as well as on the records, and the serial only grows. (A replica
started after the zone's newest change was a deletion serves the same records under a smaller
serial than one that watched the deletion happen, until the next change; its secondaries hold
the same data meanwhile.)

Changes that arrive together (the DNS controller writes thousands of objects a second when a
federation starts) are folded into one snapshot per `COALESCE_SECONDS`: deriving a snapshot copies
the zone's index of names, so one snapshot per object would cost O(zone) each, O(zone^2) in all.
The serial of such a snapshot is that of its newest change, as above.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from kfed.dns.server.sources import LatestSnapshot, SnapshotBuilder
from kfed.dns.server.zone import RecordSetSpec, ZoneData, ZoneSettings
from kfed.members.client import KubeClient
from kfed.members.informer import Informer, object_key

Obj = dict[str, Any]
RECORDSETS = "/apis/federation.kfed.io/v1beta1/dnsrecordsets"
EMPTY_ZONE_SERIAL = 1  # the same on every replica (0 would let each server pick the time of day)
COALESCE_SECONDS = 0.02  # how long a change may wait for others to share its snapshot


def _specs(obj: Obj, origin: str) -> list[RecordSetSpec]:
    spec = obj.get("spec") or {}
    if (spec.get("zone") or "").lower().rstrip(".") != origin.rstrip("."):
        return []
    name = spec.get("name") or ""
    return [RecordSetSpec(name, r.get("type", ""), int(r.get("ttl", 0)), tuple(r.get("data") or ()))
            for r in spec.get("records") or []]


def _serial(obj: Obj) -> int:
    try:
        return int(obj.get("metadata", {}).get("resourceVersion") or 0) & 0xFFFFFFFF
    except ValueError:
        return 0


class RecordSetZoneSource:
    """`snapshots()` of one zone as the federation's DNSRecordSets hold it; `start()` first."""

    def __init__(self, fed: KubeClient, settings: ZoneSettings) -> None:
        self.settings = settings
        self.origin = settings.origin.to_text().lower()
        self._builder = SnapshotBuilder(settings)
        self._latest = LatestSnapshot()
        self._objects: dict[str, Obj] = {}  # the zone's objects until the first snapshot is built
        self._built = False
        # Changes not yet in a snapshot: (name, TYPE) -> its new record set, None to delete it.
        self._pending: dict[tuple[str, str], RecordSetSpec | None] = {}
        self._pending_serial = 0
        self._flush: asyncio.TimerHandle | None = None
        self.ready = asyncio.Event()  # the first snapshot (the whole listed zone) is published
        self.informer = Informer(fed, RECORDSETS, self._on_event, name="dns-server: dnsrecordsets")
        self._task: asyncio.Task[None] | None = None

    def _on_event(self, kind: str, obj: Obj, old: Obj | None) -> None:
        if not self._built:
            # Still listing: collect, and build the zone once (one snapshot, not one per object).
            key = object_key(obj)
            if kind == "DELETED":
                self._objects.pop(key, None)
            elif _specs(obj, self.origin):
                self._objects[key] = obj
            else:
                self._objects.pop(key, None)
            return
        if kind == "DELETED":
            upserts, before = [], _specs(obj, self.origin)
        else:
            upserts, before = _specs(obj, self.origin), _specs(old, self.origin) if old is not None else []
        keep = {(s.name.lower(), s.type.upper()) for s in upserts}
        deletes = [(s.name.lower(), s.type.upper()) for s in before if (s.name.lower(), s.type.upper()) not in keep]
        if not upserts and not deletes:
            return
        for gone in deletes:
            self._pending[gone] = None
        for spec in upserts:
            self._pending[(spec.name.lower(), spec.type.upper())] = spec
        self._pending_serial = max(self._pending_serial, _serial(obj))
        if self._flush is None:
            self._flush = asyncio.get_running_loop().call_later(COALESCE_SECONDS, self._publish_pending)

    def _publish_pending(self) -> None:
        self._flush = None
        pending, self._pending = self._pending, {}
        upserts = [spec for spec in pending.values() if spec is not None]
        deletes = [key for key, spec in pending.items() if spec is None]
        serial = max(self._pending_serial, self._builder.current.serial)
        self._latest.publish(self._builder.apply(upserts, deletes, serial=serial))

    async def _build_when_listed(self) -> None:
        await self.informer.synced.wait()
        specs = [s for obj in self._objects.values() for s in _specs(obj, self.origin)]
        serial = max((_serial(o) for o in self._objects.values()), default=0) or EMPTY_ZONE_SERIAL
        self._objects.clear()
        self._built = True
        self._latest.publish(self._builder.replace(specs, serial=serial))
        self.ready.set()

    @property
    def current(self) -> ZoneData:
        return self._builder.current

    async def start(self, *, wait: bool = True) -> None:
        """Start following the API; with `wait`, return once the whole zone is loaded."""
        self.informer.start()
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._build_when_listed(),
                                                                name=f"zone {self.origin}")
        if wait:
            await self.ready.wait()

    async def stop(self) -> None:
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.informer.stop()

    def snapshots(self) -> AsyncIterator[ZoneData]:
        return self._latest.updates()

    def __repr__(self) -> str:
        return f"RecordSetZoneSource({self.origin})"
