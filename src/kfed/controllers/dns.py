"""DNS controller: federated Services' shards -> record sets -> minimal changes in the DNS provider.

It watches the federated Services (their shard annotation, written by the service controller)
and the clusters' zones and regions. A changed Service is synced alone (a plan against what the
applier knows the zone holds, so steady state makes no provider calls); the first sync after
start covers the whole zone and removes records of Services that no longer exist.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from kfed.controllers.cluster import ClusterController
from kfed.controllers.events import EventRecorder
from kfed.controllers.manager import FederationSettings
from kfed.controllers.shards import SHARDS_ANNOTATION, decode_shards
from kfed.dns import records as R
from kfed.dns.plan import Owner
from kfed.dns.providers import ProviderApplier, ProviderError, make_provider
from kfed.members.client import ApiCallError, KubeClient, Unreachable
from kfed.members.informer import Informer

log = logging.getLogger("kfed.dns-controller")

Obj = dict[str, Any]
RECORDSETS = "/apis/federation.kfed.io/v1beta1/dnsrecordsets"


class FederationRecordSets:
    """The builtin provider's store: DNSRecordSet objects in the federation API."""

    def __init__(self, fed: KubeClient) -> None:
        self.fed = fed

    async def list(self) -> list[Obj]:
        items: list[Obj] = []
        cont: str | None = None
        while True:
            body = await self.fed.get(RECORDSETS, limit=500, **({"continue": cont} if cont else {}))
            items.extend(body.get("items") or [])
            cont = body.get("metadata", {}).get("continue") or None
            if not cont:
                return items

    async def create(self, obj: Obj) -> Obj:
        result: Obj = await self.fed.request("POST", RECORDSETS, body=obj)
        return result

    async def update(self, obj: Obj) -> Obj:
        result: Obj = await self.fed.request("PUT", f"{RECORDSETS}/{obj['metadata']['name']}", body=obj)
        return result

    async def delete(self, name: str) -> None:
        try:
            await self.fed.request("DELETE", f"{RECORDSETS}/{name}")
        except ApiCallError as e:
            if e.status != 404:
                raise


def to_record_shards(annotation: str | None) -> list[R.Shard]:
    out = []
    for sh in decode_shards(annotation):
        out.append(R.Shard(cluster=sh.cluster, region=sh.region, zones=tuple(sh.zones),
                           addresses=tuple(sh.addresses), hostnames=tuple(sh.hostnames),
                           ready_endpoints=sh.readyEndpoints, cluster_ready=sh.healthy))
    return out


class DNSController:
    def __init__(self, fed: KubeClient, clusters: ClusterController, settings: FederationSettings,
                 events: EventRecorder, *, provider: Any = None, debounce: float = 0.01) -> None:
        self.fed = fed
        self.clusters = clusters
        self.settings = settings
        self.events = events
        self.debounce = debounce
        self.services = Informer(fed, "/api/v1/services", self._on_service, name="dns: federated services")
        self._provider = provider
        self.applier: ProviderApplier | None = None
        self._dirty: set[str] = set()
        self._all = True  # the next pass covers the whole zone
        self._wake = asyncio.Event()
        self._last_topology: frozenset[tuple[str, str]] = frozenset()
        self._last_desired: dict[str, list[R.RecordSet]] = {}
        self.syncs = 0
        self.last_error: str | None = None
        clusters.on_ready_change.append(lambda name: self._mark_all())

    def _mark_all(self) -> None:
        self._all = True
        self._wake.set()

    def _on_service(self, kind: str, obj: Obj, old: Obj | None) -> None:
        meta = obj["metadata"]
        if old is not None and kind == "MODIFIED":
            before = (old["metadata"].get("annotations") or {})
            after = (meta.get("annotations") or {})
            if before.get(SHARDS_ANNOTATION) == after.get(SHARDS_ANNOTATION) and \
                    before.get(R.DNS_TTL_ANNOTATION) == after.get(R.DNS_TTL_ANNOTATION):
                return  # nothing DNS depends on changed
        self._dirty.add(f"{meta.get('namespace', 'default')}/{meta['name']}")
        self._wake.set()

    def _topology(self) -> frozenset[tuple[str, str]]:
        pairs = set()
        for name in self.clusters.known_clusters():
            region, zones = self.clusters.topology(name)
            if region:
                pairs.add((region, ""))
            for z in zones:
                pairs.add((region, z))
        return frozenset(pairs)

    def _desired(self, key: str, topology: frozenset[tuple[str, str]]) -> list[R.RecordSet]:
        svc = self.services.cache.get(key)
        if svc is None or svc["metadata"].get("deletionTimestamp"):
            return []
        annotations = svc["metadata"].get("annotations") or {}
        try:
            ttl = R.ttl_from_annotations(annotations)
        except R.InvalidTTLError as e:
            self.events.record(svc, "Warning", "InvalidDNSTTL", str(e))
            ttl = None
        ns, name = key.split("/", 1)
        service = R.FederatedService(name=name, namespace=ns, shards=tuple(to_record_shards(
            annotations.get(SHARDS_ANNOTATION))), ttl=ttl, all_zones=topology)
        return R.desired_records(service, self.settings.federation, self.settings.dns_zone,
                                 default_ttl=self.settings.default_ttl)

    def _make_provider(self) -> Any:
        if self._provider is not None:
            return self._provider
        config = dict(self.settings.dns_provider_config)
        if self.settings.dns_provider == "builtin":
            config["store"] = FederationRecordSets(self.fed)
        return make_provider(self.settings.dns_provider, config)

    async def run(self) -> None:
        self.services.start()
        await self.services.synced.wait()
        provider = self._make_provider()
        self.applier = ProviderApplier(provider, resync_interval=None)
        backoff = 0.2
        while True:
            await self._wake.wait()
            if self.debounce:
                await asyncio.sleep(self.debounce)  # let a burst of shard changes land in one pass
            self._wake.clear()
            try:
                await self.sync_once()
                backoff = 0.2
                self.last_error = None
            except (ProviderError, ApiCallError, Unreachable) as e:
                self.last_error = str(e)
                log.warning("DNS sync failed, retrying in %.1fs: %s", backoff, e)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
                self._all = True
                self._wake.set()

    async def sync_once(self) -> None:
        assert self.applier is not None
        zone = self.settings.dns_zone
        topology = self._topology()
        if topology != self._last_topology:
            self._all = True
        started = time.perf_counter()
        if self._all:
            self._all = False
            self._dirty.clear()
            desired = {}
            for key in self.services.cache:
                ns, name = key.split("/", 1)
                desired[Owner(self.settings.federation, ns, name)] = self._desired(key, topology)
            result = await self.applier.sync(zone, desired, self.settings.federation)
            self._last_topology = topology
        else:
            dirty, self._dirty = self._dirty, set()
            result = None
            for key in sorted(dirty):
                ns, name = key.split("/", 1)
                want = self._desired(key, topology)
                result = await self.applier.sync_service(zone, Owner(self.settings.federation, ns, name), want)
        self.syncs += 1
        if result is not None:
            for conflict in result.conflicts:
                log.warning("DNS name not owned by kfed, left alone: %s", conflict)
            if len(result.plan):
                log.info("DNS sync applied %d changes in %.1f ms", result.applied,
                         (time.perf_counter() - started) * 1000)

    async def stop(self) -> None:
        await self.services.stop()
        if self.applier is not None:
            await self.applier.provider.close()
