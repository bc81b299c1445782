"""Decode the Kubernetes protobuf request bodies that client-go's typed clients send.

kubectl's typed commands (`kubectl create namespace|configmap|secret|deployment|service|job`)
POST `application/vnd.kubernetes.protobuf` and, unlike the dynamic commands, never fall back to
JSON on a 415 (kubernetes/kubernetes#86253). This module turns such a body into the same dict
the JSON path produces, so the rest of the server only ever sees JSON-shaped objects.

A body is the 4-byte magic `k8s\\x00` followed by a `runtime.Unknown` message whose `raw` field
holds the object's own message. The wire decoder is generic and pure; what it knows about
Kubernetes is the descriptor table below (field number -> JSON name and kind), written from the
`generated.proto` files of k8s.io/api and k8s.io/apimachinery.

Kubernetes' gogo-generated marshallers write every non-pointer field, zero or not, and a pointer
field only when it is set. So a field marked `ptr` (a Go pointer: `*int32`, `*bool`, `*string`,
`*Struct`) is emitted whenever it is on the wire, even as 0/false/{}; every other field is
omitted when empty, as `omitempty` would (or the server defaults it). Unknown fields are skipped.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

MAGIC: Final = b"k8s\x00"
CONTENT_TYPE: Final = "application/vnd.kubernetes.protobuf"

Kind = Literal["string", "bytes", "int", "bool", "message", "map", "time", "quantity", "intorstr", "rawjson"]


class ProtobufDecodeError(ValueError):
    """The body is not a well-formed Kubernetes protobuf envelope (answer 400)."""


class UnsupportedKindError(ProtobufDecodeError):
    """A well-formed envelope holding a kind this decoder has no descriptors for (answer 415)."""


@dataclass(frozen=True, slots=True)
class Field:
    name: str                 # the JSON name
    kind: Kind
    message: str = ""         # message name for "message"; value kind for "map" (string|bytes|quantity)
    repeated: bool = False
    ptr: bool = False         # Go pointer: emitted whenever present on the wire, even when zero
    inline: bool = False      # embedded Go struct (`json:",inline"`): its fields merge into the parent


# Small constructors keep the descriptor table readable: one line per proto field.
def _s(name: str, *, ptr: bool = False) -> Field:
    return Field(name, "string", ptr=ptr)


def _i(name: str, *, ptr: bool = False) -> Field:
    return Field(name, "int", ptr=ptr)


def _b(name: str, *, ptr: bool = False) -> Field:
    return Field(name, "bool", ptr=ptr)


def _m(name: str, message: str, *, ptr: bool = False) -> Field:
    return Field(name, "message", message, ptr=ptr)


def _rs(name: str) -> Field:
    return Field(name, "string", repeated=True)


def _rm(name: str, message: str) -> Field:
    return Field(name, "message", message, repeated=True)


def _map(name: str, value: str = "string") -> Field:
    return Field(name, "map", value)


def _time(name: str) -> Field:
    return Field(name, "time")


def _inline(message: str) -> Field:
    return Field("", "message", message, inline=True)


_META = "ObjectMeta"

MESSAGES: Final[dict[str, dict[int, Field]]] = {
    # --- k8s.io/apimachinery/pkg/apis/meta/v1 ---
    "ObjectMeta": {
        1: _s("name"), 2: _s("generateName"), 3: _s("namespace"), 4: _s("selfLink"), 5: _s("uid"),
        6: _s("resourceVersion"), 7: _i("generation"), 8: _time("creationTimestamp"),
        9: _time("deletionTimestamp"), 10: _i("deletionGracePeriodSeconds", ptr=True),
        11: _map("labels"), 12: _map("annotations"), 13: _rm("ownerReferences", "OwnerReference"),
        14: _rs("finalizers"), 17: _rm("managedFields", "ManagedFieldsEntry"),
    },
    "OwnerReference": {
        5: _s("apiVersion"), 1: _s("kind"), 3: _s("name"), 4: _s("uid"),
        6: _b("controller", ptr=True), 7: _b("blockOwnerDeletion", ptr=True),
    },
    "ManagedFieldsEntry": {
        1: _s("manager"), 2: _s("operation"), 3: _s("apiVersion"), 4: _time("time"),
        6: _s("fieldsType"), 7: Field("fieldsV1", "rawjson", ptr=True), 8: _s("subresource"),
    },
    "LabelSelector": {1: _map("matchLabels"), 2: _rm("matchExpressions", "LabelSelectorRequirement")},
    "LabelSelectorRequirement": {1: _s("key"), 2: _s("operator"), 3: _rs("values")},
    "Condition": {
        1: _s("type"), 2: _s("status"), 3: _i("observedGeneration"), 4: _time("lastTransitionTime"),
        5: _s("reason"), 6: _s("message"),
    },
    "DeleteOptions": {
        1: _i("gracePeriodSeconds", ptr=True), 2: _m("preconditions", "Preconditions", ptr=True),
        3: _b("orphanDependents", ptr=True), 4: _s("propagationPolicy", ptr=True), 5: _rs("dryRun"),
    },
    "Preconditions": {1: _s("uid", ptr=True), 2: _s("resourceVersion", ptr=True)},
    # --- k8s.io/api/core/v1 ---
    "Namespace": {1: _m("metadata", _META), 2: _m("spec", "NamespaceSpec"), 3: _m("status", "NamespaceStatus")},
    "NamespaceSpec": {1: _rs("finalizers")},
    "NamespaceStatus": {1: _s("phase"), 2: _rm("conditions", "NamespaceCondition")},
    "NamespaceCondition": {
        1: _s("type"), 2: _s("status"), 4: _time("lastTransitionTime"), 5: _s("reason"), 6: _s("message"),
    },
    "ConfigMap": {
        1: _m("metadata", _META), 2: _map("data"), 3: _map("binaryData", "bytes"), 4: _b("immutable", ptr=True),
    },
    "Secret": {
        1: _m("metadata", _META), 2: _map("data", "bytes"), 3: _s("type"), 4: _map("stringData"),
        5: _b("immutable", ptr=True),
    },
    "Service": {1: _m("metadata", _META), 2: _m("spec", "ServiceSpec"), 3: _m("status", "ServiceStatus")},
    "ServiceSpec": {
        1: _rm("ports", "ServicePort"), 2: _map("selector"), 3: _s("clusterIP"), 18: _rs("clusterIPs"),
        4: _s("type"), 5: _rs("externalIPs"), 7: _s("sessionAffinity"), 8: _s("loadBalancerIP"),
        9: _rs("loadBalancerSourceRanges"), 10: _s("externalName"), 11: _s("externalTrafficPolicy"),
        12: _i("healthCheckNodePort"), 13: _b("publishNotReadyAddresses"),
        14: _m("sessionAffinityConfig", "SessionAffinityConfig", ptr=True), 19: _rs("ipFamilies"),
        17: _s("ipFamilyPolicy", ptr=True), 20: _b("allocateLoadBalancerNodePorts", ptr=True),
        21: _s("loadBalancerClass", ptr=True), 22: _s("internalTrafficPolicy", ptr=True),
        23: _s("trafficDistribution", ptr=True),
    },
    "SessionAffinityConfig": {1: _m("clientIP", "ClientIPConfig", ptr=True)},
    "ClientIPConfig": {1: _i("timeoutSeconds", ptr=True)},
    "ServicePort": {
        1: _s("name"), 2: _s("protocol"), 6: _s("appProtocol", ptr=True), 3: _i("port"),
        4: Field("targetPort", "intorstr"), 5: _i("nodePort"),
    },
    "ServiceStatus": {1: _m("loadBalancer", "LoadBalancerStatus"), 2: _rm("conditions", "Condition")},
    "LoadBalancerStatus": {1: _rm("ingress", "LoadBalancerIngress")},
    "LoadBalancerIngress": {
        1: _s("ip"), 2: _s("hostname"), 3: _s("ipMode", ptr=True), 4: _rm("ports", "PortStatus"),
    },
    "PortStatus": {1: _i("port"), 2: _s("protocol"), 3: _s("error", ptr=True)},
    "Pod": {1: _m("metadata", _META), 2: _m("spec", "PodSpec"), 3: _m("status", "PodStatus")},
    "PodStatus": {
        1: _s("phase"), 2: _rm("conditions", "PodCondition"), 3: _s("message"), 4: _s("reason"),
        5: _s("hostIP"), 6: _s("podIP"), 7: _time("startTime"), 9: _s("qosClass"),
    },
    "PodCondition": {
        1: _s("type"), 2: _s("status"), 3: _time("lastProbeTime"), 4: _time("lastTransitionTime"),
        5: _s("reason"), 6: _s("message"),
    },
    "PodTemplateSpec": {1: _m("metadata", _META), 2: _m("spec", "PodSpec")},
    "PodSpec": {
        1: _rm("volumes", "Volume"), 20: _rm("initContainers", "Container"), 2: _rm("containers", "Container"),
        3: _s("restartPolicy"), 4: _i("terminationGracePeriodSeconds", ptr=True),
        5: _i("activeDeadlineSeconds", ptr=True), 6: _s("dnsPolicy"), 7: _map("nodeSelector"),
        8: _s("serviceAccountName"), 9: _s("serviceAccount"),
        21: _b("automountServiceAccountToken", ptr=True), 10: _s("nodeName"), 11: _b("hostNetwork"),
        12: _b("hostPID"), 13: _b("hostIPC"), 27: _b("shareProcessNamespace", ptr=True),
        14: _m("securityContext", "PodSecurityContext", ptr=True),
        15: _rm("imagePullSecrets", "LocalObjectReference"), 16: _s("hostname"), 17: _s("subdomain"),
        19: _s("schedulerName"), 22: _rm("tolerations", "Toleration"), 23: _rm("hostAliases", "HostAlias"),
        24: _s("priorityClassName"), 25: _i("priority", ptr=True), 29: _s("runtimeClassName", ptr=True),
        30: _b("enableServiceLinks", ptr=True), 31: _s("preemptionPolicy", ptr=True),
        35: _b("setHostnameAsFQDN", ptr=True), 37: _b("hostUsers", ptr=True),
    },
    "Container": {
        1: _s("name"), 2: _s("image"), 3: _rs("command"), 4: _rs("args"), 5: _s("workingDir"),
        6: _rm("ports", "ContainerPort"), 19: _rm("envFrom", "EnvFromSource"), 7: _rm("env", "EnvVar"),
        8: _m("resources", "ResourceRequirements"), 24: _s("restartPolicy", ptr=True),
        9: _rm("volumeMounts", "VolumeMount"), 10: _m("livenessProbe", "Probe", ptr=True),
        11: _m("readinessProbe", "Probe", ptr=True), 22: _m("startupProbe", "Probe", ptr=True),
        12: _m("lifecycle", "Lifecycle", ptr=True), 13: _s("terminationMessagePath"),
        20: _s("terminationMessagePolicy"), 14: _s("imagePullPolicy"),
        15: _m("securityContext", "SecurityContext", ptr=True), 16: _b("stdin"), 17: _b("stdinOnce"),
        18: _b("tty"),
    },
    "ContainerPort": {1: _s("name"), 2: _i("hostPort"), 3: _i("containerPort"), 4: _s("protocol"), 5: _s("hostIP")},
    "EnvVar": {1: _s("name"), 2: _s("value"), 3: _m("valueFrom", "EnvVarSource", ptr=True)},
    "EnvVarSource": {
        1: _m("fieldRef", "ObjectFieldSelector", ptr=True),
        2: _m("resourceFieldRef", "ResourceFieldSelector", ptr=True),
        3: _m("configMapKeyRef", "ConfigMapKeySelector", ptr=True),
        4: _m("secretKeyRef", "SecretKeySelector", ptr=True),
    },
    "ObjectFieldSelector": {1: _s("apiVersion"), 2: _s("fieldPath")},
    "ResourceFieldSelector": {1: _s("containerName"), 2: _s("resource"), 3: Field("divisor", "quantity")},
    "ConfigMapKeySelector": {1: _inline("LocalObjectReference"), 2: _s("key"), 3: _b("optional", ptr=True)},
    "SecretKeySelector": {1: _inline("LocalObjectReference"), 2: _s("key"), 3: _b("optional", ptr=True)},
    "EnvFromSource": {
        1: _s("prefix"), 2: _m("configMapRef", "ConfigMapEnvSource", ptr=True),
        3: _m("secretRef", "SecretEnvSource", ptr=True),
    },
    "ConfigMapEnvSource": {1: _inline("LocalObjectReference"), 2: _b("optional", ptr=True)},
    "SecretEnvSource": {1: _inline("LocalObjectReference"), 2: _b("optional", ptr=True)},
    "LocalObjectReference": {1: _s("name")},
    "ResourceRequirements": {
        1: _map("limits", "quantity"), 2: _map("requests", "quantity"), 3: _rm("claims", "ResourceClaim"),
    },
    "ResourceClaim": {1: _s("name"), 2: _s("request")},
    "VolumeMount": {
        1: _s("name"), 2: _b("readOnly"), 7: _s("recursiveReadOnly", ptr=True), 3: _s("mountPath"),
        4: _s("subPath"), 5: _s("mountPropagation", ptr=True), 6: _s("subPathExpr"),
    },
    "Probe": {
        1: _inline("ProbeHandler"), 2: _i("initialDelaySeconds"), 3: _i("timeoutSeconds"),
        4: _i("periodSeconds"), 5: _i("successThreshold"), 6: _i("failureThreshold"),
        7: _i("terminationGracePeriodSeconds", ptr=True),
    },
    "ProbeHandler": {
        1: _m("exec", "ExecAction", ptr=True), 2: _m("httpGet", "HTTPGetAction", ptr=True),
        3: _m("tcpSocket", "TCPSocketAction", ptr=True), 4: _m("grpc", "GRPCAction", ptr=True),
    },
    "ExecAction": {1: _rs("command")},
    "HTTPGetAction": {
        1: _s("path"), 2: Field("port", "intorstr"), 3: _s("host"), 4: _s("scheme"),
        5: _rm("httpHeaders", "HTTPHeader"),
    },
    "HTTPHeader": {1: _s("name"), 2: _s("value")},
    "TCPSocketAction": {1: Field("port", "intorstr"), 2: _s("host")},
    "GRPCAction": {1: _i("port"), 2: _s("service", ptr=True)},
    "Lifecycle": {
        1: _m("postStart", "LifecycleHandler", ptr=True), 2: _m("preStop", "LifecycleHandler", ptr=True),
        3: _s("stopSignal", ptr=True),
    },
    "LifecycleHandler": {
        1: _m("exec", "ExecAction", ptr=True), 2: _m("httpGet", "HTTPGetAction", ptr=True),
        3: _m("tcpSocket", "TCPSocketAction", ptr=True), 4: _m("sleep", "SleepAction", ptr=True),
    },
    "SleepAction": {1: _i("seconds")},
    "SecurityContext": {
        1: _m("capabilities", "Capabilities", ptr=True), 2: _b("privileged", ptr=True),
        4: _i("runAsUser", ptr=True), 8: _i("runAsGroup", ptr=True), 5: _b("runAsNonRoot", ptr=True),
        6: _b("readOnlyRootFilesystem", ptr=True), 7: _b("allowPrivilegeEscalation", ptr=True),
        9: _s("procMount", ptr=True), 11: _m("seccompProfile", "SeccompProfile", ptr=True),
    },
    "Capabilities": {1: _rs("add"), 2: _rs("drop")},
    "SeccompProfile": {1: _s("type"), 2: _s("localhostProfile", ptr=True)},
    "PodSecurityContext": {
        2: _i("runAsUser", ptr=True), 6: _i("runAsGroup", ptr=True), 3: _b("runAsNonRoot", ptr=True),
        4: Field("supplementalGroups", "int", repeated=True), 5: _i("fsGroup", ptr=True),
        7: _rm("sysctls", "Sysctl"), 9: _s("fsGroupChangePolicy", ptr=True),
        10: _m("seccompProfile", "SeccompProfile", ptr=True),
    },
    "Sysctl": {1: _s("name"), 2: _s("value")},
    "Toleration": {
        1: _s("key"), 2: _s("operator"), 3: _s("value"), 4: _s("effect"),
        5: _i("tolerationSeconds", ptr=True),
    },
    "HostAlias": {1: _s("ip"), 2: _rs("hostnames")},
    "Volume": {1: _s("name"), 2: _inline("VolumeSource")},
    "VolumeSource": {
        1: _m("hostPath", "HostPathVolumeSource", ptr=True), 2: _m("emptyDir", "EmptyDirVolumeSource", ptr=True),
        6: _m("secret", "SecretVolumeSource", ptr=True),
        10: _m("persistentVolumeClaim", "PersistentVolumeClaimVolumeSource", ptr=True),
        19: _m("configMap", "ConfigMapVolumeSource", ptr=True),
    },
    "HostPathVolumeSource": {1: _s("path"), 2: _s("type", ptr=True)},
    "EmptyDirVolumeSource": {1: _s("medium"), 2: Field("sizeLimit", "quantity", ptr=True)},
    "SecretVolumeSource": {
        1: _s("secretName"), 2: _rm("items", "KeyToPath"), 3: _i("defaultMode", ptr=True),
        4: _b("optional", ptr=True),
    },
    "ConfigMapVolumeSource": {
        1: _inline("LocalObjectReference"), 2: _rm("items", "KeyToPath"), 3: _i("defaultMode", ptr=True),
        4: _b("optional", ptr=True),
    },
    "KeyToPath": {1: _s("key"), 2: _s("path"), 3: _i("mode", ptr=True)},
    "PersistentVolumeClaimVolumeSource": {1: _s("claimName"), 2: _b("readOnly")},
    # --- k8s.io/api/apps/v1 ---
    "Deployment": {1: _m("metadata", _META), 2: _m("spec", "DeploymentSpec"), 3: _m("status", "DeploymentStatus")},
    "DeploymentSpec": {
        1: _i("replicas", ptr=True), 2: _m("selector", "LabelSelector", ptr=True),
        3: _m("template", "PodTemplateSpec"), 4: _m("strategy", "DeploymentStrategy"),
        5: _i("minReadySeconds"), 6: _i("revisionHistoryLimit", ptr=True), 7: _b("paused"),
        9: _i("progressDeadlineSeconds", ptr=True),
    },
    "DeploymentStrategy": {1: _s("type"), 2: _m("rollingUpdate", "RollingUpdateDeployment", ptr=True)},
    "RollingUpdateDeployment": {
        1: Field("maxUnavailable", "intorstr", ptr=True), 2: Field("maxSurge", "intorstr", ptr=True),
    },
    "DeploymentStatus": {
        1: _i("observedGeneration"), 2: _i("replicas"), 3: _i("updatedReplicas"), 7: _i("readyReplicas"),
        4: _i("availableReplicas"), 5: _i("unavailableReplicas"), 9: _i("terminatingReplicas", ptr=True),
        6: _rm("conditions", "DeploymentCondition"), 8: _i("collisionCount", ptr=True),
    },
    "DeploymentCondition": {
        1: _s("type"), 2: _s("status"), 6: _time("lastUpdateTime"), 7: _time("lastTransitionTime"),
        4: _s("reason"), 5: _s("message"),
    },
    "ReplicaSet": {1: _m("metadata", _META), 2: _m("spec", "ReplicaSetSpec"), 3: _m("status", "ReplicaSetStatus")},
    "ReplicaSetSpec": {
        1: _i("replicas", ptr=True), 4: _i("minReadySeconds"), 2: _m("selector", "LabelSelector", ptr=True),
        3: _m("template", "PodTemplateSpec"),
    },
    "ReplicaSetStatus": {
        1: _i("replicas"), 2: _i("fullyLabeledReplicas"), 4: _i("readyReplicas"), 5: _i("availableReplicas"),
        7: _i("terminatingReplicas", ptr=True), 3: _i("observedGeneration"),
        6: _rm("conditions", "ReplicaSetCondition"),
    },
    "ReplicaSetCondition": {
        1: _s("type"), 2: _s("status"), 3: _time("lastTransitionTime"), 4: _s("reason"), 5: _s("message"),
    },
    # --- k8s.io/api/batch/v1 ---
    "Job": {1: _m("metadata", _META), 2: _m("spec", "JobSpec"), 3: _m("status", "JobStatus")},
    "JobSpec": {
        1: _i("parallelism", ptr=True), 2: _i("completions", ptr=True), 3: _i("activeDeadlineSeconds", ptr=True),
        7: _i("backoffLimit", ptr=True), 12: _i("backoffLimitPerIndex", ptr=True),
        13: _i("maxFailedIndexes", ptr=True), 4: _m("selector", "LabelSelector", ptr=True),
        5: _b("manualSelector", ptr=True), 6: _m("template", "PodTemplateSpec"),
        8: _i("ttlSecondsAfterFinished", ptr=True), 9: _s("completionMode", ptr=True),
        10: _b("suspend", ptr=True), 14: _s("podReplacementPolicy", ptr=True), 15: _s("managedBy", ptr=True),
    },
    "JobStatus": {
        1: _rm("conditions", "JobCondition"), 2: _time("startTime"), 3: _time("completionTime"),
        4: _i("active"), 5: _i("succeeded"), 6: _i("failed"), 7: _s("completedIndexes"),
        10: _s("failedIndexes", ptr=True), 9: _i("ready", ptr=True), 11: _i("terminating", ptr=True),
    },
    "JobCondition": {
        1: _s("type"), 2: _s("status"), 3: _time("lastProbeTime"), 4: _time("lastTransitionTime"),
        5: _s("reason"), 6: _s("message"),
    },
}

# (apiVersion, kind) of the envelope -> top-level message.
KINDS: Final[dict[tuple[str, str], str]] = {
    ("v1", "Namespace"): "Namespace",
    ("v1", "ConfigMap"): "ConfigMap",
    ("v1", "Secret"): "Secret",
    ("v1", "Service"): "Service",
    ("v1", "Pod"): "Pod",
    ("apps/v1", "Deployment"): "Deployment",
    ("apps/v1", "ReplicaSet"): "ReplicaSet",
    ("batch/v1", "Job"): "Job",
}
# client-go encodes DeleteOptions in the group version of the resource it deletes.
_ANY_VERSION_KINDS: Final = {"DeleteOptions": "DeleteOptions"}


# --- wire format ---

_WIRE_NAMES: Final = {0: "varint", 1: "fixed64", 2: "length-delimited", 5: "fixed32"}


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    end = len(buf)
    while True:
        if pos >= end:
            raise ProtobufDecodeError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise ProtobufDecodeError("varint longer than 10 bytes")


def _scan(buf: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) for every field of one message: ints or raw bytes."""
    pos, end = 0, len(buf)
    while pos < end:
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ProtobufDecodeError("field number 0")
        value: int | bytes
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 2:
            size, pos = _varint(buf, pos)
            if pos + size > end:
                raise ProtobufDecodeError(f"field {number}: truncated ({size} bytes announced, {end - pos} left)")
            value = buf[pos:pos + size]
            pos += size
        elif wire in (1, 5):
            width = 8 if wire == 1 else 4
            if pos + width > end:
                raise ProtobufDecodeError(f"field {number}: truncated fixed-width value")
            value = int.from_bytes(buf[pos:pos + width], "little")
            pos += width
        else:  # 3/4 are proto2 groups, which Kubernetes never uses; 6/7 do not exist
            raise ProtobufDecodeError(f"field {number}: unsupported wire type {wire}")
        yield number, wire, value


def _signed(value: int) -> int:
    # int32 and int64 are both written as 64-bit two's complement varints (a 10th byte may
    # carry bits past 64, which Go drops too).
    value &= (1 << 64) - 1
    return value - (1 << 64) if value >= 1 << 63 else value


def _expect(path: str, wire: int, expected: int) -> None:
    if wire != expected:
        raise ProtobufDecodeError(
            f"{path}: {_WIRE_NAMES.get(wire, wire)} on the wire, expected {_WIRE_NAMES[expected]}")


def _text(data: bytes, path: str) -> str:
    try:
        return data.decode()
    except UnicodeDecodeError as e:
        raise ProtobufDecodeError(f"{path}: invalid UTF-8 in a string") from e


def _scalar(kind: str, wire: int, value: int | bytes, path: str) -> Any:
    """One non-message value: string, bytes (base64, as JSON carries []byte), int or bool."""
    if kind in ("int", "bool"):
        _expect(path, wire, 0)
        assert isinstance(value, int)
        return _signed(value) if kind == "int" else value != 0
    _expect(path, wire, 2)
    assert isinstance(value, bytes)
    if kind == "string":
        return _text(value, path)
    if kind == "bytes":
        return base64.b64encode(value).decode()
    return _special(kind, value, path)


def _special(kind: str, data: bytes, path: str) -> Any:
    """Messages that JSON renders as scalars: Time, Quantity, IntOrString, FieldsV1."""
    fields = {number: value for number, _, value in _scan(data)}
    if kind == "time":
        if not data:  # a zero metav1.Time marshals as an empty message; JSON has it as null
            return None
        return _rfc3339(_signed(_int(fields.get(1, 0))))
    if kind == "quantity":
        return _text(_bytes(fields.get(1, b"")), path)
    if kind == "intorstr":
        if _int(fields.get(1, 0)) == 1:
            return _text(_bytes(fields.get(3, b"")), path)
        return _signed(_int(fields.get(2, 0)))
    if kind == "rawjson":  # FieldsV1 and RawExtension carry JSON text in field 1
        try:
            return json.loads(_bytes(fields.get(1, b"null")))
        except (ValueError, RecursionError) as e:
            raise ProtobufDecodeError(f"{path}: not JSON: {e}") from e
    raise AssertionError(kind)


def _int(value: int | bytes) -> int:
    if not isinstance(value, int):
        raise ProtobufDecodeError("length-delimited value where an integer was expected")
    return value


def _bytes(value: int | bytes) -> bytes:
    if not isinstance(value, bytes):
        raise ProtobufDecodeError("integer where a length-delimited value was expected")
    return value


_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def _rfc3339(seconds: int) -> str:
    """metav1.Time's JSON: RFC 3339 in UTC with whole seconds (the nanos are dropped, as Go does)."""
    try:
        t = _EPOCH + timedelta(seconds=seconds)
    except OverflowError as e:
        raise ProtobufDecodeError(f"timestamp out of range: {seconds} s") from e
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}Z"


# --- messages ---

def _message(name: str, data: bytes, path: str) -> dict[str, Any]:
    fields = MESSAGES[name]
    out: dict[str, Any] = {}
    for number, wire, value in _scan(data):
        field = fields.get(number)
        if field is None:
            continue  # a newer client's field, or one kfed does not model: protobuf says skip it
        where = f"{path}.{field.name or field.message}"
        if field.kind == "map":
            key, item = _map_entry(field.message, wire, value, where)
            out.setdefault(field.name, {})[key] = item
        elif field.repeated:
            items = _repeated(field, wire, value, where)
            if items:
                out.setdefault(field.name, []).extend(items)
        elif field.inline:
            _expect(where, wire, 2)
            out.update(_message(field.message, _bytes(value), path))
        else:
            if field.kind == "message":
                _expect(where, wire, 2)
                single: Any = _message(field.message, _bytes(value), where)
            else:
                single = _scalar(field.kind, wire, value, where)
            # Later occurrences win (protobuf's rule), so an empty one also clears an earlier one.
            if single is None or (not single and not field.ptr):
                out.pop(field.name, None)
            else:
                out[field.name] = single
    return out


def _repeated(field: Field, wire: int, value: int | bytes, path: str) -> list[Any]:
    if field.kind == "message":
        _expect(path, wire, 2)
        return [_message(field.message, _bytes(value), path)]
    if field.kind in ("int", "bool") and wire == 2:  # packed encoding
        packed = _bytes(value)
        items, pos = [], 0
        while pos < len(packed):
            item, pos = _varint(packed, pos)
            items.append(_scalar(field.kind, 0, item, path))
        return items
    return [_scalar(field.kind, wire, value, path)]


def _map_entry(value_kind: str, wire: int, value: int | bytes, path: str) -> tuple[str, Any]:
    """A proto map entry is a message with the key in field 1 and the value in field 2."""
    _expect(path, wire, 2)
    key, item = "", ""
    for number, entry_wire, entry_value in _scan(_bytes(value)):
        if number == 1:
            key = _scalar("string", entry_wire, entry_value, path)
        elif number == 2:
            item = _scalar(value_kind, entry_wire, entry_value, f"{path}[{key}]")
    return key, item


def decode_k8s_protobuf(body: bytes) -> dict[str, Any]:
    """The JSON-shaped object (with "apiVersion" and "kind") held in a Kubernetes protobuf body.

    Raises ProtobufDecodeError for a malformed body, and its subclass UnsupportedKindError for a
    well-formed one holding a kind this module has no descriptors for.
    """
    if not body.startswith(MAGIC):
        raise ProtobufDecodeError("not a Kubernetes protobuf body (missing the k8s\\x00 prefix)")
    api_version = kind = encoding = ""
    raw = b""
    for number, wire, value in _scan(body[len(MAGIC):]):
        if number == 1:  # typeMeta
            _expect("typeMeta", wire, 2)
            for meta_number, meta_wire, meta_value in _scan(_bytes(value)):
                if meta_number == 1:
                    api_version = _scalar("string", meta_wire, meta_value, "typeMeta.apiVersion")
                elif meta_number == 2:
                    kind = _scalar("string", meta_wire, meta_value, "typeMeta.kind")
        elif number == 2:
            _expect("raw", wire, 2)
            raw = _bytes(value)
        elif number == 3:
            encoding = _scalar("string", wire, value, "contentEncoding")
    if encoding:
        raise ProtobufDecodeError(f"unsupported contentEncoding {encoding!r}")
    top = KINDS.get((api_version, kind)) or _ANY_VERSION_KINDS.get(kind)
    if top is None:
        raise UnsupportedKindError(
            f"no protobuf decoder for {kind or '(no kind)'} in {api_version or '(no apiVersion)'}; "
            "send application/json")
    obj: dict[str, Any] = {"kind": kind, "apiVersion": api_version}
    obj.update(_message(top, raw, kind))
    return obj
