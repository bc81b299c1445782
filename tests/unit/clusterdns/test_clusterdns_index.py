"""The cluster's view for DNS: Kubernetes objects in, services/endpoints/topology/federations out."""

from __future__ import annotations

from typing import Any

import dns.name
import pytest

from kfed.dns.clusterdns import (
    ClusterIndex,
    Endpoint,
    FederationsError,
    UpstreamRoute,
    cluster_topology,
    parse_federations,
    routes_for,
    service_from_object,
    slice_endpoints,
)

Obj = dict[str, Any]


def service(name: str, ns: str = "default", **spec: Any) -> Obj:
    return {"metadata": {"name": name, "namespace": ns}, "spec": spec}


def endpoint_slice(
    name: str, svc: str, endpoints: list[Obj], ns: str = "default", address_type: str = "IPv4"
) -> Obj:
    return {
        "metadata": {"name": name, "namespace": ns, "labels": {"kubernetes.io/service-name": svc}},
        "addressType": address_type,
        "endpoints": endpoints,
    }


def node(name: str, zone: str = "", region: str = "", legacy: bool = False) -> Obj:
    prefix = "failure-domain.beta.kubernetes.io" if legacy else "topology.kubernetes.io"
    labels = {}
    if zone:
        labels[f"{prefix}/zone"] = zone
    if region:
        labels[f"{prefix}/region"] = region
    return {"metadata": {"name": name, "labels": labels}}


def test_parse_federations_forms() -> None:
    assert parse_federations("myfederation=example.com") == {"myfederation": "example.com."}
    assert parse_federations(" a=example.com. , b=Example.ORG ") == {"a": "example.com.", "b": "example.org."}
    assert parse_federations('{"myfederation": "example.com"}') == {"myfederation": "example.com."}
    assert parse_federations("") == {}
    for bad in ("nodomain", "Bad_Name=example.com", "a=", "a=" + "x" * 64 + ".com", "[1, 2]", "{not json"):
        with pytest.raises(FederationsError):
            parse_federations(bad)
        assert parse_federations(bad, strict=False) == {}
    assert parse_federations("ok=example.com,broken", strict=False) == {"ok": "example.com."}


def test_upstream_routes() -> None:
    assert UpstreamRoute.parse("10.0.0.2") == UpstreamRoute(".", "10.0.0.2", 53)
    assert UpstreamRoute.parse("127.0.0.1:5353") == UpstreamRoute(".", "127.0.0.1", 5353)
    assert UpstreamRoute.parse("example.com=127.0.0.1:5353") == UpstreamRoute(
        "example.com.", "127.0.0.1", 5353
    )
    assert UpstreamRoute.parse("[::1]:53") == UpstreamRoute(".", "::1", 53)
    assert UpstreamRoute.parse("::1") == UpstreamRoute(".", "::1", 53)
    for bad in ("dns.google:53", "127.0.0.1:0", "127.0.0.1:70000", "127.0.0.1:x"):
        with pytest.raises(ValueError):
            UpstreamRoute.parse(bad)
    routes = [UpstreamRoute.parse(t) for t in ("10.0.0.1", "example.com=10.0.0.2", "example.com=10.0.0.3")]
    assert [r.host for r in routes_for(routes, dns.name.from_text("a.example.com."))] == [
        "10.0.0.2",
        "10.0.0.3",
    ]
    assert [r.host for r in routes_for(routes, dns.name.from_text("example.org."))] == ["10.0.0.1"]
    assert routes_for(routes[1:], dns.name.from_text("example.org.")) == []


def test_service_objects() -> None:
    svc = service_from_object(
        service(
            "web",
            clusterIP="10.0.0.1",
            clusterIPs=["10.0.0.1", "fd00::1"],
            ports=[{"name": "http", "port": 80}, {"port": "bad"}],
        )
    )
    assert svc is not None
    assert svc.cluster_ips == ("10.0.0.1", "fd00::1") and not svc.headless and len(svc.ports) == 1
    headless = service_from_object(service("db", clusterIP="None", publishNotReadyAddresses=True))
    assert (
        headless is not None and headless.headless and headless.publish_not_ready and not headless.cluster_ips
    )
    external = service_from_object(service("ext", type="ExternalName", externalName="Db.Example.COM"))
    assert external is not None and external.external_name == "db.example.com." and not external.headless
    assert service_from_object({"metadata": {"name": "x"}}) is None  # no namespace
    pending = service_from_object(service("new", clusterIP=""))
    assert pending is not None and pending.cluster_ips == ()


def test_slice_objects() -> None:
    parsed = slice_endpoints(
        endpoint_slice(
            "web-1",
            "web",
            [
                {"addresses": ["10.1.0.1"], "conditions": {"ready": True}, "hostname": "web-0"},
                {"addresses": ["10.1.0.2"], "conditions": {"ready": False}},
                {"addresses": ["10.1.0.3"]},  # no conditions: ready, as the API says
                {"addresses": ["not-an-ip"]},
                {"addresses": []},
                {"addresses": ["10.1.0.4"], "hostname": "Bad_Host"},
            ],
        )
    )
    assert parsed is not None
    assert parsed[:3] == ("default", "web-1", "web")
    assert parsed[3] == (
        Endpoint("10.1.0.1", True, "web-0"),
        Endpoint("10.1.0.2", False),
        Endpoint("10.1.0.3", True),
        Endpoint("10.1.0.4", True),
    )
    assert slice_endpoints(endpoint_slice("x", "web", [], address_type="FQDN")) is None
    assert (
        slice_endpoints({"metadata": {"name": "orphan", "namespace": "default"}, "addressType": "IPv4"})
        is None
    )


def test_topology_picks_the_first_zone() -> None:
    assert cluster_topology([("us-central1", "us-central1-f"), ("us-central1", "us-central1-a")]) == (
        "us-central1",
        "us-central1-a",
    )
    assert cluster_topology([("r2", "b"), ("r1", "a"), ("r1", "")]) == ("r1", "a")
    assert cluster_topology([("", ""), ("r", "")]) == ("r", "")
    assert cluster_topology([]) == ("", "")
    index = ClusterIndex()
    index.apply_node("ADDED", node("n1", "us-central1-f", "us-central1"))
    index.apply_node("ADDED", node("n2", "us-central1-b", "us-central1", legacy=True))
    assert (index.zone, index.region) == ("us-central1-b", "us-central1")
    version = index.version
    index.apply_node("DELETED", node("n2"))
    assert index.zone == "us-central1-f" and index.version > version
    version = index.version
    index.apply_node("MODIFIED", node("n1", "us-central1-f", "us-central1"))
    assert index.version == version  # nothing changed: the answers cache survives
    pinned = ClusterIndex(zone="z", region="r")
    pinned.apply_node("ADDED", node("n1", "us-central1-f", "us-central1"))
    assert (pinned.zone, pinned.region) == ("z", "r")


def test_index_follows_services_and_slices() -> None:
    index = ClusterIndex()
    index.apply_service("ADDED", service("web", "shop", clusterIP="10.0.0.1"))
    assert index.has_namespace("shop") and index.service("shop", "web") is not None
    assert not index.has_ready_endpoint("shop", "web")
    index.apply_endpoint_slice(
        "ADDED",
        endpoint_slice("web-a", "web", [{"addresses": ["10.1.0.1"], "conditions": {"ready": False}}], "shop"),
    )
    assert not index.has_ready_endpoint("shop", "web")
    index.apply_endpoint_slice(
        "ADDED",
        endpoint_slice("web-b", "web", [{"addresses": ["10.1.0.1"]}, {"addresses": ["10.1.0.2"]}], "shop"),
    )
    assert index.has_ready_endpoint("shop", "web")
    # one address in two slices counts once, ready wins
    assert sorted((e.ip, e.ready) for e in index.endpoints("shop", "web")) == [
        ("10.1.0.1", True),
        ("10.1.0.2", True),
    ]
    version = index.version
    index.apply_endpoint_slice(
        "MODIFIED",
        endpoint_slice("web-b", "web", [{"addresses": ["10.1.0.1"]}, {"addresses": ["10.1.0.2"]}], "shop"),
    )
    assert index.version == version
    index.apply_endpoint_slice("DELETED", endpoint_slice("web-b", "web", [], "shop"))
    assert not index.has_ready_endpoint("shop", "web")
    # a slice relabelled to another service moves with it
    index.apply_endpoint_slice(
        "MODIFIED", endpoint_slice("web-a", "api", [{"addresses": ["10.1.0.9"]}], "shop")
    )
    assert index.endpoints("shop", "web") == [] and index.has_ready_endpoint("shop", "api")
    index.apply_service("DELETED", service("web", "shop"))
    assert index.service("shop", "web") is None and not index.has_namespace("shop")


def test_federations_from_configmap_and_flags() -> None:
    index = ClusterIndex(static_federations={"myfederation": "example.com."})
    cm = {
        "metadata": {"name": "kube-dns", "namespace": "kube-system"},
        "data": {"federations": "myfederation=other.org,second=example.org,bad"},
    }
    index.apply_configmap("ADDED", cm)
    assert index.federations == {"myfederation": "example.com.", "second": "example.org."}  # flags win
    index.apply_configmap(
        "ADDED",
        {"metadata": {"name": "coredns", "namespace": "kube-system"}, "data": {"federations": "x=y.com"}},
    )  # not kube-dns: ignored
    assert "x" not in index.federations
    index.apply_configmap("DELETED", cm)
    assert index.federations == {"myfederation": "example.com."}
