"""Every registered kind's schema: GVK, descriptions, and the list semantics Kubernetes uses."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest

from kfed.model import schema as s
from kfed.model.registry import ALL_RESOURCES
from kfed.model.resource import ResourceType
from kfed.model.schemas import SCALE_SCHEMA, SERVICE_SCHEMA

KINDS = {rt.kind: rt for rt in ALL_RESOURCES}
IDS = [rt.kind for rt in ALL_RESOURCES]


def at(schema: Mapping[str, Any], path: str) -> Mapping[str, Any]:
    for p, sub in s.walk(schema):
        if p == path:
            return sub
    raise KeyError(path)


@pytest.mark.parametrize("rt", ALL_RESOURCES, ids=IDS)
def test_top_level_shape_and_gvk(rt: ResourceType) -> None:
    schema = rt.schema
    assert s.gvk_of(schema) == [{"group": rt.group, "kind": rt.kind, "version": rt.version}]
    assert s.type_name(schema) == s.definition_name(rt.group, rt.version, rt.kind)
    props = schema["properties"]
    assert {"apiVersion", "kind", "metadata"} <= set(props)
    meta = props["metadata"]["properties"]
    for field in ("name", "generateName", "namespace", "uid", "resourceVersion", "generation",
                  "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels",
                  "annotations", "ownerReferences", "finalizers", "managedFields"):
        assert field in meta, field
    if rt.has_status:
        assert "status" in props
    json.dumps(schema)


@pytest.mark.parametrize("rt", ALL_RESOURCES, ids=IDS)
def test_every_field_is_described_and_consistent(rt: ResourceType) -> None:
    for path, sub in s.walk(rt.schema):
        if path.endswith(("[]", "{}")):
            continue  # plain list items and map values (strings, ...) need no words of their own
        assert sub.get("description"), f"{rt.kind}: {path or '<root>'} has no description"
        props = sub.get("properties", {})
        for name in sub.get("required", []):
            assert name in props, f"{rt.kind}.{path}: required {name} not a property"
        if sub.get(s.LIST_TYPE) == "map":
            item_props = sub["items"]["properties"]
            for key in sub[s.LIST_MAP_KEYS]:
                assert key in item_props, f"{rt.kind}.{path}: map key {key} not in items"
        if s.PATCH_MERGE_KEY in sub:
            assert sub[s.PATCH_MERGE_KEY] in sub["items"]["properties"], f"{rt.kind}.{path}"
            assert sub[s.PATCH_STRATEGY].startswith("merge"), f"{rt.kind}.{path}"


def test_object_meta_lists_as_in_kubernetes() -> None:
    meta = SERVICE_SCHEMA["properties"]["metadata"]
    owners = meta["properties"]["ownerReferences"]
    assert (owners[s.PATCH_MERGE_KEY], owners[s.PATCH_STRATEGY]) == ("uid", "merge")
    assert (owners[s.LIST_TYPE], owners[s.LIST_MAP_KEYS]) == ("map", ["uid"])
    assert owners["items"]["required"] == ["apiVersion", "kind", "name", "uid"]
    finalizers = meta["properties"]["finalizers"]
    assert (finalizers[s.LIST_TYPE], finalizers[s.PATCH_STRATEGY]) == ("set", "merge")
    assert meta["properties"]["managedFields"][s.LIST_TYPE] == "atomic"
    assert meta["properties"]["creationTimestamp"]["format"] == "date-time"
    assert meta["properties"]["labels"]["additionalProperties"] == {"type": "string"}


# (kind, path, merge key, patch strategy, list type, list map keys) as kube-apiserver 1.32 publishes them
LIST_SEMANTICS = [
    ("Service", "spec.ports", "port", "merge", "map", ["port", "protocol"]),
    ("Service", "status.conditions", "type", "merge", "map", ["type"]),
    ("Service", "status.loadBalancer.ingress", None, None, "atomic", None),
    ("Service", "spec.clusterIPs", None, None, "atomic", None),
    ("Namespace", "status.conditions", "type", "merge", "map", ["type"]),
    ("Namespace", "spec.finalizers", None, None, "atomic", None),
    ("Pod", "spec.containers", "name", "merge", "map", ["name"]),
    ("Pod", "spec.initContainers", "name", "merge", "map", ["name"]),
    ("Pod", "spec.containers[].ports", "containerPort", "merge", "map", ["containerPort", "protocol"]),
    ("Pod", "spec.containers[].env", "name", "merge", "map", ["name"]),
    ("Pod", "spec.containers[].volumeMounts", "mountPath", "merge", "map", ["mountPath"]),
    ("Pod", "spec.containers[].command", None, None, "atomic", None),
    ("Pod", "spec.volumes", "name", "merge,retainKeys", "map", ["name"]),
    ("Pod", "spec.imagePullSecrets", "name", "merge", "map", ["name"]),
    ("Pod", "spec.tolerations", None, None, "atomic", None),
    ("Pod", "spec.topologySpreadConstraints", "topologyKey", "merge", "map",
     ["topologyKey", "whenUnsatisfiable"]),
    ("Pod", "status.conditions", "type", "merge", "map", ["type"]),
    ("Pod", "status.podIPs", "ip", "merge", "map", ["ip"]),
    ("Pod", "status.containerStatuses", None, None, "atomic", None),
    ("Node", "spec.podCIDRs", None, "merge", "set", None),
    ("Node", "spec.taints", None, None, "atomic", None),
    ("Node", "status.addresses", "type", "merge", "map", ["type"]),
    ("Node", "status.conditions", "type", "merge", "map", ["type"]),
    ("Endpoints", "subsets", None, None, "atomic", None),
    ("Endpoints", "subsets[].addresses", None, None, "atomic", None),
    ("EndpointSlice", "endpoints", None, None, "atomic", None),
    ("EndpointSlice", "endpoints[].addresses", None, None, "set", None),
    ("Deployment", "status.conditions", "type", "merge", "map", ["type"]),
    ("Deployment", "spec.template.spec.containers", "name", "merge", "map", ["name"]),
    ("ReplicaSet", "status.conditions", "type", "merge", "map", ["type"]),
    ("Cluster", "spec.serverAddressByClientCIDRs", "clientCIDR", "merge", "map", ["clientCIDR"]),
    ("Cluster", "status.conditions", "type", "merge", "map", ["type"]),
    # Keyed by two fields, as a CRD's list-map: apply merges by (name, type); strategic merge
    # patch (one merge key only) replaces the list, as for custom resources.
    ("DNSRecordSet", "spec.records", None, None, "map", ["name", "type"]),
]


@pytest.mark.parametrize(("kind", "path", "merge_key", "strategy", "list_type", "keys"), LIST_SEMANTICS,
                         ids=[f"{k}.{p}" for k, p, *_ in LIST_SEMANTICS])
def test_list_semantics_match_kubernetes(kind: str, path: str, merge_key: str | None,
                                         strategy: str | None, list_type: str, keys: list[str] | None) -> None:
    sub = at(KINDS[kind].schema, path)
    assert sub["type"] == "array"
    assert sub.get(s.PATCH_MERGE_KEY) == merge_key
    assert sub.get(s.PATCH_STRATEGY) == strategy
    assert sub.get(s.LIST_TYPE) == list_type
    assert sub.get(s.LIST_MAP_KEYS) == keys


def test_service_spec_covers_what_users_set() -> None:
    spec = SERVICE_SCHEMA["properties"]["spec"]["properties"]
    for field in ("ports", "selector", "clusterIP", "clusterIPs", "type", "externalIPs", "sessionAffinity",
                  "sessionAffinityConfig", "loadBalancerIP", "loadBalancerSourceRanges", "loadBalancerClass",
                  "externalName", "externalTrafficPolicy", "internalTrafficPolicy", "healthCheckNodePort",
                  "publishNotReadyAddresses", "ipFamilies", "ipFamilyPolicy",
                  "allocateLoadBalancerNodePorts", "trafficDistribution"):
        assert field in spec, field
    assert spec["selector"][s.MAP_TYPE] == "atomic"
    assert s.is_int_or_string(spec["ports"]["items"]["properties"]["targetPort"])
    assert spec["ports"]["items"]["required"] == ["port"]
    ingress = at(SERVICE_SCHEMA, "status.loadBalancer.ingress[]")["properties"]
    assert {"ip", "hostname", "ipMode", "ports"} <= set(ingress)


def test_cluster_and_dns_record_set_shape() -> None:
    cluster = KINDS["Cluster"].schema
    assert at(cluster, "spec.secretRef")["properties"]["name"]["type"] == "string"
    assert at(cluster, "spec.zones")["items"] == {"type": "string"}
    assert at(cluster, "spec.region")["type"] == "string"
    cond = at(cluster, "status.conditions[]")["properties"]
    assert cond["type"]["enum"] == ["Offline", "Ready"]
    assert cond["lastProbeTime"]["format"] == "date-time"
    assert {"zones", "region"} <= set(at(cluster, "status")["properties"])
    records = at(KINDS["DNSRecordSet"].schema, "spec.records[]")
    assert set(records["properties"]) == {"name", "type", "ttl", "data"}
    assert records["required"] == ["name", "type", "data"]
    assert set(at(KINDS["DNSRecordSet"].schema, "spec")["properties"]) == {"zone", "records"}
    assert "AAAA" in records["properties"]["type"]["enum"]


def test_pod_quantities_and_probes() -> None:
    pod = KINDS["Pod"].schema
    assert s.is_quantity(at(pod, "spec.containers[].resources.limits{}"))
    assert s.is_int_or_string(at(pod, "spec.containers[].readinessProbe.httpGet.port"))
    assert at(pod, "spec.containers[]")["required"] == ["name"]


def test_lease_times_are_micro_times() -> None:
    spec = KINDS["Lease"].schema["properties"]["spec"]["properties"]
    assert s.type_name(spec["renewTime"]) == "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime"
    assert spec["leaseDurationSeconds"]["format"] == "int32"


def test_scale_schema() -> None:
    assert s.gvk_of(SCALE_SCHEMA) == [{"group": "autoscaling", "kind": "Scale", "version": "v1"}]
    assert at(SCALE_SCHEMA, "status.selector")["type"] == "string"
    assert at(SCALE_SCHEMA, "spec.replicas")["format"] == "int32"
