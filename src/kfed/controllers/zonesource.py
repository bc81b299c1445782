"""A zone source for kfed's DNS server that follows the federation API's DNSRecordSet objects.

Every replica of `kfed dns-server` list+watches the same objects, so all serve the same data;
the SOA serial is the federation's resourceVersion of the latest change, so replicas agree on
serials too and the serial only ever grows.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from kfed.dns.server.sources import LatestSnapshot, SnapshotBuilder
from kfed.dns.server.zone import RecordSetSpec, ZoneData, ZoneSettings
from kfed.members.client import KubeClient
from kfed.members.informer import Informer

Obj = dict[str, Any]
RECORDSETS = "/apis/federation.kfed.io/v1beta1/dnsrecordsets"


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
    def __init__(self, fed: KubeClient, settings: ZoneSettings) -> None:
        self.settings = settings
        self.origin = settings.origin.to_text().lower()
        self._builder = SnapshotBuilder(settings)
        self._latest = LatestSnapshot()
        self.informer = Informer(fed, RECORDSETS, self._on_event, name="dns-server: dnsrecordsets")
        self._task: asyncio.Task[None] | None = None

    def _on_event(self, kind: str, obj: Obj, old: Obj | None) -> None:
        upserts = [] if kind == "DELETED" else _specs(obj, self.origin)
        before = _specs(old, self.origin) if old is not None else []
        if kind == "DELETED":
            before = _specs(obj, self.origin)
        keep = {(s.name.lower(), s.type.upper()) for s in upserts}
        deletes = [(s.name, s.type) for s in before if (s.name.lower(), s.type.upper()) not in keep]
        if not upserts and not deletes:
            return
        serial = max(_serial(obj), (self._builder.current.serial if self._builder.current else 0) + 1)
        zone = self._builder.apply(upserts, deletes, serial=serial)
        if self.informer.synced.is_set():
            self._latest.publish(zone)

    @property
    def current(self) -> ZoneData:
        return self._builder.current

    async def start(self) -> None:
        self.informer.start()
        await self.informer.synced.wait()
        self._latest.publish(self._builder.current)

    async def stop(self) -> None:
        await self.informer.stop()

    def snapshots(self) -> AsyncIterator[ZoneData]:
        return self._latest.updates()

    def __repr__(self) -> str:
        return f"RecordSetZoneSource({self.origin})"
