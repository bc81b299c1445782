"""The resource registry: names, scopes, subresources, strategies and lookups."""

from __future__ import annotations

import pytest

from kfed.model import registry as r
from kfed.model.resource import ResourceType, Strategy
from kfed.model.strategies.core import ServiceStrategy
from kfed.model.strategies.federation import ClusterStrategy


def plurals(resources: tuple[ResourceType, ...]) -> list[str]:
    return [rt.plural for rt in resources]


def test_server_lists() -> None:
    assert plurals(r.FEDERATION_RESOURCES) == [
        "namespaces", "services", "secrets", "configmaps", "events", "clusters", "dnsrecordsets", "leases"]
    assert plurals(r.MEMBER_RESOURCES) == [
        "namespaces", "nodes", "pods", "services", "endpoints", "configmaps", "secrets", "events",
        "endpointslices", "deployments", "replicasets", "leases"]
    assert len(r.ALL_RESOURCES) == 14


@pytest.mark.parametrize(("plural", "short", "namespaced"), [
    ("namespaces", ("ns",), False), ("services", ("svc",), True), ("configmaps", ("cm",), True),
    ("events", ("ev",), True), ("nodes", ("no",), False), ("pods", ("po",), True),
    ("endpoints", ("ep",), True), ("deployments", ("deploy",), True), ("replicasets", ("rs",), True),
    ("clusters", ("fc",), False), ("dnsrecordsets", ("drs",), False), ("secrets", (), True),
    ("leases", (), True), ("endpointslices", (), True),
])
def test_names_and_scope(plural: str, short: tuple[str, ...], namespaced: bool) -> None:
    rt = next(rt for rt in r.ALL_RESOURCES if rt.plural == plural)
    assert rt.short_names == short
    assert rt.namespaced is namespaced
    assert rt.singular == rt.kind.lower()
    assert isinstance(rt.strategy, Strategy)


def test_subresources() -> None:
    with_status = {rt.plural for rt in r.ALL_RESOURCES if "status" in rt.subresources}
    assert with_status == {"namespaces", "services", "nodes", "pods", "clusters", "deployments", "replicasets"}
    with_scale = {rt.plural for rt in r.ALL_RESOURCES if "scale" in rt.subresources}
    assert with_scale == {"deployments", "replicasets"}


def test_groups_strategies_and_categories() -> None:
    assert r.CLUSTERS.group_version == "federation.kfed.io/v1beta1"
    assert r.CLUSTERS.categories == ("federation",)
    assert isinstance(r.CLUSTERS.strategy, ClusterStrategy)
    assert isinstance(r.SERVICES.strategy, ServiceStrategy)
    assert r.LEASES.group_version == "coordination.k8s.io/v1"
    assert r.ENDPOINT_SLICES.group_version == "discovery.k8s.io/v1"
    assert r.DEPLOYMENTS.group_version == "apps/v1"
    assert "all" in r.SERVICES.categories
    assert "deletecollection" not in r.NAMESPACES.verbs


def test_index_lookups() -> None:
    index = r.FEDERATION_INDEX
    assert index.get("", "v1", "services") is r.SERVICES
    assert index.get("federation.kfed.io", "v1beta1", "clusters") is r.CLUSTERS
    assert index.get("", "v1", "pods") is None  # not served by the federation
    assert r.MEMBER_INDEX.get("", "v1", "pods") is r.PODS
    assert index.for_kind("", "v1", "Service") is r.SERVICES
    assert index.for_api_version("federation.kfed.io/v1beta1", "Cluster") is r.CLUSTERS
    assert r.MEMBER_INDEX.for_api_version("apps/v1", "Deployment") is r.DEPLOYMENTS
    assert index.for_api_version("v1", "Nope") is None
    assert len(index) == len(r.FEDERATION_RESOURCES)
    assert index.group_versions() == [("", "v1"), ("federation.kfed.io", "v1beta1"), ("coordination.k8s.io", "v1")]


@pytest.mark.parametrize(("name", "plural"), [
    ("svc", "services"), ("service", "services"), ("Service", "services"), ("services", "services"),
    ("fc", "clusters"), ("clusters.federation.kfed.io", "clusters"), ("cluster", "clusters"),
    ("deploy", "deployments"), ("deployments.v1.apps", "deployments"), ("deployments.apps", "deployments"),
    ("services.v1.", "services"), ("drs", "dnsrecordsets"), ("ep", "endpoints"),
])
def test_resolve_kubectl_names(name: str, plural: str) -> None:
    assert [rt.plural for rt in r.ALL_INDEX.resolve(name)] == [plural]


def test_resolve_unknown_and_wrong_group() -> None:
    assert r.ALL_INDEX.resolve("widgets") == []
    assert r.ALL_INDEX.resolve("deployments.v1.batch") == []


def test_duplicate_registration_is_refused() -> None:
    with pytest.raises(ValueError):
        r.ResourceIndex([r.SERVICES, r.SERVICES])


def test_one_off_helpers() -> None:
    assert r.find_resource(r.MEMBER_RESOURCES, "apps", "v1", "replicasets") is r.REPLICA_SETS
    assert r.find_resource(r.MEMBER_RESOURCES, "", "v1", "clusters") is None
    assert r.find_kind(r.FEDERATION_RESOURCES, "Cluster") is r.CLUSTERS
    assert r.find_kind(r.FEDERATION_RESOURCES, "Lease", group="coordination.k8s.io") is r.LEASES
    assert r.find_kind(r.FEDERATION_RESOURCES, "Lease", group="") is None
