"""Every strategy takes any JSON without raising: wrong types are the schema check's to report.

Valid samples of each kind get random subtrees replaced by random JSON values, and every
strategy method must still return normally (with whatever causes it finds).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kfed.model.resource import Obj, Strategy
from kfed.model.strategies.apps import DeploymentStrategy, ReplicaSetStrategy
from kfed.model.strategies.coordination import LeaseStrategy
from kfed.model.strategies.core import (
    ConfigMapStrategy,
    EndpointsStrategy,
    EventStrategy,
    NamespaceStrategy,
    NodeStrategy,
    PodStrategy,
    SecretStrategy,
    ServiceStrategy,
)
from kfed.model.strategies.discovery import EndpointSliceStrategy
from kfed.model.strategies.federation import ClusterStrategy, DNSRecordSetStrategy
from kfed.model.validation import validate_object_meta

META = {"name": "x", "namespace": "default", "labels": {"a": "b"}, "annotations": {"c": "d"},
        "finalizers": ["kubernetes"], "creationTimestamp": "2024-01-01T00:00:00Z", "generation": 1,
        "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": "p", "uid": "u", "controller": True}]}
TEMPLATE: Obj = {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "nginx", "ports": [{"containerPort": 80}],
                                     "resources": {"limits": {"cpu": "1"}},
                                     "readinessProbe": {"httpGet": {"port": 80}}}]}}

SAMPLES: list[tuple[Strategy, Obj]] = [
    (ServiceStrategy(), {"kind": "Service", "spec": {
        "type": "LoadBalancer", "clusterIP": "10.0.0.1", "clusterIPs": ["10.0.0.1"], "ipFamilies": ["IPv4"],
        "ports": [{"name": "a", "port": 80, "targetPort": "http", "nodePort": 30001}], "selector": {"a": "b"},
        "sessionAffinity": "ClientIP", "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 5}},
        "externalIPs": ["1.2.3.4"], "loadBalancerSourceRanges": ["10.0.0.0/8"], "externalTrafficPolicy": "Local",
        "healthCheckNodePort": 30002},
        "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}, {"hostname": "a.b"}]}}}),
    (ServiceStrategy(allocates_ips=True), {"kind": "Service", "spec": {"type": "ExternalName", "externalName": "x.y",
                                                                      "ports": [{"port": 1}]}}),
    (NamespaceStrategy(), {"kind": "Namespace", "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}),
    (SecretStrategy(), {"kind": "Secret", "type": "kubernetes.io/tls", "data": {"tls.crt": "YQ=="},
                        "stringData": {"tls.key": "k"}, "immutable": True}),
    (ConfigMapStrategy(), {"kind": "ConfigMap", "data": {"a": "b"}, "binaryData": {"c": "YQ=="}, "immutable": True}),
    (EventStrategy(), {"kind": "Event", "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"},
                       "series": {"count": 2, "lastObservedTime": "t"}, "source": {"component": "c", "host": "h"},
                       "eventTime": "t", "reportingComponent": "r", "count": 1}),
    (NodeStrategy(), {"kind": "Node", "spec": {"podCIDRs": ["10.0.0.0/24"], "taints": [{"key": "k", "effect": "NoSchedule"}],
                                               "unschedulable": True},
                      "status": {"conditions": [{"type": "Ready", "status": "True"}], "capacity": {"cpu": "1"},
                                 "addresses": [{"type": "InternalIP", "address": "1.2.3.4"}], "nodeInfo": {}}}),
    (PodStrategy(), {"kind": "Pod", "spec": {**copy.deepcopy(TEMPLATE["spec"]), "initContainers": [{"name": "i", "image": "x"}],
                                             "readinessGates": [{"conditionType": "x"}], "hostNetwork": True},
                     "status": {"containerStatuses": [{"state": {"terminated": {"exitCode": 1}}, "restartCount": 1}],
                                "initContainerStatuses": [{"state": {"waiting": {"reason": "X"}}}],
                                "podIPs": [{"ip": "1.2.3.4"}], "conditions": [{"type": "x", "status": "True"}]}}),
    (EndpointsStrategy(), {"kind": "Endpoints", "subsets": [{"addresses": [{"ip": "1.2.3.4"}],
                                                             "notReadyAddresses": [{"ip": "1.2.3.5"}],
                                                             "ports": [{"port": 80, "name": "a"}]}]}),
    (EndpointSliceStrategy(), {"kind": "EndpointSlice", "addressType": "IPv4",
                               "endpoints": [{"addresses": ["1.2.3.4"], "hostname": "h", "nodeName": "n", "zone": "z"}],
                               "ports": [{"port": 80, "name": "a", "appProtocol": "http"}]}),
    (DeploymentStrategy(), {"kind": "Deployment", "spec": {
        "selector": {"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "a", "operator": "In", "values": ["b"]}]},
        "template": copy.deepcopy(TEMPLATE), "strategy": {"type": "RollingUpdate",
                                                           "rollingUpdate": {"maxSurge": 1, "maxUnavailable": "10%"}},
        "replicas": 2, "progressDeadlineSeconds": 5, "minReadySeconds": 1},
        "status": {"replicas": 1, "readyReplicas": 1}}),
    (ReplicaSetStrategy(), {"kind": "ReplicaSet", "spec": {"selector": {"matchLabels": {"app": "web"}},
                                                           "template": copy.deepcopy(TEMPLATE)}}),
    (LeaseStrategy(), {"kind": "Lease", "spec": {"holderIdentity": "h", "leaseDurationSeconds": 1}}),
    (ClusterStrategy(), {"kind": "Cluster", "spec": {
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "https://h:1"}],
        "secretRef": {"name": "s"}, "region": "r", "zone": "z", "zones": ["z"]},
        "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "x"}], "zones": ["z"], "region": "r"}}),
    (DNSRecordSetStrategy(), {"kind": "DNSRecordSet", "spec": {"zone": "example.com.", "records": [
        {"name": "a.example.com.", "type": "A", "data": ["1.2.3.4"]},
        {"name": "a.example.com.", "type": "MX", "data": ["1 m.example.com."]},
        {"name": "_s._tcp.example.com.", "type": "SRV", "data": ["1 2 3 t.example.com."]},
        {"name": "a.example.com.", "type": "CAA", "data": ["0 issue x"]},
        {"name": "c.example.com.", "type": "CNAME", "data": ["a.example.com."]}]}}),
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=False) |
    st.text(max_size=12) | st.sampled_from(["", "None", "10.0.0.1", "::1", "a/b", "80", "TCP", "True", "-"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=8,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    paths = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            paths += _paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            paths += _paths(v, prefix + (i,))
    return paths


def _set(obj: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    parent = obj
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return obj


def _mutate(sample: Obj, data: st.DataObject) -> Obj:
    obj = copy.deepcopy(sample)
    obj.setdefault("apiVersion", "v1")
    obj["metadata"] = copy.deepcopy(META)
    for _ in range(data.draw(st.integers(1, 3))):
        paths = [p for p in _paths(obj) if p and p[0] not in ("kind", "apiVersion")]
        path = data.draw(st.sampled_from(paths))
        obj = _set(obj, path, data.draw(json_values))
    return obj


def _exercise(strategy: Strategy, obj: Obj, other: Obj) -> None:
    for target in (copy.deepcopy(obj), copy.deepcopy(other)):
        strategy.default(target)
        strategy.prepare_for_create(target)
        strategy.validate(target)
        validate_object_meta(target, namespaced=True)
        row = strategy.table_row(target)
        assert len(row) == len(strategy.table_columns())
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in strategy.selectable_fields(target).items())
    new, old = copy.deepcopy(obj), copy.deepcopy(other)
    strategy.default(new)
    strategy.prepare_for_update(new, old)
    strategy.validate_update(new, old)
    strategy.changes_generation(new, old)
    validate_object_meta(new, namespaced=False, old=old)
    status_new = copy.deepcopy(obj)
    strategy.prepare_for_status_update(status_new, copy.deepcopy(other))
    strategy.validate(status_new)
    for cause in strategy.validate(new) + strategy.validate_update(new, old):
        assert isinstance(cause.render(), str)


IDS = [f"{type(s).__name__}-{i}" for i, (s, _) in enumerate(SAMPLES)]


@pytest.mark.parametrize(("strategy", "sample"), SAMPLES, ids=IDS)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_strategies_never_raise_on_any_json(strategy: Strategy, sample: Obj, data: st.DataObject) -> None:
    _exercise(strategy, _mutate(sample, data), _mutate(sample, data))


@pytest.mark.parametrize(("strategy", "sample"), SAMPLES, ids=IDS)
@settings(max_examples=25, deadline=None)
@given(value=json_values)
def test_whole_parts_replaced(strategy: Strategy, sample: Obj, value: Any) -> None:
    obj = copy.deepcopy(sample)
    obj["spec"] = value
    obj["status"] = value
    obj["metadata"] = value
    _exercise(strategy, obj, copy.deepcopy(obj))
