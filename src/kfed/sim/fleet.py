"""SimFleet: many simulated clusters in one process, one kubeconfig context each."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path

from kfed.api.kubeconfig import merge_contexts
from kfed.runtime.heap import HeapFreezer
from kfed.sim.addresses import AddressPlanner
from kfed.sim.cluster import SimCluster, SimOptions
from kfed.sim.faults import Fault, parse_fault
from kfed.sim.layout import ClusterSpec, check_layout
from kfed.sim.lbdns import LoadBalancerDns

log = logging.getLogger("kfed.sim.fleet")


class SimFleet:
    """Start, stop and break simulated clusters. Every cluster has its own HTTPS endpoint, CA and
    token under `data_dir/<name>`; a fault or restart of one never touches the others.

        async with SimFleet(seed_layout(), data_dir=tmp, kubeconfig=tmp / "kubeconfig") as fleet:
            await fleet.fault("us-central1-f", "down")
    """

    def __init__(self, layout: Sequence[ClusterSpec], *, data_dir: Path, options: SimOptions | None = None,
                 kubeconfig: Path | None = None, write_kubeconfig: bool = True, dns_port: int = 0) -> None:
        check_layout(layout)
        self.layout = list(layout)
        self.data_dir = Path(data_dir)
        self.options = options or SimOptions()
        self.kubeconfig = kubeconfig
        self.write_kubeconfig = write_kubeconfig
        self.dns = LoadBalancerDns(port=dns_port)
        self._planner = AddressPlanner()
        self._clusters: dict[str, SimCluster] = {}
        self.kubeconfig_path: Path | None = None
        self.heap = HeapFreezer()

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        await self.dns.start()
        try:
            for spec in self.layout:
                self._new_cluster(spec)
            await asyncio.gather(*(c.start() for c in self._clusters.values()))
            self._merge_kubeconfig(list(self._clusters.values()))
            if self.options.freeze_heap:
                self.heap.start()
        except BaseException:
            await self.stop()
            raise

    def _new_cluster(self, spec: ClusterSpec) -> SimCluster:
        cluster = SimCluster(spec, data_dir=self.data_dir / spec.name, plan=self._planner.plan(spec.name, spec.region),
                             options=self.options, hostnames=self.dns)
        self._clusters[spec.name] = cluster
        return cluster

    def _merge_kubeconfig(self, clusters: list[SimCluster]) -> None:
        if self.write_kubeconfig and clusters:
            self.kubeconfig_path = merge_contexts([c.kubeconfig_entry() for c in clusters], self.kubeconfig)

    async def stop(self) -> None:
        self.heap.stop()
        await asyncio.gather(*(c.stop() for c in self._clusters.values()), return_exceptions=True)
        await self.dns.stop()

    async def __aenter__(self) -> SimFleet:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def add_cluster(self, spec: ClusterSpec) -> SimCluster:
        """Start one more cluster (a cluster joining later) and merge its context."""
        check_layout([*self.layout, spec])
        self.layout.append(spec)
        cluster = self._new_cluster(spec)
        await cluster.start()
        self._merge_kubeconfig([cluster])
        return cluster

    async def restart(self, name: str) -> None:
        """Stop and start one cluster: same port, CA, token and objects; its watches break."""
        await self.cluster(name).restart()

    # -- lookup --------------------------------------------------------------------------

    def cluster(self, name: str) -> SimCluster:
        try:
            return self._clusters[name]
        except KeyError:
            raise LookupError(f"no simulated cluster {name!r} (there are: {', '.join(self._clusters)})") from None

    @property
    def clusters(self) -> list[SimCluster]:
        return list(self._clusters.values())

    @property
    def names(self) -> list[str]:
        return list(self._clusters)

    @property
    def dns_address(self) -> tuple[str, int]:
        """Where the AWS-style load-balancer hostnames resolve (UDP and TCP)."""
        return self.dns.address

    # -- faults --------------------------------------------------------------------------

    async def fault(self, cluster: str, fault: Fault | str, *, latency: float | None = None) -> None:
        """Put a cluster in a fault: down, unhealthy, slow (latency seconds), revoke-credentials,
        forbid-writes. Faults add up; clear() undoes them."""
        await self.cluster(cluster).set_fault(parse_fault(str(fault)), latency)

    async def clear(self, cluster: str, fault: Fault | str | None = None) -> None:
        """Undo one fault, or all of the cluster's faults (pod faults too) when none is named."""
        await self.cluster(cluster).clear_fault(None if fault is None else parse_fault(str(fault)))

    async def make_unready(self, cluster: str, *, pod: str | None = None, zone: str | None = None,
                           namespace: str = "default") -> None:
        await self.cluster(cluster).make_unready(pod=pod, zone=zone, namespace=namespace)

    async def make_ready(self, cluster: str, *, pod: str | None = None, zone: str | None = None,
                         namespace: str = "default") -> None:
        await self.cluster(cluster).make_ready(pod=pod, zone=zone, namespace=namespace)

    async def delete_pods(self, cluster: str, *, pod: str | None = None, zone: str | None = None,
                          namespace: str = "default") -> list[str]:
        return await self.cluster(cluster).delete_pods(pod=pod, zone=zone, namespace=namespace)

    async def restore_pods(self, cluster: str, *, pod: str | None = None, zone: str | None = None,
                           namespace: str = "default") -> list[str]:
        return await self.cluster(cluster).restore_pods(pod=pod, zone=zone, namespace=namespace)

    def describe(self) -> list[dict[str, object]]:
        return [c.describe() for c in self._clusters.values()]
