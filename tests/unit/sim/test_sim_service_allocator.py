"""ServiceAllocator on its own: cluster IPs and node ports as kube-apiserver assigns them (pure)."""

from __future__ import annotations

import copy
import ipaddress
from typing import Any

import pytest

from kfed.api import errors as E
from kfed.sim.cluster import sim_resources
from kfed.sim.service_allocation import Holdings
from kfed.sim.service_allocator import ServiceAllocator, allocated_holdings

CIDR = ipaddress.IPv4Network("10.96.0.0/28")  # hosts .2 to .14 (.1 is the `kubernetes` Service's)
SERVICES = next(rt for rt in sim_resources() if rt.plural == "services" and rt.group == "")

Obj = dict[str, Any]


def svc(name: str = "web", **spec: Any) -> Obj:
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("ports", [{"port": 80, "protocol": "TCP"}])
    return {"metadata": {"name": name, "namespace": "default"}, "spec": spec}


def allocator() -> ServiceAllocator:
    return ServiceAllocator(SERVICES, CIDR, node_ports=(30000, 30009))


def created(a: ServiceAllocator, obj: Obj) -> Obj:
    a.allocate(obj, None).commit()
    return obj


def test_create_fills_cluster_ip_node_ports_and_health_check_port() -> None:
    a = allocator()
    obj = created(a, svc(type="LoadBalancer", externalTrafficPolicy="Local", allocateLoadBalancerNodePorts=True,
                         ports=[{"port": 80, "protocol": "TCP"}, {"port": 443, "protocol": "TCP"}]))
    spec = obj["spec"]
    assert spec["clusterIP"] == "10.96.0.2" and spec["clusterIPs"] == ["10.96.0.2"]
    assert spec["ipFamilies"] == ["IPv4"] and spec["ipFamilyPolicy"] == "SingleStack"
    assert [p["nodePort"] for p in spec["ports"]] == [30000, 30001]
    assert spec["healthCheckNodePort"] == 30002
    assert allocated_holdings(obj) == Holdings(frozenset({"10.96.0.2"}), frozenset({30000, 30001, 30002}))
    assert a.cluster_ips.used == 1


def test_what_needs_nothing_gets_nothing() -> None:
    a = allocator()
    headless = created(a, svc(clusterIP="None", clusterIPs=["None"]))
    external = created(a, svc(type="ExternalName", externalName="db.example.com", ports=[]))
    no_node_ports = created(a, svc(type="LoadBalancer", allocateLoadBalancerNodePorts=False))
    assert headless["spec"]["clusterIPs"] == ["None"] and "clusterIP" not in external["spec"]
    assert "nodePort" not in no_node_ports["spec"]["ports"][0] and "healthCheckNodePort" not in no_node_ports["spec"]
    assert a.cluster_ips.used == 1  # only the load balancer's cluster IP
    assert allocated_holdings(headless) == Holdings()


def test_ports_with_one_number_share_a_node_port() -> None:
    obj = created(allocator(), svc(type="NodePort", ports=[{"port": 53, "protocol": "UDP", "name": "dns"},
                                                           {"port": 53, "protocol": "TCP", "name": "dns-tcp",
                                                            "nodePort": 30005}]))
    assert [p["nodePort"] for p in obj["spec"]["ports"]] == [30005, 30005]


def test_requested_values_are_honoured_then_refused_to_others() -> None:
    a = allocator()
    first = created(a, svc("a", type="NodePort", clusterIP="10.96.0.9", clusterIPs=["10.96.0.9"],
                           ports=[{"port": 80, "protocol": "TCP", "nodePort": 30007}]))
    assert first["spec"]["clusterIP"] == "10.96.0.9" and first["spec"]["ports"][0]["nodePort"] == 30007
    with pytest.raises(E.ApiError) as ip_taken:
        a.allocate(svc("b", clusterIP="10.96.0.9", clusterIPs=["10.96.0.9"]), None)
    assert ip_taken.value.code == 422
    assert ip_taken.value.message == ('Service "b" is invalid: spec.clusterIPs: Invalid value: []string{"10.96.0.9"}: '
                                      'failed to allocate IP 10.96.0.9: provided IP is already allocated')
    with pytest.raises(E.ApiError) as port_taken:
        a.allocate(svc("c", type="NodePort", ports=[{"port": 80, "protocol": "TCP", "nodePort": 30007}]), None)
    assert port_taken.value.message == ('Service "c" is invalid: spec.ports[0].nodePort: Invalid value: 30007: '
                                        'provided port is already allocated')
    # Neither refusal kept anything: the pools hold exactly what `a` holds.
    assert a.cluster_ips.used == 1
    assert created(a, svc("d", type="NodePort"))["spec"]["ports"][0]["nodePort"] == 30000


def test_out_of_range_and_reserved_addresses() -> None:
    a = allocator()
    with pytest.raises(E.ApiError) as outside:
        a.allocate(svc(clusterIP="10.0.0.5", clusterIPs=["10.0.0.5"]), None)
    assert outside.value.message.endswith(
        "failed to allocate IP 10.0.0.5: the provided IP (10.0.0.5) is not in the valid range. "
        "The range of valid IPs is 10.96.0.0/28")
    with pytest.raises(E.ApiError) as reserved:
        a.allocate(svc(clusterIP="10.96.0.1", clusterIPs=["10.96.0.1"]), None)
    assert reserved.value.message.endswith("failed to allocate IP 10.96.0.1: provided IP is already allocated")
    with pytest.raises(E.ApiError) as port:
        a.allocate(svc(type="NodePort", ports=[{"port": 80, "protocol": "TCP", "nodePort": 31000}]), None)
    assert port.value.message.endswith(
        "spec.ports[0].nodePort: Invalid value: 31000: provided port is not in the valid range. "
        "The range of valid ports is 30000-30009")
    assert a.cluster_ips.used == 0


def test_a_late_refusal_gives_back_what_came_before_it() -> None:
    a = allocator()
    created(a, svc("holder", type="NodePort", ports=[{"port": 80, "protocol": "TCP", "nodePort": 30003}]))
    used = a.cluster_ips.used
    with pytest.raises(E.ApiError):  # the cluster IP is taken first, then the node port is refused
        a.allocate(svc("late", type="NodePort", clusterIP="10.96.0.12", clusterIPs=["10.96.0.12"],
                       ports=[{"port": 80, "protocol": "TCP", "nodePort": 30003}]), None)
    assert a.cluster_ips.used == used
    assert created(a, svc("next", clusterIP="10.96.0.12", clusterIPs=["10.96.0.12"]))["spec"]["clusterIP"] == \
        "10.96.0.12"


def test_health_check_port_conflicts_are_internal_errors() -> None:
    a = allocator()
    created(a, svc("a", type="NodePort", ports=[{"port": 80, "protocol": "TCP", "nodePort": 30004}]))
    with pytest.raises(E.ApiError) as taken:
        a.allocate(svc("b", type="LoadBalancer", externalTrafficPolicy="Local", healthCheckNodePort=30004), None)
    assert taken.value.code == 500
    assert taken.value.message == ("Internal error occurred: failed to allocate requested HealthCheck NodePort "
                                   "30004: provided port is already allocated")


def test_single_stack_cluster_refuses_ipv6_and_require_dual_stack() -> None:
    a = allocator()
    with pytest.raises(E.ApiError) as dual:
        a.allocate(svc(ipFamilyPolicy="RequireDualStack", ipFamilies=["IPv4", "IPv6"]), None)
    assert dual.value.message == (
        'Service "web" is invalid: [spec.ipFamilyPolicy: Invalid value: "RequireDualStack": this cluster is not '
        'configured for dual-stack services, spec.ipFamilies[1]: Invalid value: "IPv6": not configured on this cluster]')
    prefer = created(a, svc(ipFamilyPolicy="PreferDualStack"))
    assert prefer["spec"]["clusterIPs"] == [prefer["spec"]["clusterIP"]] and prefer["spec"]["ipFamilies"] == ["IPv4"]


def test_pool_exhaustion_is_an_internal_error() -> None:
    a = ServiceAllocator(SERVICES, ipaddress.IPv4Network("10.96.0.0/30"))  # one host left: .2
    created(a, svc("a"))
    with pytest.raises(E.ApiError) as full:
        a.allocate(svc("b"), None)
    assert full.value.code == 500 and full.value.message == \
        "Internal error occurred: failed to allocate a serviceIP: range is full"


def test_updates_allocate_what_a_type_change_needs_and_release_on_commit_only() -> None:
    a = allocator()
    old = created(a, svc(type="NodePort"))
    node_port = old["spec"]["ports"][0]["nodePort"]
    # NodePort -> ClusterIP: the node port is given back once the update is stored, not before.
    new = copy.deepcopy(old)
    new["spec"]["type"] = "ClusterIP"
    del new["spec"]["ports"][0]["nodePort"]
    allocation = a.allocate(new, old)
    assert not a.node_ports.claim(node_port), "still held until the write is stored"
    allocation.revert()  # the write failed: the old object keeps its port
    assert not a.node_ports.claim(node_port)
    a.allocate(copy.deepcopy(new), old).commit()
    assert a.node_ports.claim(node_port), "released by the stored update"
    # ExternalName -> ClusterIP gets a cluster IP; ClusterIP -> ExternalName gives it back.
    external = created(a, svc("ext", type="ExternalName", externalName="db.example.com"))
    to_cluster_ip = copy.deepcopy(external)
    to_cluster_ip["spec"]["type"] = "ClusterIP"
    a.allocate(to_cluster_ip, external).commit()
    ip = to_cluster_ip["spec"]["clusterIP"]
    assert ipaddress.IPv4Address(ip) in CIDR
    back = copy.deepcopy(to_cluster_ip)
    back["spec"] = {"type": "ExternalName", "externalName": "db.example.com"}
    a.allocate(back, to_cluster_ip).commit()
    assert a.cluster_ips.claim(ip)


def test_an_unchanged_update_takes_nothing() -> None:
    a = allocator()
    old = created(a, svc(type="LoadBalancer", externalTrafficPolicy="Local"))
    allocation = a.allocate(copy.deepcopy(old), old)
    allocation.commit()
    assert a.cluster_ips.used == 1 and not a.node_ports.claim(old["spec"]["healthCheckNodePort"])


def test_release_and_claim_existing() -> None:
    a = allocator()
    obj = created(a, svc(type="NodePort"))
    b = allocator()
    b.claim_existing([obj])  # a restarted cluster learns what its stored Services hold
    with pytest.raises(E.ApiError):
        b.allocate(svc("x", clusterIP=obj["spec"]["clusterIP"], clusterIPs=[obj["spec"]["clusterIP"]]), None)
    b.release(obj)
    again = created(b, svc("x", type="NodePort", clusterIP=obj["spec"]["clusterIP"],
                           clusterIPs=[obj["spec"]["clusterIP"]], ports=[{"port": 80, "protocol": "TCP",
                                                                          "nodePort": obj["spec"]["ports"][0]["nodePort"]}]))
    assert again["spec"]["clusterIP"] == obj["spec"]["clusterIP"]
