"""The controller-manager: cluster, service and DNS controllers behind one leader election.

It talks to the federation API like any client (a kubeconfig context), so it can run in its own
process (`kfed controller-manager`, several for HA) or inside `kfed up`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from dataclasses import dataclass, field
from typing import Any

from kfed.controllers.cluster import ClusterController
from kfed.controllers.events import EventRecorder
from kfed.controllers.leader import LeaderElector
from kfed.controllers.service import ServiceController
from kfed.members.client import KubeClient
from kfed.members.connections import MemberPool
from kfed.runtime.heap import HeapFreezer

log = logging.getLogger("kfed.controller-manager")

CONFIG_NAMESPACE = "federation-system"
CONFIG_NAME = "kfed-federation"


@dataclass
class FederationSettings:
    """What `kfed init` decides: the federation's name and its DNS."""

    federation: str = "myfederation"
    dns_zone: str = "example.com."
    dns_provider: str = "builtin"
    dns_provider_config: dict[str, Any] = field(default_factory=dict)
    default_ttl: int = 180

    @classmethod
    def from_configmap(cls, cm: dict[str, Any]) -> FederationSettings:
        import json

        data = cm.get("data") or {}
        return cls(federation=data.get("federation", "myfederation"), dns_zone=data.get("dnsZoneName", "example.com."),
                   dns_provider=data.get("dnsProvider", "builtin"),
                   dns_provider_config=json.loads(data.get("dnsProviderConfig") or "{}"),
                   default_ttl=int(data.get("defaultTTL", "180")))

    def to_configmap(self) -> dict[str, Any]:
        import json

        return {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": CONFIG_NAME, "namespace": CONFIG_NAMESPACE},
                "data": {"federation": self.federation, "dnsZoneName": self.dns_zone,
                         "dnsProvider": self.dns_provider,
                         "dnsProviderConfig": json.dumps(self.dns_provider_config, sort_keys=True),
                         "defaultTTL": str(self.default_ttl)}}


@dataclass
class ManagerOptions:
    monitor_period: float = 5.0
    probe_timeout: float = 3.0
    failure_threshold: int = 2
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    identity: str = field(default_factory=lambda: f"{socket.gethostname()}_{os.getpid()}")
    #: Services whose members are written at once; each waits on member round trips, so more
    #: than the cores: 8 left 1,000 statuses waiting 22 s (statuses have workers of their own)
    workers: int = 32
    dns: bool = True
    #: nameservers ("IP[:PORT]") for resolving load balancers' hostnames; default: the system's
    lb_nameservers: list[str] = field(default_factory=list)
    #: keep the collector off the informer caches while leading (kfed.runtime.heap)
    freeze_heap: bool = True


class ControllerManager:
    def __init__(self, fed: KubeClient, settings: FederationSettings, options: ManagerOptions | None = None) -> None:
        self.fed = fed
        self.settings = settings
        self.options = options or ManagerOptions()
        self.elector = LeaderElector(fed, self.options.identity, lease_duration=self.options.lease_duration,
                                     renew_deadline=self.options.renew_deadline,
                                     retry_period=self.options.retry_period)
        self.pool: MemberPool | None = None
        self.clusters: ClusterController | None = None
        self.services: ServiceController | None = None
        self.dns: Any = None

    async def run(self) -> None:
        await self.elector.run(self._lead)

    async def _lead(self) -> None:
        """Everything the leader runs; cancelled (and cleaned up) when leadership is lost."""
        opts = self.options
        pool = self.pool = MemberPool()
        events = EventRecorder(self.fed)
        clusters = self.clusters = ClusterController(
            self.fed, pool, events, monitor_period=opts.monitor_period, probe_timeout=opts.probe_timeout,
            failure_threshold=opts.failure_threshold)
        pool.on("nodes", lambda cluster, kind, obj, old: clusters.refresh_topology(cluster))
        services = self.services = ServiceController(self.fed, pool, clusters, events, self.settings.federation,
                                                     workers=opts.workers)
        tasks = [clusters.run(), services.run()]
        # Default young-generation thresholds: 10,000 measured the same total collection time
        # here (survivors dominate it) with pauses of 115 ms rather than 24 ms.
        heap = HeapFreezer()
        if opts.freeze_heap:
            heap.start()
        if opts.dns:
            from kfed.controllers.dns import DNSController

            self.dns = DNSController(self.fed, clusters, self.settings, events,
                                     nameservers=tuple(opts.lb_nameservers))
            tasks.append(self.dns.run())
        try:
            await asyncio.gather(*tasks)
        finally:
            heap.stop()
            await clusters.clusters.stop()
            await clusters.secrets.stop()
            await services.services.stop()
            if self.dns is not None:
                await self.dns.stop()
            await pool.close()
            with contextlib.suppress(TimeoutError):  # a federation API that is gone must not hold us
                await asyncio.wait_for(events.flush(), timeout=5.0)
            await events.close()

    async def shutdown(self) -> None:
        await self.elector.release()
