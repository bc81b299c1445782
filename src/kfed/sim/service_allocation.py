"""What a Service holds of its cluster's address pools, and what it still needs (pure).

A real kube-apiserver allocates the cluster IP and node ports while it creates the Service
(kfed.sim.service_allocator does so inside the simulated API's writes), and the cloud's service
controller then provisions the load balancer in a write of its own (the simulated cluster's
ServiceController), so clients see what they would see from a cluster: the create's response
carries the cluster IP, `status.loadBalancer.ingress` follows.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from kfed.model.resource import Obj

LB_DOMAIN = "elb.sim.kfed.test"


@dataclass(frozen=True)
class Holdings:
    cluster_ips: frozenset[str] = frozenset()
    node_ports: frozenset[int] = frozenset()
    lb_ips: frozenset[str] = frozenset()
    lb_hostnames: frozenset[str] = frozenset()


def _spec(obj: Obj) -> dict[str, Any]:
    spec = obj.get("spec")
    return spec if isinstance(spec, dict) else {}


def holdings_of(obj: Obj) -> Holdings:
    spec = _spec(obj)
    ips = {ip for ip in (spec.get("clusterIPs") or [spec.get("clusterIP")]) if isinstance(ip, str) and ip
           and ip != "None"}
    ports = {p["nodePort"] for p in spec.get("ports") or [] if isinstance(p, dict) and isinstance(p.get("nodePort"), int)}
    if isinstance(spec.get("healthCheckNodePort"), int):
        ports.add(spec["healthCheckNodePort"])
    ingress = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    lb_ips = {i["ip"] for i in ingress if isinstance(i, dict) and isinstance(i.get("ip"), str)}
    hostnames = {i["hostname"] for i in ingress if isinstance(i, dict) and isinstance(i.get("hostname"), str)}
    return Holdings(frozenset(ips), frozenset(ports), frozenset(lb_ips), frozenset(hostnames))


@dataclass(frozen=True)
class SpecNeeds:
    cluster_ip: bool
    node_ports: tuple[int, ...]  # indexes of spec.ports that need a node port
    health_check_node_port: bool

    @property
    def any(self) -> bool:
        return self.cluster_ip or bool(self.node_ports) or self.health_check_node_port


def spec_needs(obj: Obj) -> SpecNeeds:
    """What the API's allocator has not given a stored Service (nothing, unless it was written
    before the allocator was in place)."""
    spec = _spec(obj)
    stype = spec.get("type") or "ClusterIP"
    if stype == "ExternalName":
        return SpecNeeds(False, (), False)
    needs_ip = not spec.get("clusterIP")
    want_node_ports = stype == "NodePort" or (stype == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts")
                                               is not False)
    ports = tuple(i for i, p in enumerate(spec.get("ports") or [])
                  if want_node_ports and isinstance(p, dict) and not p.get("nodePort"))
    hc = stype == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local" and \
        not spec.get("healthCheckNodePort")
    return SpecNeeds(needs_ip, ports, hc)


def wants_load_balancer(obj: Obj) -> bool:
    spec = _spec(obj)
    # A loadBalancerClass names another implementation: the cluster's own controller leaves it alone.
    return spec.get("type") == "LoadBalancer" and not spec.get("loadBalancerClass")


def lb_hostname(cluster: str, region: str, name: str, uid: str) -> str:
    """AWS-style: `<service>-<hash>.<region>.elb.sim.kfed.test` (each label at most 63 characters)."""
    digest = hashlib.sha256(f"{cluster}/{uid}".encode()).hexdigest()[:16]
    return f"{name[:46]}-{digest}.{region}.{LB_DOMAIN}"


def ingress(ip: str, hostname: str | None) -> list[Obj]:
    if hostname:
        return [{"hostname": hostname}]
    return [{"ip": ip, "ipMode": "VIP"}]


def current_ingress(obj: Obj) -> list[Any]:
    return list(((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or [])
