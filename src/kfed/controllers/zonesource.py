"""A zone source for kfed's DNS server that follows the federation API's DNSRecordSet objects.

Every replica of `kfed dns-server` list+watches the same objects, so all serve the same data.
The SOA serial is the federation's resourceVersion of the newest change the replica has seen:
after the first listing, the largest resourceVersion among the zone's objects; after that, the
resourceVersion of each event (a deletion has its own). Replicas that saw the same changes
therefore agree on the serial as well as on the records, and the serial only grows. (A replica
started after the zone's newest change was a deletion serves the same records under a smaller
serial than one that watched the deletion happen, until the next change; its secondaries hold
the same data meanwhile.)

Objects hold the records of any number of names (the DNS controller writes one object per
federated Service); when several objects hold a name, the oldest (by creationTimestamp, then
name) serves all of that name's records (kfed.dns.recordsets). An object's change is turned into
the names whose served records changed from that object's names alone (RecordSetZone), so a
snapshot replaces only those names.

Changes that arrive together (the DNS controller writes hundreds of objects a second when a
federation starts) are folded into one snapshot per `COALESCE_SECONDS`: deriving a snapshot copies
the zone's index of names, so one snapshot per object would cost O(zone) each, O(zone^2) in all.
The serial of such a snapshot is that of its newest change, as above.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from kfed.dns.recordsets import PATH as RECORDSETS
from kfed.dns.server.recordsetzone import RecordSetZone
from kfed.dns.server.sources import LatestSnapshot, SnapshotBuilder
from kfed.dns.server.zone import ZoneData, ZoneSettings
from kfed.members.client import KubeClient
from kfed.members.informer import Informer, object_key

Obj = dict[str, Any]
EMPTY_ZONE_SERIAL = 1  # the same on every replica (0 would let each server pick the time of day)
COALESCE_SECONDS = 0.02  # how long a change may wait for others to share its snapshot


def _slim(obj: Obj) -> Obj:
    """What the server reads of an object (the informer keeps it): no labels, annotations or
    managedFields."""
    meta = obj.get("metadata") or {}
    return {"metadata": {k: meta[k] for k in ("name", "resourceVersion", "creationTimestamp") if k in meta},
            "spec": obj.get("spec") or {}}


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
        self.zone = RecordSetZone(self.origin)  # every object of the zone, and what each name serves
        self._serial_seen = 0  # the largest resourceVersion among the objects listed before the first snapshot
        self._built = False
        self._pending: set[str] = set()  # names whose served records changed since the last snapshot
        self._pending_serial = 0
        self._flush: asyncio.TimerHandle | None = None
        self.ready = asyncio.Event()  # the first snapshot (the whole listed zone) is published
        self.informer = Informer(fed, RECORDSETS, self._on_event, name="dns-server: dnsrecordsets",
                                 transform=_slim)
        self._task: asyncio.Task[None] | None = None

    def _on_event(self, kind: str, obj: Obj, old: Obj | None) -> None:
        key = object_key(obj)
        changed = self.zone.remove(key) if kind == "DELETED" else self.zone.put(key, obj)
        if not self._built:
            # Still listing: the zone is built once, when listed (one snapshot, not one per object).
            if kind != "DELETED" and self.zone.names_of(obj):
                self._serial_seen = max(self._serial_seen, _serial(obj))
            return
        if not changed:
            return
        self._pending |= changed
        self._pending_serial = max(self._pending_serial, _serial(obj))
        if self._flush is None:
            self._flush = asyncio.get_running_loop().call_later(COALESCE_SECONDS, self._publish_pending)

    def _publish_pending(self) -> None:
        self._flush = None
        pending, self._pending = self._pending, set()
        serial = max(self._pending_serial, self._builder.current.serial)
        self._latest.publish(self._builder.replace_names({name: self.zone.served(name) for name in pending},
                                                         serial=serial))

    async def _build_when_listed(self) -> None:
        await self.informer.synced.wait()
        serial = self._serial_seen or EMPTY_ZONE_SERIAL
        self._built = True
        self._latest.publish(self._builder.replace(list(self.zone.specs()), serial=serial))
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
