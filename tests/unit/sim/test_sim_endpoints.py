"""Endpoints and EndpointSlices computed from a Service and its pods (the pure core)."""

from __future__ import annotations

from typing import Any

from kfed.sim.endpoints import (
    SLICE_FIELDS,
    content_digest,
    endpoint_subsets,
    endpoints_object,
    slice_contents,
    slice_name,
    slice_object,
)
from kfed.sim.indexes import PodIndex, ServiceIndex
from kfed.sim.views import PodView, pod_view, service_view

ZONES = {"node-a": "zone-a", "node-b": "zone-b"}


def pod(name: str, ip: str = "10.0.0.1", *, ready: bool = True, node: str = "node-a", labels: dict[str, str] | None = None,
        terminating: bool = False, phase: str = "Running", ports: list[dict[str, Any]] | None = None,
        namespace: str = "default") -> PodView:
    obj = {
        "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{name}", "resourceVersion": "5",
                     "labels": labels if labels is not None else {"app": "web"},
                     **({"deletionTimestamp": "2026-01-01T00:00:00Z"} if terminating else {})},
        "spec": {"nodeName": node, "containers": [{"name": "c", "ports": ports or [{"containerPort": 8080,
                                                                                  "name": "http"}]}]},
        "status": {"phase": phase, "podIP": ip,
                   "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }
    return pod_view(obj)


def svc(ports: list[dict[str, Any]] | None = None, selector: dict[str, str] | None = None, **spec: Any) -> Any:
    return service_view({
        "metadata": {"name": "web", "namespace": "default", "uid": "svc-uid", "labels": {"team": "a"}},
        "spec": {"selector": {"app": "web"} if selector is None else selector,
                 "ports": ports if ports is not None else [{"name": "http", "port": 80, "targetPort": 8080,
                                                            "protocol": "TCP"}], **spec},
    })


def test_ready_and_not_ready_addresses() -> None:
    pods = [pod("b", "10.0.0.10", ready=False), pod("a", "10.0.0.9"), pod("c", "", ready=False)]
    subsets = endpoint_subsets(svc(), pods)
    assert subsets == [{
        "addresses": [{"ip": "10.0.0.9", "nodeName": "node-a",
                       "targetRef": {"kind": "Pod", "namespace": "default", "name": "a", "uid": "uid-a"}}],
        "notReadyAddresses": [{"ip": "10.0.0.10", "nodeName": "node-a",
                               "targetRef": {"kind": "Pod", "namespace": "default", "name": "b", "uid": "uid-b"}}],
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
    }]


def test_addresses_sort_numerically() -> None:
    subsets = endpoint_subsets(svc(), [pod("x", "10.0.0.10"), pod("y", "10.0.0.9")])
    assert [a["ip"] for a in subsets[0]["addresses"]] == ["10.0.0.9", "10.0.0.10"]


def test_terminating_and_finished_pods() -> None:
    pods = [pod("t", "10.0.0.1", terminating=True), pod("done", "10.0.0.2", phase="Succeeded"), pod("ok", "10.0.0.3")]
    assert [a["ip"] for a in endpoint_subsets(svc(), pods)[0]["addresses"]] == ["10.0.0.3"]
    (content,) = slice_contents(svc(), pods, ZONES)
    by_ip = {e.ip: e for e in content.endpoints}
    assert set(by_ip) == {"10.0.0.1", "10.0.0.3"}
    assert (by_ip["10.0.0.1"].ready, by_ip["10.0.0.1"].serving, by_ip["10.0.0.1"].terminating) == (False, True, True)
    assert (by_ip["10.0.0.3"].ready, by_ip["10.0.0.3"].terminating) == (True, False)


def test_named_target_port_resolves_per_pod() -> None:
    service = svc([{"name": "http", "port": 80, "targetPort": "web", "protocol": "TCP"}])
    pods = [pod("a", "10.0.0.1", ports=[{"name": "web", "containerPort": 8080}]),
            pod("b", "10.0.0.2", ports=[{"name": "web", "containerPort": 9090}]),
            pod("c", "10.0.0.3", ports=[{"name": "other", "containerPort": 7070}])]
    subsets = endpoint_subsets(service, pods)
    assert [(s["ports"][0]["port"], [a["ip"] for a in s["addresses"]]) for s in subsets] == [
        (8080, ["10.0.0.1"]), (9090, ["10.0.0.2"])]
    contents = slice_contents(service, pods, ZONES)
    assert [(c.ports[0][1], [e.ip for e in c.endpoints]) for c in contents] == [
        (8080, ["10.0.0.1"]), (9090, ["10.0.0.2"])]


def test_publish_not_ready_addresses() -> None:
    service = svc(publishNotReadyAddresses=True)
    subsets = endpoint_subsets(service, [pod("a", ready=False)])
    assert "notReadyAddresses" not in subsets[0] and subsets[0]["addresses"][0]["ip"] == "10.0.0.1"


def test_slice_endpoints_carry_zone_of_their_node() -> None:
    (content,) = slice_contents(svc(), [pod("a", "10.0.0.1", node="node-a"), pod("b", "10.0.0.2", node="node-b"),
                                        pod("c", "10.0.0.3", node="gone")], ZONES)
    obj = slice_object(svc(), content, "web-abcde")
    assert [(e["addresses"], e.get("zone"), e.get("nodeName")) for e in obj["endpoints"]] == [
        (["10.0.0.1"], "zone-a", "node-a"), (["10.0.0.2"], "zone-b", "node-b"), (["10.0.0.3"], None, "gone")]
    assert obj["metadata"]["labels"] == {"team": "a", "kubernetes.io/service-name": "web",
                                         "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}
    assert obj["metadata"]["ownerReferences"][0]["uid"] == "svc-uid"
    assert obj["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    assert obj["addressType"] == "IPv4"


def test_slices_are_chunked_and_empty_services_get_a_placeholder() -> None:
    pods = [pod(f"p{i}", f"10.0.1.{i}") for i in range(1, 8)]
    contents = slice_contents(svc(), pods, ZONES, max_per_slice=3)
    assert [len(c.endpoints) for c in contents] == [3, 3, 1]
    (placeholder,) = slice_contents(svc(), [], ZONES)
    assert placeholder.ports == () and placeholder.endpoints == ()


def test_endpoints_object_and_stable_slice_names() -> None:
    obj = endpoints_object(svc(clusterIP="None"), [])
    assert obj["metadata"]["labels"] == {"team": "a", "endpointslice.kubernetes.io/skip-mirror": "true",
                                         "service.kubernetes.io/headless": ""}
    assert "subsets" not in obj
    assert slice_name(svc(), 0) == slice_name(svc(), 0) != slice_name(svc(), 1)
    assert slice_name(svc(), 0).startswith("web-")


def test_content_digest_ignores_server_fields() -> None:
    (content,) = slice_contents(svc(), [pod("a")], ZONES)
    a = slice_object(svc(), content, "web-x")
    b = slice_object(svc(), content, "web-x")
    b["metadata"]["resourceVersion"] = "99"
    b["metadata"]["managedFields"] = [{"manager": "x"}]
    assert content_digest(a, SLICE_FIELDS) == content_digest(b, SLICE_FIELDS)
    b["endpoints"][0]["conditions"]["ready"] = False
    assert content_digest(a, SLICE_FIELDS) != content_digest(b, SLICE_FIELDS)


def test_indexes_find_selected_pods_and_selecting_services() -> None:
    pods = PodIndex()
    pods.upsert(pod("a", labels={"app": "web", "tier": "1"}))
    pods.upsert(pod("b", labels={"app": "web"}))
    pods.upsert(pod("c", labels={"app": "web"}, namespace="other"))
    assert {p.name for p in pods.selected("default", (("app", "web"),))} == {"a", "b"}
    assert {p.name for p in pods.selected("default", (("app", "web"), ("tier", "1")))} == {"a"}
    assert pods.selected("default", ()) == []
    old = pods.upsert(pod("a", labels={"app": "db"}))
    assert old is not None and old.labels == (("app", "web"), ("tier", "1"))
    assert {p.name for p in pods.selected("default", (("app", "web"),))} == {"b"}
    assert pods.remove("default/b") is not None and pods.selected("default", (("app", "web"),)) == []

    services = ServiceIndex()
    services.upsert(svc())
    services.upsert(svc(selector={}))  # replaces: no selector any more
    assert services.selecting("default", (("app", "web"),)) == []
    services.upsert(svc(selector={"app": "web", "tier": "1"}))
    assert services.selecting("default", (("app", "web"),)) == []
    assert [s.name for s in services.selecting("default", (("app", "web"), ("tier", "1")))] == ["web"]
    assert services.selecting("other", (("app", "web"), ("tier", "1"))) == []
