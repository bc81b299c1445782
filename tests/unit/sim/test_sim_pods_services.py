"""Pod status, node objects and Service address allocation (pure cores of the simulated controllers)."""

from __future__ import annotations

import ipaddress
from typing import Any

from kfed.sim.layout import ClusterSpec
from kfed.sim.nodes import node_objects
from kfed.sim.podstatus import is_ready, running_status
from kfed.sim.service_allocation import (
    Holdings,
    holdings_of,
    ingress,
    lb_hostname,
    spec_needs,
    wants_load_balancer,
)
from kfed.sim.views import node_view

T0, T1 = "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z"


def pod() -> dict[str, Any]:
    return {"metadata": {"name": "nginx", "uid": "u1"},
            "spec": {"containers": [{"name": "nginx", "image": "nginx:1.11.1-alpine"}, {"name": "side", "image": "busybox"}]},
            "status": {"phase": "Pending", "qosClass": "BestEffort"}}


def conditions(status: dict[str, Any]) -> dict[str, str]:
    return {c["type"]: c["status"] for c in status["conditions"]}


def test_running_status_ready_and_not_ready() -> None:
    p = pod()
    st = running_status(p, pod_ip="10.128.0.5", host_ip="10.255.0.1", ready=False, now=T0)
    assert st["phase"] == "Running" and st["podIP"] == "10.128.0.5" and st["podIPs"] == [{"ip": "10.128.0.5"}]
    assert st["hostIP"] == "10.255.0.1" and st["qosClass"] == "BestEffort" and st["startTime"] == T0
    assert conditions(st) == {"PodReadyToStartContainers": "True", "Initialized": "True", "Ready": "False",
                              "ContainersReady": "False", "PodScheduled": "True"}
    ready_cond = next(c for c in st["conditions"] if c["type"] == "Ready")
    assert ready_cond["reason"] == "ContainersNotReady" and "[nginx side]" in ready_cond["message"]
    assert [(c["name"], c["ready"], c["restartCount"]) for c in st["containerStatuses"]] == [
        ("nginx", False, 0), ("side", False, 0)]
    assert st["containerStatuses"][0]["imageID"].startswith("docker.io/library/nginx@sha256:")
    assert st["containerStatuses"][0]["containerID"].startswith("containerd://")
    p["status"] = st
    assert not is_ready(p)
    st2 = running_status(p, pod_ip="10.128.0.5", host_ip="10.255.0.1", ready=True, now=T1)
    p["status"] = st2
    assert is_ready(p)
    times = {c["type"]: c["lastTransitionTime"] for c in st2["conditions"]}
    assert times["Ready"] == T1 and times["PodScheduled"] == T0  # only what changed moves
    assert st2["startTime"] == T0
    assert st2["containerStatuses"][0]["state"]["running"]["startedAt"] == T0


def test_nodes_are_labelled_with_zone_and_region() -> None:
    spec = ClusterSpec("c", "us-central1", ("us-central1-a", "us-central1-b"))
    nodes = node_objects(spec, ipaddress.IPv4Network("10.255.3.0/24"), 2, T0)
    assert len(nodes) == 4
    obj, status = nodes[2]
    labels = obj["metadata"]["labels"]
    assert obj["metadata"]["name"] == "us-central1-b-node-0"
    assert labels["topology.kubernetes.io/zone"] == labels["failure-domain.beta.kubernetes.io/zone"] == "us-central1-b"
    assert labels["topology.kubernetes.io/region"] == labels["failure-domain.beta.kubernetes.io/region"] == "us-central1"
    assert labels["kubernetes.io/hostname"] == "us-central1-b-node-0"
    view = node_view({**obj, "status": status})
    assert (view.zone, view.region, view.internal_ip, view.ready) == ("us-central1-b", "us-central1", "10.255.3.3", True)
    assert len({n[1]["addresses"][0]["address"] for n in nodes}) == 4


def svc(**spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}, {"port": 443}], **spec}}


def test_spec_needs() -> None:
    assert spec_needs(svc(type="ClusterIP")).cluster_ip
    assert spec_needs(svc(type="ClusterIP")).node_ports == ()
    assert not spec_needs(svc(type="ClusterIP", clusterIP="None")).any  # headless
    assert not spec_needs(svc(type="ExternalName", externalName="x.example")).any
    assert spec_needs(svc(type="NodePort", clusterIP="10.96.0.9")).node_ports == (0, 1)
    lb = svc(type="LoadBalancer", clusterIP="10.96.0.9", ports=[{"port": 80, "nodePort": 30001}, {"port": 443}])
    assert spec_needs(lb).node_ports == (1,)
    assert spec_needs({**lb, "spec": {**lb["spec"], "allocateLoadBalancerNodePorts": False}}).node_ports == ()
    local = svc(type="LoadBalancer", clusterIP="10.96.0.9", externalTrafficPolicy="Local",
                ports=[{"port": 80, "nodePort": 30001}])
    assert spec_needs(local).health_check_node_port and not spec_needs(local).node_ports


def test_holdings_of_a_service() -> None:
    obj = svc(type="LoadBalancer", clusterIP="10.96.0.7", clusterIPs=["10.96.0.7"], healthCheckNodePort=32001,
              ports=[{"port": 80, "nodePort": 30001}])
    obj["status"] = {"loadBalancer": {"ingress": [{"ip": "127.100.0.2"}, {"hostname": "a.elb.sim.kfed.test"}]}}
    assert holdings_of(obj) == Holdings(frozenset({"10.96.0.7"}), frozenset({30001, 32001}),
                                        frozenset({"127.100.0.2"}), frozenset({"a.elb.sim.kfed.test"}))
    assert holdings_of(svc(clusterIP="None")) == Holdings()
    assert wants_load_balancer(obj)
    assert not wants_load_balancer({"spec": {"type": "LoadBalancer", "loadBalancerClass": "example.com/lb"}})


def test_lb_hostnames_are_valid_dns_names() -> None:
    name = lb_hostname("us-east1-b", "us-east1", "a" * 63, "uid-1")
    labels = name.split(".")
    assert all(0 < len(label) <= 63 for label in labels)
    assert name.endswith(".us-east1.elb.sim.kfed.test")
    assert lb_hostname("us-east1-b", "us-east1", "web", "uid-1") != lb_hostname("us-east1-c", "us-east1", "web", "uid-1")
    assert ingress("127.1.2.3", None) == [{"ip": "127.1.2.3", "ipMode": "VIP"}]
    assert ingress("127.1.2.3", "h.example") == [{"hostname": "h.example"}]
