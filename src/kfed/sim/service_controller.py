"""Cluster IPs, node ports and load balancers of a simulated cluster's Services."""

from __future__ import annotations

import logging
from typing import Protocol

from kfed.api import errors as E
from kfed.api.objects import ObjectService, WriteOptions
from kfed.model.resource import Obj, ResourceType
from kfed.sim.addresses import AddressPlan, IpPool, PoolExhausted, PortPool
from kfed.sim.controller import Controller
from kfed.sim.events import EventRecorder
from kfed.sim.layout import ClusterSpec
from kfed.sim.service_allocation import (
    Holdings,
    SpecNeeds,
    apply_spec_allocations,
    current_ingress,
    holdings_of,
    ingress,
    lb_hostname,
    spec_needs,
    wants_load_balancer,
)
from kfed.sim.views import key_of

log = logging.getLogger("kfed.sim.services")


class HostnameRegistry(Protocol):
    """Where AWS-style load-balancer hostnames resolve (the fleet's DNS responder)."""

    def set(self, hostname: str, ip: str) -> None: ...

    def remove(self, hostname: str) -> None: ...

    def lookup(self, hostname: str) -> str | None: ...


class ServiceController(Controller):
    name = "service-controller"

    def __init__(self, cluster: ClusterSpec, objects: ObjectService, services_rt: ResourceType, plan: AddressPlan,
                 recorder: EventRecorder, hostnames: HostnameRegistry | None) -> None:
        super().__init__(cluster.name)
        self.spec = cluster
        self.objects = objects
        self.rt = services_rt
        self.cluster_ips = IpPool(plan.service_cidr)
        self.node_ports = PortPool()
        self.lb_ips = IpPool(plan.lb_pool)
        self.recorder = recorder
        self.hostnames = hostnames if cluster.lb_hostnames else None
        self._holdings: dict[str, Holdings] = {}
        # In hostname mode the ingress shows no IP: remember which pool address backs each hostname.
        self._lb_ip_of_host: dict[str, str] = {}
        self._spec_opts = WriteOptions(field_manager="kube-apiserver")
        self._status_opts = WriteOptions(field_manager="service-controller")

    # -- events --------------------------------------------------------------------------

    def on_service(self, event: str, obj: Obj) -> None:
        meta = obj.get("metadata", {})
        key = key_of(meta.get("namespace", ""), meta.get("name", ""))
        if event == "DELETED":
            held, last = self._holdings.pop(key, Holdings()), holdings_of(obj)
            self._release(Holdings(held.cluster_ips | last.cluster_ips, held.node_ports | last.node_ports,
                                   held.lb_ips | last.lb_ips, held.lb_hostnames | last.lb_hostnames), Holdings())
            return
        held = holdings_of(obj)
        if self.hostnames is not None:
            lb = {ip for h in held.lb_hostnames if (ip := self._lb_ip_of_host.get(h) or self.hostnames.lookup(h))}
            held = Holdings(held.cluster_ips, held.node_ports, held.lb_ips | frozenset(lb), held.lb_hostnames)
        before = self._holdings.get(key, Holdings())
        self._claim(held, before)
        self._release(before, held)
        self._holdings[key] = held
        if spec_needs(obj).any or _stale_ingress(obj) or \
                (wants_load_balancer(obj) and not (current_ingress(obj) and self._ingress_matches(obj, key))):
            self.queue.add(key)

    def _ingress_matches(self, obj: Obj, key: str) -> bool:
        """Whether the ingress is of this cluster's kind (IP or hostname) and from its pool."""
        for i in current_ingress(obj):
            if self.hostnames is not None:
                if not i.get("hostname"):
                    return False
            elif not (isinstance(i.get("ip"), str) and self.lb_ips.contains(i["ip"])):
                return False
        return True

    def _claim(self, held: Holdings, before: Holdings) -> None:
        for ip in held.cluster_ips - before.cluster_ips:
            self.cluster_ips.claim(ip)
        for port in held.node_ports - before.node_ports:
            self.node_ports.claim(port)
        for ip in held.lb_ips - before.lb_ips:
            self.lb_ips.claim(ip)
        if self.hostnames is not None:
            for host in held.lb_hostnames - before.lb_hostnames:
                backing = self._lb_ip_of_host.get(host) or self.hostnames.lookup(host)
                if backing:
                    self._lb_ip_of_host[host] = backing
                    self.hostnames.set(host, backing)

    def _release(self, held: Holdings, keep: Holdings) -> None:
        for ip in held.cluster_ips - keep.cluster_ips:
            self.cluster_ips.release(ip)
        for port in held.node_ports - keep.node_ports:
            self.node_ports.release(port)
        for ip in held.lb_ips - keep.lb_ips:
            self.lb_ips.release(ip)
        for host in held.lb_hostnames - keep.lb_hostnames:
            backing = self._lb_ip_of_host.pop(host, None)
            if backing is not None and backing not in keep.lb_ips:
                self.lb_ips.release(backing)
            if self.hostnames is not None:
                self.hostnames.remove(host)

    # -- reconcile -----------------------------------------------------------------------

    async def reconcile(self, key: str) -> None:
        ns, _, name = key.rpartition("/")
        obj = await self.objects.get_or_none(self.rt, ns, name)
        if obj is None:
            return
        needs = spec_needs(obj)
        if needs.any:
            obj = await self._allocate_spec(obj, needs)
        if wants_load_balancer(obj):
            await self._ensure_load_balancer(obj, key)
        elif _stale_ingress(obj):
            await self._delete_load_balancer(obj)

    async def _allocate_spec(self, obj: Obj, needs: SpecNeeds) -> Obj:
        meta = obj["metadata"]
        cluster_ip: str | None = None
        ports: dict[int, int] = {}
        hc: int | None = None
        try:
            if needs.cluster_ip:
                cluster_ip = self.cluster_ips.allocate()
            for i in needs.node_ports:
                ports[i] = self.node_ports.allocate()
            if needs.health_check_node_port:
                hc = self.node_ports.allocate()
        except PoolExhausted as e:
            log.warning("cluster=%s service=%s/%s: %s", self.cluster, meta.get("namespace"), meta.get("name"), e)
        allocated = Holdings(frozenset({cluster_ip} if cluster_ip else ()),
                             frozenset([*ports.values(), *([hc] if hc else [])]))
        try:
            updated = await self.objects.modify(
                self.rt, meta.get("namespace"), meta["name"],
                lambda o: apply_spec_allocations(o, cluster_ip, ports, hc), self._spec_opts)
        except BaseException:
            self._release(allocated, Holdings())
            raise
        # Give back what the object did not take (it changed meanwhile).
        self._release(allocated, holdings_of(updated))
        return updated

    async def _ensure_load_balancer(self, obj: Obj, key: str) -> None:
        meta = obj["metadata"]
        if current_ingress(obj) and self._ingress_matches(obj, key):
            return
        held = self._holdings.get(key, Holdings())
        ip = next(iter(sorted(held.lb_ips)), None)
        if ip is None:
            requested = (obj.get("spec") or {}).get("loadBalancerIP")
            if isinstance(requested, str) and requested and self.lb_ips.claim(requested):
                ip = requested
            else:
                try:
                    ip = self.lb_ips.allocate()
                except PoolExhausted:
                    await self.recorder.record(obj, "service-controller", "SyncLoadBalancerFailed",
                                               f"Error syncing load balancer: no free address in {self.lb_ips.network}",
                                               type_="Warning")
                    return
            self._holdings[key] = Holdings(held.cluster_ips, held.node_ports, held.lb_ips | {ip}, held.lb_hostnames)
        hostname = None
        if self.hostnames is not None:
            hostname = lb_hostname(self.cluster, self.spec.region, meta["name"], meta.get("uid", ""))
            self._lb_ip_of_host[hostname] = ip
            self.hostnames.set(hostname, ip)  # resolvable before anyone can read it from the status
        await self.recorder.record(obj, "service-controller", "EnsuringLoadBalancer", "Ensuring load balancer")
        want = ingress(ip, hostname)

        def set_ingress(o: Obj) -> None:
            o.setdefault("status", {})["loadBalancer"] = {"ingress": want}

        try:
            updated = await self.objects.modify(self.rt, meta.get("namespace"), meta["name"], set_ingress,
                                                self._status_opts, subresource="status")
        except E.ApiError as e:
            if e.code == 404:
                self._release(Holdings(lb_ips=frozenset({ip}), lb_hostnames=frozenset({hostname} if hostname
                                                                                       else ())), Holdings())
            raise
        await self.recorder.record(updated, "service-controller", "EnsuredLoadBalancer", "Ensured load balancer")

    async def _delete_load_balancer(self, obj: Obj) -> None:
        meta = obj["metadata"]
        await self.recorder.record(obj, "service-controller", "DeletingLoadBalancer", "Deleting load balancer")

        def clear(o: Obj) -> None:
            o.setdefault("status", {})["loadBalancer"] = {}

        updated = await self.objects.modify(self.rt, meta.get("namespace"), meta["name"], clear, self._status_opts,
                                            subresource="status")
        await self.recorder.record(updated, "service-controller", "DeletedLoadBalancer", "Deleted load balancer")


def _stale_ingress(obj: Obj) -> bool:
    """No longer a LoadBalancer but still showing one (another class's load balancers are not ours)."""
    return (obj.get("spec") or {}).get("type") != "LoadBalancer" and bool(current_ingress(obj))
