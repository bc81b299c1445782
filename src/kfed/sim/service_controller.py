"""Load balancers of a simulated cluster's Services.

The cluster IPs and node ports come from the API's own writes (kfed.sim.service_allocator); this
controller provisions load balancers afterwards, in a status write of its own, as a cloud's does.
"""

from __future__ import annotations

import logging
from typing import Protocol

from kfed.api import errors as E
from kfed.api.objects import ObjectService, WriteOptions
from kfed.model.resource import Obj, ResourceType
from kfed.sim.addresses import AddressPlan, IpPool, PoolExhausted
from kfed.sim.controller import Controller
from kfed.sim.events import EventRecorder
from kfed.sim.layout import ClusterSpec
from kfed.sim.service_allocation import (
    Holdings,
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
        self.lb_ips = IpPool(plan.lb_pool)
        self.recorder = recorder
        self.hostnames = hostnames if cluster.lb_hostnames else None
        self._holdings: dict[str, Holdings] = {}  # load-balancer addresses and hostnames by Service
        # In hostname mode the ingress shows no IP: remember which pool address backs each hostname.
        self._lb_ip_of_host: dict[str, str] = {}
        # Results are only read: watchers get the written object, nobody decodes it again.
        self._repair_opts = WriteOptions(field_manager="kube-apiserver", shared_result=True)
        self._status_opts = WriteOptions(field_manager="service-controller", shared_result=True)

    # -- events --------------------------------------------------------------------------

    def on_service(self, event: str, obj: Obj) -> None:
        meta = obj.get("metadata", {})
        key = key_of(meta.get("namespace", ""), meta.get("name", ""))
        if event == "DELETED":
            held, last = self._holdings.pop(key, Holdings()), _load_balancer_holdings(obj)
            self._release(Holdings(lb_ips=held.lb_ips | last.lb_ips, lb_hostnames=held.lb_hostnames | last.lb_hostnames),
                          Holdings())
            return
        held = _load_balancer_holdings(obj)
        if self.hostnames is not None:
            lb = {ip for h in held.lb_hostnames if (ip := self._lb_ip_of_host.get(h) or self.hostnames.lookup(h))}
            held = Holdings(lb_ips=held.lb_ips | frozenset(lb), lb_hostnames=held.lb_hostnames)
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
        for ip in held.lb_ips - before.lb_ips:
            self.lb_ips.claim(ip)
        if self.hostnames is not None:
            for host in held.lb_hostnames - before.lb_hostnames:
                backing = self._lb_ip_of_host.get(host) or self.hostnames.lookup(host)
                if backing:
                    self._lb_ip_of_host[host] = backing
                    self.hostnames.set(host, backing)

    def _release(self, held: Holdings, keep: Holdings) -> None:
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
        obj = await self.objects.get_shared_or_none(self.rt, ns, name)  # only read here
        if obj is None:
            return
        if spec_needs(obj).any:
            obj = await self._repair_spec(obj)
        if wants_load_balancer(obj):
            await self._ensure_load_balancer(obj, key)
        elif _stale_ingress(obj):
            await self._delete_load_balancer(obj)

    async def _repair_spec(self, obj: Obj) -> Obj:
        """A Service stored without its cluster IP or node ports: one written before the API's
        allocator was in place (they are assigned inside every create and update). Any update
        of its spec has the allocator fill them in, so an unchanged one does."""
        meta = obj["metadata"]
        log.info("cluster=%s service=%s/%s: allocating what it was stored without", self.cluster,
                 meta.get("namespace"), meta.get("name"))
        try:
            return await self.objects.modify(self.rt, meta.get("namespace"), meta["name"], lambda o: None,
                                             self._repair_opts)
        except E.ApiError as e:
            if e.code == 404:
                raise
            # Refused (an address taken meanwhile, a full pool): as a real cluster, it stays without.
            log.warning("cluster=%s service=%s/%s: %s", self.cluster, meta.get("namespace"), meta.get("name"),
                        e.message)
            return obj

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


def _load_balancer_holdings(obj: Obj) -> Holdings:
    held = holdings_of(obj)
    return Holdings(lb_ips=held.lb_ips, lb_hostnames=held.lb_hostnames)


def _stale_ingress(obj: Obj) -> bool:
    """No longer a LoadBalancer but still showing one (another class's load balancers are not ours)."""
    return (obj.get("spec") or {}).get("type") != "LoadBalancer" and bool(current_ingress(obj))
