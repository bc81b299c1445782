"""Cluster IPs and node ports of a simulated cluster's Services, assigned inside the API's writes.

kube-apiserver allocates a Service's cluster IP, node ports and health-check node port while it
creates the Service (or updates it to a type that needs them), so the create's response and its
first watch event carry them and no second write follows. `ServiceAllocator` does the same as an
ObjectService Allocator: explicit requests are honoured or refused with kube-apiserver's errors,
what a failed write took is given back, and a deleted Service's values are free again at once.
The load balancer is not here: a cloud provisions it later, in a write of its own (the
simulated cluster's ServiceController).

The simulated clusters are single-stack IPv4 with one service range each; they refuse IPv6 and
RequireDualStack as such a real cluster does. Pure (pools in memory, no I/O).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from kfed.api import errors as E
from kfed.api.objects import NO_ALLOCATION, Allocation
from kfed.model import validation as v
from kfed.model.resource import FieldCause, Obj, ResourceType
from kfed.model.strategies.service import (
    EXTERNAL_NAME,
    LOAD_BALANCER,
    NODE_PORT,
    cluster_ips,
    needs_health_check,
    service_type,
)
from kfed.sim.addresses import IpPool, PoolExhausted, PortPool
from kfed.sim.service_allocation import Holdings

#: the only IP family a simulated cluster serves
CLUSTER_FAMILY = "IPv4"


def _spec(obj: Obj | None) -> dict[str, Any]:
    spec = (obj or {}).get("spec")
    return spec if isinstance(spec, dict) else {}


def _requested_ips(spec: dict[str, Any]) -> list[str]:
    ips = cluster_ips(spec)
    if not ips and isinstance(spec.get("clusterIP"), str) and spec["clusterIP"]:
        ips = [spec["clusterIP"]]
    return ips


def _node_port(port: Any) -> int:
    value = port.get("nodePort") if isinstance(port, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _gets_node_ports(spec: dict[str, Any]) -> bool:
    return service_type(spec) in (NODE_PORT, LOAD_BALANCER)


def allocated_holdings(obj: Obj | None) -> Holdings:
    """The cluster IPs and node ports a stored Service holds of its cluster's pools: exactly what
    ServiceAllocator.allocate makes sure of (a headless or ExternalName Service holds no IP, a
    ClusterIP Service no node port), so what it gives back on delete is what it took."""
    spec = _spec(obj)
    stype = service_type(spec) or "ClusterIP"
    ips: frozenset[str] = frozenset()
    if stype != EXTERNAL_NAME:
        requested = _requested_ips(spec)
        if requested and requested[0] != "None":
            ips = frozenset(requested)
    ports: set[int] = set()
    if _gets_node_ports(spec):
        ports = {p for p in map(_node_port, spec.get("ports") or []) if p}
    hc = spec.get("healthCheckNodePort")
    if needs_health_check(spec) and isinstance(hc, int) and not isinstance(hc, bool) and hc:
        ports.add(hc)
    return Holdings(ips, frozenset(ports))


class _Taken:
    """What one write has taken from the pools so far (given back if the write fails)."""

    def __init__(self, owner: ServiceAllocator) -> None:
        self.owner = owner
        self.ips: list[str] = []
        self.ports: list[int] = []

    def revert(self) -> None:
        for ip in self.ips:
            self.owner.cluster_ips.release(ip)
        for port in self.ports:
            self.owner.node_ports.release(port)
        self.ips, self.ports = [], []


class ServiceAllocator:
    """The kfed.api.objects.Allocator of one simulated cluster's Services."""

    def __init__(self, services: ResourceType, service_cidr: ipaddress.IPv4Network,
                 node_ports: tuple[int, int] = (30000, 32767)) -> None:
        self.rt = services
        self.cluster_ips = IpPool(service_cidr)  # x.x.x.1 is the `kubernetes` Service's in a real cluster
        self.node_ports = PortPool(*node_ports)

    def claim_existing(self, services: Iterable[Obj]) -> None:
        """Mark taken what stored Services hold (a restarted cluster's store keeps its objects)."""
        for obj in services:
            held = allocated_holdings(obj)
            for ip in held.cluster_ips:
                self.cluster_ips.claim(ip)
            for port in held.node_ports:
                self.node_ports.claim(port)

    # -- the Allocator protocol ------------------------------------------------------------

    def allocate(self, obj: Obj, old: Obj | None) -> Allocation:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return NO_ALLOCATION
        before = allocated_holdings(old) if old is not None else Holdings()
        taken = _Taken(self)
        try:
            self._cluster_ips(obj, spec, before, taken)
            own_ports = self._node_ports(obj, spec, before, taken)
            self._health_check_node_port(spec, before, own_ports, taken)
        except BaseException:
            taken.revert()
            raise
        after = allocated_holdings(obj)
        dropped = Holdings(before.cluster_ips - after.cluster_ips, before.node_ports - after.node_ports)
        if not (taken.ips or taken.ports or dropped.cluster_ips or dropped.node_ports):
            return NO_ALLOCATION  # the common update: nothing taken, nothing given back
        return Allocation(commit=lambda: self._give_back(dropped), revert=taken.revert)

    def release(self, obj: Obj) -> None:
        self._give_back(allocated_holdings(obj))

    def _give_back(self, held: Holdings) -> None:
        for ip in held.cluster_ips:
            self.cluster_ips.release(ip)
        for port in held.node_ports:
            self.node_ports.release(port)

    # -- cluster IPs -------------------------------------------------------------------------

    def _cluster_ips(self, obj: Obj, spec: dict[str, Any], before: Holdings, taken: _Taken) -> None:
        if (service_type(spec) or "ClusterIP") == EXTERNAL_NAME:
            return
        requested = _requested_ips(spec)
        if requested and requested[0] == "None":
            return  # headless: no cluster IP
        self._check_families(obj, spec)
        for ip in requested:
            if ip in before.cluster_ips or ip in taken.ips:
                continue
            problem = self._claim_ip(ip)
            if problem:
                raise E.invalid(self.rt, _name(obj), [v.invalid(
                    "spec.clusterIPs", v.go_string_slice(spec.get("clusterIPs") or requested),
                    f"failed to allocate IP {ip}: {problem}")])
            taken.ips.append(ip)
        if not requested:
            try:
                ip = self.cluster_ips.allocate()
            except PoolExhausted:
                raise E.internal("failed to allocate a serviceIP: range is full") from None
            taken.ips.append(ip)
            spec["clusterIP"] = ip
            spec["clusterIPs"] = [ip]
        spec.setdefault("ipFamilies", [CLUSTER_FAMILY])
        spec.setdefault("ipFamilyPolicy", "SingleStack")

    def _check_families(self, obj: Obj, spec: dict[str, Any]) -> None:
        """What a single-stack IPv4 kube-apiserver refuses before it allocates."""
        causes: list[FieldCause] = []
        if spec.get("ipFamilyPolicy") == "RequireDualStack":
            causes.append(v.invalid("spec.ipFamilyPolicy", "RequireDualStack",
                                    "this cluster is not configured for dual-stack services"))
        for i, family in enumerate(spec.get("ipFamilies") or []):
            if family != CLUSTER_FAMILY:
                causes.append(v.invalid(f"spec.ipFamilies[{i}]", family, "not configured on this cluster"))
        if causes:
            raise E.invalid(self.rt, _name(obj), causes)

    def _claim_ip(self, ip: str) -> str:
        """Why `ip` cannot be had ("" when it is now taken for the caller)."""
        pool = self.cluster_ips
        if pool.claim(ip):
            return ""
        if pool.contains(ip):
            return "provided IP is already allocated"
        network = pool.network
        try:
            address: ipaddress.IPv4Address | None = ipaddress.IPv4Address(ip)
        except ValueError:
            address = None
        if address is not None and network.network_address < address < network.broadcast_address:
            return "provided IP is already allocated"  # a reserved address (the `kubernetes` Service's)
        return f"the provided IP ({ip}) is not in the valid range. The range of valid IPs is {network}"

    # -- node ports --------------------------------------------------------------------------

    def _node_ports(self, obj: Obj, spec: dict[str, Any], before: Holdings, taken: _Taken) -> set[int]:
        """Claim the requested node ports, allocate the missing ones; returns the Service's ports."""
        if not _gets_node_ports(spec):
            return set()
        auto = service_type(spec) == NODE_PORT or spec.get("allocateLoadBalancerNodePorts") is not False
        ports = [p for p in spec.get("ports") or [] if isinstance(p, dict)]
        # Ports with one number (53/TCP and 53/UDP) share a node port, a requested one first.
        by_number: dict[Any, int] = {}
        for p in ports:
            if _node_port(p):
                by_number.setdefault(p.get("port"), _node_port(p))
        own: set[int] = set()
        for i, p in enumerate(ports):
            node_port = _node_port(p)
            if node_port:
                if node_port not in before.node_ports and node_port not in taken.ports:
                    problem = self._claim_port(node_port)
                    if problem:
                        raise E.invalid(self.rt, _name(obj), [v.invalid(f"spec.ports[{i}].nodePort", node_port, problem)])
                    taken.ports.append(node_port)
            elif auto:
                node_port = by_number.get(p.get("port"), 0)
                if not node_port:
                    try:
                        node_port = self.node_ports.allocate()
                    except PoolExhausted:
                        raise E.internal("failed to allocate a nodePort: range is full") from None
                    taken.ports.append(node_port)
                    by_number[p.get("port")] = node_port
                p["nodePort"] = node_port
            if node_port:
                own.add(node_port)
        return own

    def _health_check_node_port(self, spec: dict[str, Any], before: Holdings, own_ports: set[int],
                                taken: _Taken) -> None:
        if not needs_health_check(spec):
            return
        hc = spec.get("healthCheckNodePort")
        if isinstance(hc, int) and not isinstance(hc, bool) and hc:
            if hc in before.node_ports:
                return
            # kube-apiserver answers 500 here: the request was valid, the allocation failed.
            problem = "provided port is already allocated" if hc in own_ports else self._claim_port(hc)
            if problem:
                raise E.internal(f"failed to allocate requested HealthCheck NodePort {hc}: {problem}")
            taken.ports.append(hc)
            return
        try:
            port = self.node_ports.allocate()
        except PoolExhausted:
            raise E.internal("failed to allocate a HealthCheck NodePort: range is full") from None
        taken.ports.append(port)
        spec["healthCheckNodePort"] = port

    def _claim_port(self, port: int) -> str:
        pool = self.node_ports
        if pool.claim(port):
            return ""
        if pool.first <= port <= pool.last:
            return "provided port is already allocated"
        return f"provided port is not in the valid range. The range of valid ports is {pool.first}-{pool.last}"


def _name(obj: Obj) -> str:
    meta = obj.get("metadata")
    return str(meta.get("name", "")) if isinstance(meta, dict) else ""
