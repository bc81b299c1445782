"""Cluster controller: probes each member, keeps its conditions, zones and region, and connections.

Every `monitor_period` it probes each joined cluster's /readyz (falling back to /healthz) with
`probe_timeout`; `failure_threshold` failures in a row flip a Ready cluster to not Ready (one
success flips it back). Reasons: ClusterReady, ClusterNotReachable (with Offline=True),
ClusterNotReady, CredentialsRejected, ConfigMalformed. Zones and region come from the member's
nodes (topology labels, legacy failure-domain labels as fallback), unless the Cluster's spec
overrides them. Status is written only when something changed, and Events mark transitions.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kfed.controllers.events import EventRecorder
from kfed.members.client import ApiCallError, KubeClient, KubeConfigError, Unreachable
from kfed.members.connections import MemberPool, kubeconfig_from_secret
from kfed.members.informer import Informer

log = logging.getLogger("kfed.cluster-controller")

Obj = dict[str, Any]
CLUSTERS = "/apis/federation.kfed.io/v1beta1/clusters"
CLEANUP_FINALIZER = "federation.kfed.io/cluster-cleanup"
DELETE_SERVICES_ANNOTATION = "federation.kfed.io/delete-services"
ZONE_LABELS = ("topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone")
REGION_LABELS = ("topology.kubernetes.io/region", "failure-domain.beta.kubernetes.io/region")
PROBE_REFRESH = 60.0  # seconds between writes that only refresh lastProbeTime


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class ProbeResult:
    ok: bool
    reason: str
    message: str


@dataclass
class ClusterState:
    name: str
    ready: bool | None = None  # None: not probed yet
    reason: str = ""
    message: str = ""
    failures: int = 0
    last_written: float = 0.0
    region: str = ""
    zones: list[str] = field(default_factory=list)


def topology_from_nodes(nodes: list[Obj]) -> tuple[str, list[str]]:
    """The region and the sorted zones of a cluster's nodes."""
    zones: set[str] = set()
    regions: set[str] = set()
    for n in nodes:
        labels = n.get("metadata", {}).get("labels") or {}
        z = next((labels[k] for k in ZONE_LABELS if labels.get(k)), None)
        r = next((labels[k] for k in REGION_LABELS if labels.get(k)), None)
        if z:
            zones.add(z)
        if r:
            regions.add(r)
    return (sorted(regions)[0] if regions else ""), sorted(zones)


class ClusterController:
    def __init__(self, fed: KubeClient, pool: MemberPool, events: EventRecorder, *,
                 monitor_period: float = 5.0, probe_timeout: float = 3.0, failure_threshold: int = 2,
                 namespace: str = "federation-system") -> None:
        self.fed = fed
        self.pool = pool
        self.events = events
        self.monitor_period = monitor_period
        self.probe_timeout = probe_timeout
        self.failure_threshold = failure_threshold
        self.namespace = namespace
        self.clusters = Informer(fed, CLUSTERS, self._on_cluster, name="clusters")
        self.secrets = Informer(fed, f"/api/v1/namespaces/{namespace}/secrets", self._on_secret, name="secrets")
        self.states: dict[str, ClusterState] = {}
        self.on_ready_change: list[Callable[[str], None]] = []
        self.on_cluster_deleting: Callable[[str, bool], Awaitable[None]] | None = None
        self._wake = asyncio.Event()
        self.first_probe_done = asyncio.Event()  # every joined cluster probed once since start
        pool.on_change.append(self.refresh_topology)  # a member's informers synced: its nodes are known
        self._cleanups: dict[str, asyncio.Task[None]] = {}
        # cluster -> ((Secret name and resourceVersion, server override), kubeconfig, fingerprint): parsing the
        # kubeconfig YAML on every probe of every cluster was a steady cost at 50 clusters
        self._configs: dict[str, tuple[tuple[str, str, str], dict[str, Any], str]] = {}

    # -- public view ---------------------------------------------------------------------

    def ready_clusters(self) -> list[str]:
        return sorted(n for n, s in self.states.items() if s.ready)

    def known_clusters(self) -> list[str]:
        return sorted(self.states)

    def topology(self, name: str) -> tuple[str, list[str]]:
        s = self.states.get(name)
        return (s.region, s.zones) if s else ("", [])

    # -- events --------------------------------------------------------------------------

    def _on_cluster(self, kind: str, obj: Obj, old: Obj | None) -> None:
        name = obj["metadata"]["name"]
        if kind == "DELETED":
            self.states.pop(name, None)
            self._configs.pop(name, None)
            asyncio.get_running_loop().create_task(self.pool.disconnect(name))
            for cb in self.on_ready_change:
                cb(name)
            return
        if name not in self.states:
            # Until its nodes are listed, a cluster's topology is what its status last said.
            status = obj.get("status") or {}
            self.states[name] = ClusterState(name, region=status.get("region") or "",
                                             zones=list(status.get("zones") or []))
        if obj["metadata"].get("deletionTimestamp"):
            if name not in self._cleanups or self._cleanups[name].done():
                self._cleanups[name] = asyncio.get_running_loop().create_task(self._cleanup(obj))
            return
        if old is None or old.get("spec") != obj.get("spec"):
            self._wake.set()  # probe a new or changed cluster now

    def _on_secret(self, kind: str, obj: Obj, old: Obj | None) -> None:
        self._wake.set()

    # -- loop ----------------------------------------------------------------------------

    async def run(self) -> None:
        self.clusters.start()
        self.secrets.start()
        await asyncio.gather(self.clusters.synced.wait(), self.secrets.synced.wait())
        while True:
            self._wake.clear()
            await self.probe_all()
            self.first_probe_done.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.monitor_period)

    async def probe_all(self) -> None:
        clusters = [c for c in self.clusters.cache.values() if not c["metadata"].get("deletionTimestamp")]
        await asyncio.gather(*(self._probe_and_update(c) for c in clusters))

    async def _probe_and_update(self, cluster: Obj) -> None:
        name = cluster["metadata"]["name"]
        state = self.states.setdefault(name, ClusterState(name))
        try:
            result = await self.probe(cluster)
        except Exception as e:  # noqa: BLE001 - a probe must never take the controller down
            log.exception("probe failed cluster=%s", name)
            result = ProbeResult(False, "ClusterNotReady", f"probe error: {type(e).__name__}")
        await self._apply(cluster, state, result)

    async def probe(self, cluster: Obj) -> ProbeResult:
        name = cluster["metadata"]["name"]
        secret_name = (cluster.get("spec", {}).get("secretRef") or {}).get("name") or name
        secret = self.secrets.cache.get(f"{self.namespace}/{secret_name}")
        if secret is None:
            return ProbeResult(False, "ConfigMalformed", f'secret {self.namespace}/{secret_name} not found')
        try:
            server = _server_address(cluster)
            source = (secret_name, str(secret["metadata"].get("resourceVersion", "")), server or "")
            cached = self._configs.get(name)
            if cached is not None and cached[0] == source:
                config, fingerprint = cached[1], cached[2]
            else:
                config = kubeconfig_from_secret(secret)
                if server:
                    for c in config["clusters"]:
                        c.setdefault("cluster", {})["server"] = server
                fingerprint = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()
                self._configs[name] = (source, config, fingerprint)
            conn = await self.pool.connect(name, config, fingerprint)
        except KubeConfigError as e:
            return ProbeResult(False, "ConfigMalformed", str(e))
        try:
            status, body = await conn.client.raw_get("/readyz", timeout=self.probe_timeout)
            if status == 404:
                status, body = await conn.client.raw_get("/healthz", timeout=self.probe_timeout)
        except Unreachable as e:
            return ProbeResult(False, "ClusterNotReachable", str(e))
        if status in (401, 403):
            return ProbeResult(False, "CredentialsRejected", f"the cluster answered {status} to kfed's credentials")
        if status != 200:
            return ProbeResult(False, "ClusterNotReady", f"/readyz answered {status}: {body.strip()[:200]}")
        return ProbeResult(True, "ClusterReady", "/readyz responded with ok")

    async def _apply(self, cluster: Obj, state: ClusterState, result: ProbeResult) -> None:
        name = state.name
        previously = state.ready
        if result.ok:
            state.failures = 0
            state.ready, state.reason, state.message = True, result.reason, result.message
        else:
            state.failures += 1
            immediate = result.reason in ("ConfigMalformed", "CredentialsRejected") or state.ready is None
            if immediate or state.failures >= self.failure_threshold or not state.ready:
                state.ready, state.reason, state.message = False, result.reason, result.message
        if state.ready:
            self.pool.start(name)
            conn = self.pool.members.get(name)
            topology_before = (state.region, list(state.zones))
            if conn is not None and conn.nodes is not None and conn.nodes.synced.is_set():
                region, zones = topology_from_nodes(list(conn.nodes.cache.values()))
                spec = cluster.get("spec") or {}
                state.region = spec.get("region") or region
                state.zones = list(spec.get("zones") or zones)
            if previously == state.ready and (state.region, state.zones) != topology_before:
                for cb in self.on_ready_change:  # same readiness, new zones: shards and DNS must follow
                    cb(name)
        if not result.ok and state.ready and state.failures == 1:
            # First failure of a Ready cluster: probe again soon instead of a whole period later,
            # so an outage is confirmed well within two monitor periods.
            asyncio.get_running_loop().call_later(min(1.0, self.monitor_period / 4), self._wake.set)
        if previously != state.ready:
            if previously is not None or not state.ready:
                self.events.record(cluster, "Normal" if state.ready else "Warning", state.reason,
                                   f"cluster {name}: {state.message}")
            for cb in self.on_ready_change:
                cb(name)
        await self._write_status(cluster, state)

    def refresh_topology(self, name: str) -> None:
        """Called when a member's nodes change: recompute zones and region, write if changed."""
        cluster = self.clusters.cache.get(name)
        state = self.states.get(name)
        if cluster is None or state is None or not state.ready:
            return
        conn = self.pool.members.get(name)
        if conn is None or conn.nodes is None or not conn.nodes.synced.is_set():
            return
        region, zones = topology_from_nodes(list(conn.nodes.cache.values()))
        spec = cluster.get("spec") or {}
        region, zones = spec.get("region") or region, list(spec.get("zones") or zones)
        if (region, zones) != (state.region, state.zones):
            state.region, state.zones = region, zones
            asyncio.get_running_loop().create_task(self._write_status(cluster, state))
            for cb in self.on_ready_change:
                cb(name)

    async def _write_status(self, cluster: Obj, state: ClusterState) -> None:
        status = cluster.get("status") or {}
        now = _now()
        conds = {c.get("type"): c for c in status.get("conditions") or []}
        ready_status = "True" if state.ready else ("False" if state.ready is False else "Unknown")
        offline = "True" if state.reason == "ClusterNotReachable" and not state.ready else "False"
        wanted = {
            "Ready": (ready_status, state.reason, state.message),
            "Offline": (offline, "ClusterNotReachable" if offline == "True" else "ClusterReachable",
                        state.message if offline == "True" else "the cluster's API answers"),
        }
        changed = False
        new_conds = []
        for ctype, (st, reason, message) in wanted.items():
            old = conds.get(ctype) or {}
            same = old.get("status") == st and old.get("reason") == reason and old.get("message") == message
            changed |= not same
            new_conds.append({
                "type": ctype, "status": st, "reason": reason, "message": message,
                "lastProbeTime": now,
                "lastTransitionTime": old.get("lastTransitionTime") if old.get("status") == st and
                old.get("lastTransitionTime") else now,
            })
        topo_changed = (status.get("region") or "") != state.region or (status.get("zones") or []) != state.zones
        stale = time.monotonic() - state.last_written > PROBE_REFRESH
        if not (changed or topo_changed or stale):
            return
        body = {"status": {"conditions": new_conds, "region": state.region, "zones": state.zones}}
        try:
            await self.fed.request("PATCH", f"{CLUSTERS}/{state.name}/status", body=body,
                                   content_type="application/merge-patch+json")
            state.last_written = time.monotonic()
        except (ApiCallError, Unreachable) as e:
            log.warning("cluster status not written cluster=%s: %s", state.name, e)

    async def _cleanup(self, cluster: Obj) -> None:
        """An unjoined cluster: let the service controller clean up, then drop the finalizer."""
        name = cluster["metadata"]["name"]
        delete_services = (cluster["metadata"].get("annotations") or {}).get(DELETE_SERVICES_ANNOTATION) == "true"
        if self.on_cluster_deleting is not None:
            try:
                await self.on_cluster_deleting(name, delete_services)
            except Exception:  # noqa: BLE001 - cleanup is best effort; the finalizer still goes
                log.exception("cleanup of cluster %s failed", name)
        await self.pool.disconnect(name)
        finalizers = [f for f in cluster["metadata"].get("finalizers") or [] if f != CLEANUP_FINALIZER]
        patch = [{"op": "test", "path": "/metadata/resourceVersion",
                  "value": cluster["metadata"]["resourceVersion"]},
                 {"op": "replace", "path": "/metadata/finalizers", "value": finalizers}]
        for _ in range(5):
            try:
                await self.fed.request("PATCH", f"{CLUSTERS}/{name}", body=patch,
                                       content_type="application/json-patch+json")
                return
            except ApiCallError as e:
                if e.status == 404:
                    return
                latest = await self.fed.get(f"{CLUSTERS}/{name}")
                finalizers = [f for f in latest["metadata"].get("finalizers") or [] if f != CLEANUP_FINALIZER]
                patch[0]["value"] = latest["metadata"]["resourceVersion"]
                patch[1]["value"] = finalizers
            except Unreachable:
                await asyncio.sleep(0.5)


def _server_address(cluster: Obj) -> str:
    entries = (cluster.get("spec") or {}).get("serverAddressByClientCIDRs") or []
    for e in entries:
        if e.get("clientCIDR") in ("0.0.0.0/0", "::/0") and e.get("serverAddress"):
            return str(e["serverAddress"])
    return str(entries[0].get("serverAddress", "")) if entries else ""
