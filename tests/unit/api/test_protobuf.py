"""kfed.api.protobuf: the bodies the real kubectl sends, decoded to the JSON it means.

The fixtures `create-*.pb` are request bodies captured from kubectl 1.32 (`kubectl create ...`
against a throwaway server); `create-*.kubectl.json` is what the same command prints with
`--dry-run=client -o json`. The `generated-*.pb` fixtures were encoded with an independent
protoc-generated encoder (PyPI k8s-proto) to cover fields kubectl's create commands never set.
"""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st

from kfed.api.protobuf import (
    KINDS,
    MESSAGES,
    ProtobufDecodeError,
    UnsupportedKindError,
    decode_k8s_protobuf,
)

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> bytes:
    return (FIXTURES / f"{name}.pb").read_bytes()


# --- a minimal encoder for hand-made bodies (field numbers typed from the generated.proto files) ---

def varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def vi(number: int, value: int) -> bytes:
    return varint(number << 3) + varint(value)


def ld(number: int, payload: bytes | str) -> bytes:
    data = payload.encode() if isinstance(payload, str) else payload
    return varint(number << 3 | 2) + varint(len(data)) + data


def entry(number: int, key: str, value: bytes | str) -> bytes:
    return ld(number, ld(1, key) + ld(2, value))


def envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    return b"k8s\x00" + ld(1, ld(1, api_version) + ld(2, kind)) + ld(2, raw)


def meta(name: str) -> bytes:
    return ld(1, ld(1, name))


# --- what kubectl's typed create commands send ---

EXPECTED: dict[str, dict[str, Any]] = {
    "create-namespace": {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "foo"}},
    "create-configmap": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
                         "data": {"a": "b"}},
    "create-configmap-namespaced": {"apiVersion": "v1", "kind": "ConfigMap",
                                    "metadata": {"name": "cm3", "namespace": "kube-system"},
                                    "data": {"x": "y"}},
    "create-secret-generic": {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
                              "data": {"p": base64.b64encode(b"q").decode()}},
    "create-secret-typed": {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s2"},
                            "type": "example.com/custom",
                            "data": {"user": base64.b64encode(b"admin").decode(),
                                     "pw": base64.b64encode(b"p@ss w0rd").decode()}},
    "create-secret-docker-registry": {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "reg"},
        "type": "kubernetes.io/dockerconfigjson",
        "data": {".dockerconfigjson": base64.b64encode(json.dumps(
            {"auths": {"r.example": {"username": "u", "password": "p", "email": "e@example.com",
                                     "auth": base64.b64encode(b"u:p").decode()}}},
            separators=(",", ":")).encode()).decode()}},
    "create-deployment": {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "nginx", "image": "nginx:1.11.1-alpine",
                                         "ports": [{"containerPort": 80}]}]},
            },
        },
    },
    # --replicas=0: a pointer field that is set to zero must survive (absent would mean 1)
    "create-deployment-command": {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "d2", "labels": {"app": "d2"}},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": {"app": "d2"}},
            "template": {
                "metadata": {"labels": {"app": "d2"}},
                "spec": {"containers": [{"name": "busybox", "image": "busybox:1.36",
                                         "command": ["sleep", "3600"],
                                         "ports": [{"containerPort": 8080}]}]},
            },
        },
    },
    "create-service-clusterip": {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "x", "labels": {"app": "x"}},
        "spec": {"type": "ClusterIP", "selector": {"app": "x"},
                 "ports": [{"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080}]},
    },
    "create-service-headless": {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "headless", "labels": {"app": "headless"}},
        "spec": {"type": "ClusterIP", "clusterIP": "None", "selector": {"app": "headless"}},
    },
    "create-service-nodeport": {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "np", "labels": {"app": "np"}},
        "spec": {"type": "NodePort", "selector": {"app": "np"},
                 "ports": [{"name": "80-http", "protocol": "TCP", "port": 80, "targetPort": "http",
                            "nodePort": 30080}]},
    },
    "create-service-loadbalancer": {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "lb", "labels": {"app": "lb"}},
        "spec": {"type": "LoadBalancer", "selector": {"app": "lb"},
                 "ports": [{"name": "443", "protocol": "TCP", "port": 443, "targetPort": 443}]},
    },
    "create-service-externalname": {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "e", "labels": {"app": "e"}},
        "spec": {"type": "ExternalName", "externalName": "a.example.com", "selector": {"app": "e"}},
    },
    "create-job": {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
        "spec": {"template": {"spec": {"containers": [{"name": "j", "image": "busybox"}],
                                       "restartPolicy": "Never"}}},
    },
    "create-job-command": {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j2"},
        "spec": {"template": {"spec": {"containers": [{"name": "j2", "image": "busybox",
                                                       "command": ["echo", "hi", "there"]}],
                                       "restartPolicy": "Never"}}},
    },
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_kubectl_create_bodies_decode_to_what_the_command_means(name: str) -> None:
    assert decode_k8s_protobuf(fixture(name)) == EXPECTED[name]


def test_binary_configmap_data_comes_back_as_base64() -> None:
    obj = decode_k8s_protobuf(fixture("create-configmap-binary"))
    assert obj["data"] == {"k1": "v1", "k2": ""}  # an empty value is still an entry
    raw = base64.b64decode(obj["binaryData"]["bin"], validate=True)
    assert len(raw) == 303 and raw.endswith(b"\x00\xff\xfe")


def _without_go_empties(value: Any) -> Any:
    """kubectl's JSON also prints empty structs ({}) and zero times (null); drop those."""
    if isinstance(value, dict):
        pruned = {k: _without_go_empties(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v is not None and v != {}}
    if isinstance(value, list):
        return [_without_go_empties(v) for v in value]
    return value


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.kubectl.json")), ids=lambda p: p.name)
def test_decoded_body_equals_kubectls_own_json_rendering(path: Path) -> None:
    body = path.with_name(path.name.replace(".kubectl.json", ".pb")).read_bytes()
    assert decode_k8s_protobuf(body) == _without_go_empties(json.loads(path.read_text()))


def test_an_unknown_kind_is_refused_as_unsupported() -> None:
    with pytest.raises(UnsupportedKindError, match="CronJob in batch/v1"):
        decode_k8s_protobuf(fixture("create-cronjob"))


# --- fields kubectl's create commands never set (encoded by protoc-generated code) ---

T0 = "2023-11-14T22:13:20Z"


def test_rich_pod() -> None:
    cm1 = {"name": "cm1"}
    assert decode_k8s_protobuf(fixture("generated-pod")) == {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": "rich", "namespace": "default", "creationTimestamp": T0,
            "labels": {"run": "rich", "empty": ""}, "annotations": {"example.com/a": "b"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "u-1",
                                 "controller": True, "blockOwnerDeletion": False}],
            "finalizers": ["example.com/f"],
            # the entry's old `fields` (5) is unknown and skipped
            "managedFields": [{"manager": "kubectl", "operation": "Update", "apiVersion": "v1", "time": T0}],
        },
        "spec": {
            "volumes": [
                {"name": "data", "emptyDir": {"sizeLimit": "1Gi"}},
                {"name": "cfg", "configMap": {**cm1, "items": [{"key": "k", "path": "p"}], "defaultMode": 420}},
                {"name": "sec", "secret": {"secretName": "s1", "optional": False}},
                {"name": "host", "hostPath": {"path": "/tmp", "type": ""}},
                {"name": "pvc", "persistentVolumeClaim": {"claimName": "c1", "readOnly": True}},
            ],
            "initContainers": [{"name": "init", "image": "busybox", "command": ["sh", "-c", "true"]}],
            "containers": [{
                "name": "app", "image": "nginx", "args": ["--x"], "workingDir": "/w",
                "ports": [{"name": "http", "containerPort": 80, "protocol": "TCP"}],  # hostPort 0 dropped
                "envFrom": [{"prefix": "P_", "configMapRef": {**cm1, "optional": True}}],
                "env": [
                    {"name": "A", "value": "1"},
                    {"name": "B", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
                    {"name": "C", "valueFrom": {"secretKeyRef": {"name": "s1", "key": "k"}}},
                    {"name": "D", "valueFrom": {"resourceFieldRef": {
                        "containerName": "app", "resource": "limits.cpu", "divisor": "1m"}}},
                    {"name": "E", "valueFrom": {"configMapKeyRef": {**cm1, "key": "k", "optional": False}}},
                ],
                "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}, "requests": {"cpu": "250m"}},
                # volumeDevices (21) is not modelled: skipped
                "volumeMounts": [{"name": "data", "mountPath": "/data", "readOnly": True, "subPath": "sub"}],
                "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080, "scheme": "HTTP",
                                              "httpHeaders": [{"name": "X", "value": "y"}]},
                                  "initialDelaySeconds": 3, "periodSeconds": 10},
                "readinessProbe": {"tcpSocket": {"port": "http"}},  # timeoutSeconds 0 dropped
                "lifecycle": {"preStop": {"exec": {"command": ["sleep", "5"]}}},
                "terminationMessagePath": "/dev/termination-log", "imagePullPolicy": "IfNotPresent",
                "securityContext": {"runAsUser": 1000, "runAsNonRoot": True, "privileged": False,
                                    "readOnlyRootFilesystem": True,
                                    "capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]}},
                "tty": True,
            }],
            "restartPolicy": "Always", "terminationGracePeriodSeconds": 0, "dnsPolicy": "ClusterFirst",
            "nodeSelector": {"disk": "ssd"}, "serviceAccountName": "sa", "automountServiceAccountToken": False,
            "securityContext": {"runAsUser": 1000, "fsGroup": 2000, "supplementalGroups": [1, 2],
                                "sysctls": [{"name": "net.core.somaxconn", "value": "1024"}]},
            "imagePullSecrets": [{"name": "regcred"}], "hostname": "h", "subdomain": "sd",
            "schedulerName": "default-scheduler",
            "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": -1}],
            "hostAliases": [{"ip": "127.0.0.1", "hostnames": ["a", "b"]}],
            "priority": 0, "enableServiceLinks": True,
        },
        "status": {
            "phase": "Pending", "hostIP": "127.0.0.1", "podIP": "127.0.0.3", "qosClass": "Burstable",
            "conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": T0}],
            "startTime": "2023-11-14T22:13:21Z",
        },
    }


def test_service_with_status_and_deletion() -> None:
    assert decode_k8s_protobuf(fixture("generated-service")) == {
        "apiVersion": "v1", "kind": "Service",
        # the nanoseconds are dropped: metav1.Time's JSON has whole seconds
        "metadata": {"name": "web", "namespace": "default", "deletionTimestamp": T0,
                     "deletionGracePeriodSeconds": 0},
        "spec": {
            "ports": [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": "http", "nodePort": 30000},
                      {"name": "plain", "port": 81}],  # targetPort 0 and nodePort 0 mean "unset"
            "selector": {"app": "web"}, "clusterIP": "10.0.0.1", "type": "LoadBalancer",
            "externalIPs": ["192.0.2.1"], "sessionAffinity": "ClientIP",
            "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}},
            "loadBalancerSourceRanges": ["0.0.0.0/0"], "externalTrafficPolicy": "Local",
            "healthCheckNodePort": 31000, "publishNotReadyAddresses": True,
        },
        "status": {"loadBalancer": {"ingress": [{"ip": "127.0.0.2"}, {"hostname": "lb.example.com"}]}},
    }


def test_namespace_spec_and_status() -> None:
    assert decode_k8s_protobuf(fixture("generated-namespace")) == {
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "gone", "uid": "u-2", "resourceVersion": "42", "generation": 3},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Terminating"},
    }


# --- wire-format rules on hand-made bodies ---

def test_unknown_fields_of_every_wire_type_are_skipped() -> None:
    unknown = (vi(99, 7) + varint(98 << 3 | 1) + b"\x01" * 8 + varint(97 << 3 | 5) + b"\x02" * 4
               + ld(96, b"\xff\x00junk"))
    body = envelope("v1", "Namespace", unknown + meta("a") + unknown)
    assert decode_k8s_protobuf(body) == {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}}


def test_pointer_zero_is_kept_and_value_zero_is_omitted() -> None:
    spec = vi(1, 0) + vi(5, 0) + vi(7, 0) + vi(6, 3)  # replicas*=0, minReadySeconds=0, paused=false, rhl*=3
    body = envelope("apps/v1", "Deployment", meta("d") + ld(2, spec))
    assert decode_k8s_protobuf(body)["spec"] == {"replicas": 0, "revisionHistoryLimit": 3}


def test_negative_ints_and_packed_or_unpacked_repeated_ints() -> None:
    security = vi(2, -1) + ld(4, varint(5) + varint(6)) + vi(4, 7)  # runAsUser=-1, groups packed+unpacked
    pod = meta("p") + ld(2, ld(14, security) + vi(4, -30))
    assert decode_k8s_protobuf(envelope("v1", "Pod", pod))["spec"] == {
        "securityContext": {"runAsUser": -1, "supplementalGroups": [5, 6, 7]},
        "terminationGracePeriodSeconds": -30,
    }


def test_the_last_occurrence_of_a_field_wins_and_an_empty_one_clears() -> None:
    body = envelope("v1", "Namespace", ld(1, ld(1, "first") + ld(1, "second") + ld(3, "ns") + ld(3, "")))
    assert decode_k8s_protobuf(body)["metadata"] == {"name": "second"}


def test_times_int_or_string_and_maps() -> None:
    created = ld(8, vi(1, 0) + vi(2, 0))  # the Unix epoch itself is a real time (zero time is empty)
    md = ld(1, "a") + created + ld(9, vi(1, -1)) + entry(11, "k", "") + entry(11, "k2", "v")
    rolling = ld(1, vi(1, 1) + ld(3, "25%")) + ld(2, vi(1, 0) + vi(2, 0))  # maxUnavailable, maxSurge=0
    spec = ld(4, ld(1, "RollingUpdate") + ld(2, rolling))
    obj = decode_k8s_protobuf(envelope("apps/v1", "Deployment", ld(1, md) + ld(2, spec)))
    assert obj["metadata"] == {"name": "a", "creationTimestamp": "1970-01-01T00:00:00Z",
                               "deletionTimestamp": "1969-12-31T23:59:59Z", "labels": {"k": "", "k2": "v"}}
    assert obj["spec"]["strategy"] == {"type": "RollingUpdate",
                                       "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": 0}}


def test_managed_fields_carry_their_json_and_quantities_their_text() -> None:
    managed = ld(1, "kubectl") + ld(6, "FieldsV1") + ld(7, ld(1, '{"f:data":{"f:a":{}}}'))
    cm = ld(1, ld(1, "c") + ld(17, managed)) + entry(3, "bin", b"\x00\x01")
    assert decode_k8s_protobuf(envelope("v1", "ConfigMap", cm)) == {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "c", "managedFields": [
            {"manager": "kubectl", "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:a": {}}}}]},
        "binaryData": {"bin": "AAE="},
    }


def test_delete_options_in_any_group_version() -> None:
    body = envelope("apps/v1", "DeleteOptions", vi(1, 0) + ld(4, "Orphan") + ld(2, ld(1, "u")) + ld(5, "All"))
    assert decode_k8s_protobuf(body) == {
        "apiVersion": "apps/v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0,
        "propagationPolicy": "Orphan", "preconditions": {"uid": "u"}, "dryRun": ["All"]}


@pytest.mark.parametrize(("body", "message"), [
    (b'{"kind":"Namespace"}', "k8s\\\\x00 prefix"),
    (b"k8s\x00" + ld(1, ld(1, "v1") + ld(2, "Namespace")) + varint(2 << 3 | 2) + varint(50) + b"short",
     "truncated"),
    (b"k8s\x00\x0a", "truncated varint"),
    (envelope("v1", "Namespace", meta("a"))[:-1], "truncated"),
    (envelope("v1", "Namespace", vi(1, 5)), "metadata: varint on the wire, expected length-delimited"),
    (envelope("v1", "Namespace", ld(1, ld(1, b"\xff\xfe"))), "invalid UTF-8"),
    (envelope("v1", "Namespace", varint(1 << 3 | 3)), "unsupported wire type 3"),
    (envelope("v1", "Namespace", ld(1, ld(8, vi(1, 10**15)))), "timestamp out of range"),
    (envelope("v1", "ConfigMap", ld(1, ld(17, ld(7, ld(1, "{not json"))))), "not JSON"),
    (b"k8s\x00" + ld(1, ld(1, "v1") + ld(2, "Namespace")) + ld(2, meta("a")) + ld(3, "gzip"),
     "contentEncoding"),
])
def test_malformed_bodies_raise_a_decode_error(body: bytes, message: str) -> None:
    with pytest.raises(ProtobufDecodeError, match=message) as info:
        decode_k8s_protobuf(body)
    assert not isinstance(info.value, UnsupportedKindError)


def test_an_envelope_without_a_kind_is_unsupported() -> None:
    with pytest.raises(UnsupportedKindError, match="no kind"):
        decode_k8s_protobuf(b"k8s\x00")


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(EXPECTED) + ["generated-pod", "generated-service"]),
       st.lists(st.tuples(st.integers(min_value=4), st.integers(min_value=0, max_value=255)), max_size=4),
       st.integers(min_value=4))
def test_corrupted_bodies_decode_or_raise_the_decode_error_only(name: str, flips: list[tuple[int, int]],
                                                                 cut: int) -> None:
    body = bytearray(fixture(name))
    for position, byte in flips:
        body[position % len(body)] = byte
    try:
        obj = decode_k8s_protobuf(bytes(body[:max(4, cut % (len(body) + 1))]))
    except ProtobufDecodeError:
        return
    assert isinstance(obj, dict) and "kind" in obj


def test_the_descriptor_table_is_consistent() -> None:
    for message, fields in MESSAGES.items():
        names = [f.name for f in fields.values() if not f.inline]
        assert len(names) == len(set(names)), message
        for number, field in fields.items():
            assert number > 0
            if field.kind == "message":
                assert field.message in MESSAGES, f"{message}.{field.name} -> {field.message}"
            if field.kind == "map":
                assert field.message in ("string", "bytes", "quantity"), f"{message}.{field.name}"
    assert all(top in MESSAGES for top in KINDS.values())


# --- against the real kubectl ---

async def test_real_kubectl_sends_protobuf_that_decodes(tmp_path: Path) -> None:
    """kubectl finds the resources through discovery, then POSTs protobuf; the decoded bodies match."""
    seen: list[tuple[str, Any]] = []

    def resources(group_version: str, *items: tuple[str, str, bool]) -> dict[str, Any]:
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": [
            {"name": plural, "singularName": kind.lower(), "namespaced": namespaced, "kind": kind,
             "verbs": ["create", "get", "list"]} for plural, kind, namespaced in items]}

    discovery = {
        "/version": {"major": "1", "minor": "32", "gitVersion": "v1.32.0"},
        "/api": {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []},
        "/api/v1": resources("v1", ("namespaces", "Namespace", False), ("services", "Service", True)),
        "/apis": {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
            {"name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
             "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"}}]},
        "/apis/apps/v1": resources("apps/v1", ("deployments", "Deployment", True)),
    }

    async def handle(request: web.Request) -> web.Response:
        if request.method == "GET":
            if request.path in discovery:
                return web.json_response(discovery[request.path])
            return web.json_response({"kind": "Status", "code": 404}, status=404)
        body = await request.read()
        obj = (decode_k8s_protobuf(body) if request.content_type == "application/vnd.kubernetes.protobuf"
               else json.loads(body))
        seen.append((request.content_type, obj))
        return web.json_response({**obj, "metadata": {**obj["metadata"], "uid": "u"}}, status=201)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        env = {"HOME": str(tmp_path), "KUBECONFIG": str(tmp_path / "none"), "PATH": "/usr/bin:/bin"}
        for args in (["create", "namespace", "live"],
                     ["create", "deployment", "web", "--image=nginx", "--replicas=0"],
                     ["create", "service", "clusterip", "x", "--tcp=80:8080"]):
            proc = await asyncio.create_subprocess_exec(
                shutil.which("kubectl") or "kubectl", f"--server=http://127.0.0.1:{port}", "--validate=false",
                *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            out, err = await asyncio.wait_for(proc.communicate(), 60)
            assert proc.returncode == 0, err.decode()
    finally:
        await runner.cleanup()
    assert [ctype for ctype, _ in seen] == ["application/vnd.kubernetes.protobuf"] * 3
    namespace, deployment, service = (obj for _, obj in seen)
    assert namespace == {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "live"}}
    assert deployment["spec"]["replicas"] == 0
    assert deployment["spec"]["template"]["spec"]["containers"] == [{"name": "nginx", "image": "nginx"}]
    assert service["spec"]["ports"] == [{"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080}]
