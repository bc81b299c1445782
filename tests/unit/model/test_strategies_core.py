"""Namespace, Secret, ConfigMap, Event, Node, Pod and Endpoints strategies."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest

from kfed.model.resource import Obj, Strategy
from kfed.model.strategies.core import (
    ConfigMapStrategy,
    EndpointsStrategy,
    EventStrategy,
    NamespaceStrategy,
    NodeStrategy,
    PodStrategy,
    SecretStrategy,
)

TS = "2024-05-01T10:00:00Z"


def obj(kind: str, name: str = "x", namespace: str | None = "default", **fields: Any) -> Obj:
    meta: dict[str, Any] = {"name": name, "creationTimestamp": TS}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": "v1", "kind": kind, "metadata": meta, **fields}


def create(strategy: Strategy, o: Obj) -> list[str]:
    strategy.default(o)
    strategy.prepare_for_create(o)
    return [c.render() for c in strategy.validate(o)]


def columns(strategy: Strategy) -> list[tuple[str, int]]:
    return [(c.name, c.priority) for c in strategy.table_columns()]


# -- Namespace ---------------------------------------------------------------------------------------


def test_namespace_create() -> None:
    s = NamespaceStrategy()
    ns = obj("Namespace", "team-a", None, status={"phase": "Terminating"})
    ns["metadata"]["generation"] = 1
    assert create(s, ns) == []
    assert ns["spec"] == {"finalizers": ["kubernetes"]}
    assert ns["status"] == {"phase": "Active"}
    assert ns["metadata"]["labels"] == {"kubernetes.io/metadata.name": "team-a"}
    assert "generation" not in ns["metadata"]
    other = obj("Namespace", "b", None, spec={"finalizers": ["example.com/x"]})
    create(s, other)
    assert other["spec"]["finalizers"] == ["example.com/x", "kubernetes"]


def test_namespace_update_keeps_finalizers_and_status() -> None:
    s = NamespaceStrategy()
    old = obj("Namespace", "a", None)
    create(s, old)
    new = obj("Namespace", "a", None, spec={"finalizers": []}, status={"phase": "Terminating"})
    s.default(new)
    s.prepare_for_update(new, old)
    assert new["spec"]["finalizers"] == ["kubernetes"]
    assert new["status"] == {"phase": "Active"}
    finalize = copy.deepcopy(old)
    finalize["spec"]["finalizers"] = []
    finalize["status"] = {"phase": "Terminating"}
    s.prepare_for_finalize_update(finalize, old)
    assert finalize["spec"]["finalizers"] == [] and finalize["status"] == {"phase": "Active"}


def test_namespace_spec_finalizers_and_phase_rules() -> None:
    s = NamespaceStrategy()
    assert [c.render() for c in s.validate(obj("Namespace", "a", None, spec={"finalizers": ["cleanup"]}))] == [
        'spec.finalizers[0]: Invalid value: "cleanup": name is neither a standard finalizer name nor is it fully '
        "qualified"]
    old = obj("Namespace", "a", None, status={"phase": "Active"})
    new = obj("Namespace", "a", None, status={"phase": "Terminating"})
    assert [c.render() for c in s.validate_update(new, old)] == [
        "status.Phase: Invalid value: \"Terminating\": may only be 'Active' if `deletionTimestamp` is empty"]
    new["metadata"]["deletionTimestamp"] = TS
    assert s.validate_update(new, old) == []


def test_namespace_table_and_fields() -> None:
    s = NamespaceStrategy()
    ns = obj("Namespace", "a", None, status={"phase": "Active"})
    assert columns(s) == [("Name", 0), ("Status", 0), ("Age", 0)]
    assert s.table_row(ns) == ["a", "Active", TS]
    assert s.selectable_fields(ns) == {"status.phase": "Active"}


# -- Secret -------------------------------------------------------------------------------------------


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_secret_defaults_and_string_data() -> None:
    s = SecretStrategy()
    secret = obj("Secret", data={"a": b64("1")}, stringData={"b": "two", "a": "override"})
    assert create(s, secret) == []
    assert secret["type"] == "Opaque"
    assert "stringData" not in secret
    assert secret["data"] == {"a": b64("override"), "b": b64("two")}
    assert s.changes_generation(secret, secret) is False


def test_secret_string_data_merges_on_update_too() -> None:
    s = SecretStrategy()
    new = obj("Secret", type="Opaque", stringData={"kubeconfig": "apiVersion: v1"})
    s.default(new)
    assert new["data"] == {"kubeconfig": b64("apiVersion: v1")}


def test_secret_data_must_be_base64_with_valid_keys() -> None:
    s = SecretStrategy()
    assert create(s, obj("Secret", data={"k": "not base64!"})) == [
        'data[k]: Invalid value: "<secret contents redacted>": illegal base64 data at input byte 3']
    (msg,) = create(s, obj("Secret", data={"a/b": b64("x")}))
    assert msg.startswith('data[a/b]: Invalid value: "a/b": a valid config key must consist of')


def test_secret_size_limit() -> None:
    big = base64.b64encode(b"x" * (1024 * 1024 + 1)).decode()
    assert create(SecretStrategy(), obj("Secret", data={"k": big})) == [
        "data: Too long: must have at most 1048576 bytes"]


def test_secret_types_require_their_keys() -> None:
    s = SecretStrategy()
    assert create(s, obj("Secret", type="kubernetes.io/tls", data={"tls.crt": b64("c")})) == [
        "data[tls.key]: Required value"]
    assert create(s, obj("Secret", type="kubernetes.io/basic-auth", data={})) == [
        "data[username]: Required value", "data[password]: Required value"]


def test_secret_immutable_and_type() -> None:
    s = SecretStrategy()
    old = obj("Secret", type="Opaque", immutable=True, data={"a": b64("1")})
    new = obj("Secret", type="kubernetes.io/tls", immutable=False, data={"a": b64("2")})
    assert [c.render() for c in s.validate_update(new, old)] == [
        'type: Invalid value: "kubernetes.io/tls": field is immutable',
        "immutable: Forbidden: field is immutable when `immutable` is set",
        "data: Forbidden: field is immutable when `immutable` is set"]
    same = obj("Secret", type="Opaque", immutable=True, data={"a": b64("1")})
    assert s.validate_update(same, old) == []


def test_secret_table_and_fields() -> None:
    s = SecretStrategy()
    secret = obj("Secret", "kubeconfig", type="Opaque", data={"a": "", "b": ""})
    assert columns(s) == [("Name", 0), ("Type", 0), ("Data", 0), ("Age", 0)]
    assert s.table_row(secret) == ["kubeconfig", "Opaque", 2, TS]
    assert s.selectable_fields(secret) == {"type": "Opaque"}


# -- ConfigMap ------------------------------------------------------------------------------------------


def test_config_map() -> None:
    s = ConfigMapStrategy()
    cm = obj("ConfigMap", data={"a.conf": "x", "b": "y"}, binaryData={"c": b64("z")})
    assert create(s, cm) == []
    assert s.table_row(cm) == ["x", 3, TS]
    assert columns(s) == [("Name", 0), ("Data", 0), ("Age", 0)]
    bad = obj("ConfigMap", data={"..x": "1", "k": "v"}, binaryData={"k": b64("v")})
    assert [c.render() for c in s.validate(bad)] == [
        "data[..x]: Invalid value: \"..x\": must not start with '..'",
        'binaryData[k]: Invalid value: "k": duplicate of key present in data']
    old = obj("ConfigMap", immutable=True, data={"a": "1"})
    assert [c.render() for c in s.validate_update(obj("ConfigMap", immutable=True, data={"a": "2"}), old)] == [
        "data: Forbidden: field is immutable when `immutable` is set"]


# -- Event ------------------------------------------------------------------------------------------------


def event(**fields: Any) -> Obj:
    base: dict[str, Any] = {"involvedObject": {"kind": "Service", "namespace": "default", "name": "nginx", "uid": "u1",
                               "apiVersion": "v1", "resourceVersion": "42"},
            "reason": "CreatedInCluster", "message": "Created service in cluster c1 ", "type": "Normal",
            "source": {"component": "kfed-service-controller"}, "count": 3,
            "firstTimestamp": "2024-05-01T10:00:00Z", "lastTimestamp": "2024-05-01T10:05:00Z"}
    base.update(fields)
    return obj("Event", "nginx.17c", **base)


def test_event_table() -> None:
    s = EventStrategy()
    assert columns(s) == [("Last Seen", 0), ("Type", 0), ("Reason", 0), ("Object", 0), ("Subobject", 1),
                          ("Source", 1), ("Message", 0), ("First Seen", 1), ("Count", 1), ("Name", 1)]
    assert [c.type for c in s.table_columns()][0] == "date"
    assert s.table_row(event()) == ["2024-05-01T10:05:00Z", "Normal", "CreatedInCluster", "service/nginx", "",
                                    "kfed-service-controller", "Created service in cluster c1",
                                    "2024-05-01T10:00:00Z", 3, "nginx.17c"]
    new_style = event(firstTimestamp=None, lastTimestamp=None, eventTime="2024-05-01T11:00:00.000000Z",
                      series={"count": 7, "lastObservedTime": "2024-05-01T11:30:00.000000Z"},
                      source={}, reportingComponent="kfed", reportingInstance="host-1")
    cells = s.table_row(new_style)
    assert cells[0] == "2024-05-01T11:30:00.000000Z" and cells[7] == "2024-05-01T11:00:00.000000Z"
    assert cells[5] == "kfed, host-1" and cells[8] == 7


def test_event_field_selectors_as_kubectl_describe_uses_them() -> None:
    assert EventStrategy().selectable_fields(event()) == {
        "involvedObject.kind": "Service", "involvedObject.namespace": "default", "involvedObject.name": "nginx",
        "involvedObject.uid": "u1", "involvedObject.apiVersion": "v1", "involvedObject.resourceVersion": "42",
        "involvedObject.fieldPath": "", "reason": "CreatedInCluster", "reportingComponent": "",
        "source": "kfed-service-controller", "type": "Normal"}


def test_event_namespace_must_match() -> None:
    s = EventStrategy()
    assert s.validate(event()) == []
    wrong = event(involvedObject={"kind": "Service", "namespace": "other", "name": "nginx"})
    assert [c.render() for c in s.validate(wrong)] == [
        'involvedObject.namespace: Invalid value: "other": does not match event.namespace']
    cluster_event = event(involvedObject={"kind": "Cluster", "name": "c1"})
    assert s.validate(cluster_event) == []  # "default" is fine for cluster-scoped objects
    new_style = event(eventTime="2024-05-01T11:00:00.000000Z")
    required = [c.render() for c in s.validate(new_style) if c.type.value == "FieldValueRequired"]
    assert required == ["reportingComponent: Required value", "reportingInstance: Required value",
                        "action: Required value"]
    complete = event(eventTime="2024-05-01T11:00:00.000000Z", reportingComponent="kfed.io/service-controller",
                     reportingInstance="host-1", action="Create")
    assert s.validate(complete) == []


# -- Node ----------------------------------------------------------------------------------------------------


def node(**fields: Any) -> Obj:
    n = obj("Node", "node-1", None, **fields)
    n["metadata"]["labels"] = {"topology.kubernetes.io/zone": "z1", "node-role.kubernetes.io/control-plane": "",
                               "kubernetes.io/role": "worker"}
    return n


def test_node_keeps_status_on_create_and_table() -> None:
    s = NodeStrategy()
    n = node(status={"conditions": [{"type": "Ready", "status": "True"}],
                     "addresses": [{"type": "InternalIP", "address": "10.0.0.5"}],
                     "nodeInfo": {"kubeletVersion": "v1.32.0"}, "capacity": {"cpu": "4"}})
    assert create(s, n) == []
    assert n["status"]["conditions"][0]["status"] == "True"
    assert n["status"]["allocatable"] == {"cpu": "4"}
    assert s.table_row(n) == ["node-1", "Ready", "control-plane,worker", TS, "v1.32.0", "10.0.0.5", "<none>",
                              "<unknown>", "<unknown>", "<unknown>"]
    assert columns(s)[:5] == [("Name", 0), ("Status", 0), ("Roles", 0), ("Age", 0), ("Version", 0)]
    assert [c for c, p in columns(s) if p == 1] == ["Internal-IP", "External-IP", "OS-Image", "Kernel-Version",
                                                   "Container-Runtime"]


def test_node_status_cell_and_fields() -> None:
    s = NodeStrategy()
    cordoned = node(spec={"unschedulable": True}, status={"conditions": [{"type": "Ready", "status": "False"}]})
    assert s.table_row(cordoned)[1] == "NotReady,SchedulingDisabled"
    assert s.table_row(node())[1] == "Unknown"
    assert s.selectable_fields(cordoned) == {"spec.unschedulable": "true"}
    assert s.selectable_fields(node()) == {"spec.unschedulable": "false"}


def test_node_validation() -> None:
    s = NodeStrategy()
    bad = node(spec={"podCIDRs": ["10.0.0.0/33"], "taints": [{"key": "k", "effect": "Sometimes"}]})
    assert [c.render() for c in s.validate(bad)] == [
        'spec.podCIDRs[0]: Invalid value: "10.0.0.0/33": must be a valid CIDR value, (e.g. 10.9.8.0/24 or '
        '2001:db8::/64)',
        'metadata.taints[0].effect: Unsupported value: "Sometimes": supported values: "NoExecute", "NoSchedule", '
        '"PreferNoSchedule"']


# -- Pod -------------------------------------------------------------------------------------------------------


def pod(*containers: dict[str, Any], **spec: Any) -> Obj:
    return obj("Pod", "nginx", spec={"containers": list(containers) or [{"name": "nginx", "image": "nginx"}],
                                     **spec})


def test_pod_defaults() -> None:
    p = pod({"name": "a", "image": "nginx", "ports": [{"containerPort": 80}]},
            {"name": "b", "image": "nginx:1.27"}, {"name": "c", "image": "nginx:latest"},
            {"name": "d", "image": "registry:5000/app"}, {"name": "e", "image": "app@sha256:abc"})
    assert create(PodStrategy(), p) == []
    spec = p["spec"]
    assert [c["imagePullPolicy"] for c in spec["containers"]] == ["Always", "IfNotPresent", "Always", "Always",
                                                                  "IfNotPresent"]
    assert spec["restartPolicy"] == "Always" and spec["dnsPolicy"] == "ClusterFirst"
    assert spec["terminationGracePeriodSeconds"] == 30 and spec["schedulerName"] == "default-scheduler"
    assert spec["enableServiceLinks"] is True and spec["serviceAccountName"] == "default"
    first = spec["containers"][0]
    assert first["terminationMessagePath"] == "/dev/termination-log"
    assert first["terminationMessagePolicy"] == "File"
    assert first["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert p["status"] == {"phase": "Pending", "qosClass": "BestEffort"}


def test_pod_qos_and_requests_from_limits() -> None:
    p = pod({"name": "a", "image": "x", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}})
    create(PodStrategy(), p)
    assert p["spec"]["containers"][0]["resources"]["requests"] == {"cpu": "1", "memory": "1Gi"}
    assert p["status"]["qosClass"] == "Guaranteed"
    burst = pod({"name": "a", "image": "x", "resources": {"requests": {"cpu": "100m"}}})
    create(PodStrategy(), burst)
    assert burst["status"]["qosClass"] == "Burstable"


def test_pod_validation() -> None:
    s = PodStrategy()
    assert create(s, obj("Pod", spec={"containers": []})) == ["spec.containers: Required value"]
    msgs = create(s, pod({"name": "web", "image": ""}, {"name": "web", "image": "x",
                                                         "ports": [{"containerPort": 0, "name": "HTTP"}]},
                         {"image": "y"}, restartPolicy="Sometimes"))
    assert msgs == [
        "spec.containers[0].image: Required value",
        "spec.containers[0].imagePullPolicy: Required value",
        'spec.containers[1].name: Duplicate value: "web"',
        'spec.containers[1].ports[0].name: Invalid value: "HTTP": must contain only alpha-numeric characters '
        "(a-z, 0-9), and hyphens (-)",
        'spec.containers[1].ports[0].name: Invalid value: "HTTP": must contain at least one letter (a-z)',
        "spec.containers[1].ports[0].containerPort: Required value",
        "spec.containers[2].name: Required value",
        'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"']


def test_pod_update_rules() -> None:
    s = PodStrategy()
    old = pod()
    create(s, old)
    image = copy.deepcopy(old)
    image["spec"]["containers"][0]["image"] = "nginx:1.27"
    assert s.validate_update(image, old) == []
    bound = copy.deepcopy(old)
    bound["spec"]["nodeName"] = "node-1"
    assert s.validate_update(bound, old) == []  # binding by update (simulated clusters serve no pods/binding)
    moved = copy.deepcopy(bound)
    moved["spec"]["nodeName"] = "node-2"
    (cause,) = s.validate_update(moved, bound)
    assert cause.render().startswith("spec: Forbidden: pod updates may not change fields other than "
                                     "`spec.containers[*].image`,")


def test_pod_status_update_keeps_spec_and_owner_references() -> None:
    s = PodStrategy()
    old = pod()
    create(s, old)
    old["metadata"]["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "r", "uid": "1"}]
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["image"] = "other"
    new["metadata"]["ownerReferences"] = []
    new["status"] = {"phase": "Running", "podIP": "10.1.0.5"}
    s.prepare_for_status_update(new, old)
    assert new["spec"] == old["spec"]
    assert new["metadata"]["ownerReferences"] == old["metadata"]["ownerReferences"]
    assert new["status"]["phase"] == "Running"


def test_pod_table() -> None:
    s = PodStrategy()
    assert columns(s) == [("Name", 0), ("Ready", 0), ("Status", 0), ("Restarts", 0), ("Age", 0), ("IP", 1),
                          ("Node", 1), ("Nominated Node", 1), ("Readiness Gates", 1)]
    p = pod({"name": "a", "image": "x"}, {"name": "b", "image": "y"}, nodeName="node-1")
    p["status"] = {"phase": "Running", "podIPs": [{"ip": "10.1.0.5"}], "conditions": [{"type": "Ready", "status": "True"}],
                   "containerStatuses": [
                       {"name": "a", "ready": True, "restartCount": 2, "state": {"running": {}}},
                       {"name": "b", "ready": False, "restartCount": 1,
                        "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}
    assert s.table_row(p) == ["nginx", "1/2", "CrashLoopBackOff", "3", TS, "10.1.0.5", "node-1", "<none>", "<none>"]
    pending = pod()
    create(s, pending)
    assert s.table_row(pending)[1:4] == ["0/1", "Pending", "0"]
    pending["metadata"]["deletionTimestamp"] = TS
    assert s.table_row(pending)[2] == "Terminating"


def test_pod_field_selectors() -> None:
    p = pod(nodeName="node-1")
    create(PodStrategy(), p)
    p["status"]["podIP"] = "10.1.0.5"
    fields = PodStrategy().selectable_fields(p)
    assert fields["spec.nodeName"] == "node-1" and fields["status.phase"] == "Pending"
    assert fields["status.podIP"] == "10.1.0.5" and fields["spec.restartPolicy"] == "Always"
    assert fields["spec.schedulerName"] == "default-scheduler" and fields["spec.serviceAccountName"] == "default"


# -- Endpoints -----------------------------------------------------------------------------------------------------


def endpoints(*subsets: dict[str, Any]) -> Obj:
    return obj("Endpoints", "nginx", subsets=list(subsets))


def test_endpoints_table_cell() -> None:
    s = EndpointsStrategy()
    assert columns(s) == [("Name", 0), ("Endpoints", 0), ("Age", 0)]
    two = endpoints({"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}], "ports": [{"port": 80}]})
    assert s.table_row(two) == ["nginx", "10.0.0.1:80,10.0.0.2:80", TS]
    four = endpoints({"addresses": [{"ip": f"10.0.0.{i}"} for i in range(1, 5)], "ports": [{"port": 80}]})
    assert s.table_row(four)[1] == "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 1 more..."
    assert s.table_row(endpoints())[1] == "<none>"
    assert s.table_row(endpoints({"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 443}]}))[1] == "[fd00::1]:443"


def test_endpoints_validation() -> None:
    s = EndpointsStrategy()
    good = endpoints({"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]})
    assert create(s, good) == []
    assert good["subsets"][0]["ports"][0]["protocol"] == "TCP"
    bad = endpoints({"addresses": [{"ip": "127.0.0.1"}], "ports": [{"port": 80}, {"port": 81}]})
    assert create(s, bad) == [
        'subsets[0].addresses[0].ip: Invalid value: "127.0.0.1": may not be in the loopback range '
        "(127.0.0.0/8, ::1/128)",
        "subsets[0].ports[0].name: Required value", "subsets[0].ports[1].name: Required value"]
    assert create(EndpointsStrategy(allow_special_ips=True),
                  endpoints({"addresses": [{"ip": "127.0.0.1"}], "ports": [{"port": 80}]})) == []


@pytest.mark.parametrize("strategy", [NamespaceStrategy(), SecretStrategy(), ConfigMapStrategy(), EventStrategy(),
                                      NodeStrategy(), PodStrategy(), EndpointsStrategy()])
def test_kinds_without_generation_never_bump_it(strategy: Strategy) -> None:
    a, b = obj("X", spec={"a": 1}), obj("X", spec={"a": 2})
    assert strategy.changes_generation(a, b) is False
