"""core/v1 kinds: Namespace, Secret, ConfigMap, Event, Node, Endpoints (Service and Pod live in
their own modules and are re-exported here)."""

from __future__ import annotations

import base64
import binascii
import copy
from typing import Any

from kfed.model import validation as v
from kfed.model.resource import FieldCause, Obj, TableColumn
from kfed.model.strategies.base import (
    AGE_COLUMN,
    NAME_COLUMN,
    KindStrategy,
    as_dict,
    as_int,
    as_list,
    as_str,
    creation_timestamp,
    meta,
    name_of,
    spec,
    status,
)
from kfed.model.strategies.pod import PodStrategy
from kfed.model.strategies.service import ServiceStrategy

__all__ = [
    "ConfigMapStrategy",
    "EndpointsStrategy",
    "EventStrategy",
    "NamespaceStrategy",
    "NodeStrategy",
    "PodStrategy",
    "SecretStrategy",
    "ServiceStrategy",
]

MAX_SECRET_SIZE = 1024 * 1024  # also the ConfigMap limit
IMMUTABLE_WHEN_SET = "field is immutable when `immutable` is set"


# ---------------------------------------------------------------------------------------------
# Namespace


class NamespaceStrategy(KindStrategy):
    """Namespaces: finalizer `kubernetes` and phase Active on create; phase follows deletion."""

    status_subresource = True
    tracks_generation = False

    def default(self, obj: Obj) -> None:
        name = meta(obj).get("name")
        if isinstance(name, str) and name:
            labels = meta(obj).get("labels")
            if not isinstance(labels, dict):
                labels = meta(obj)["labels"] = {}
            labels["kubernetes.io/metadata.name"] = name

    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        obj["status"] = {"phase": "Active"}
        ns_spec = obj.get("spec")
        if not isinstance(ns_spec, dict):
            ns_spec = obj["spec"] = {}
        finalizers = ns_spec.get("finalizers")
        if not isinstance(finalizers, list):
            finalizers = ns_spec["finalizers"] = []
        if "kubernetes" not in finalizers:
            finalizers.append("kubernetes")

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_update(new, old)
        # spec.finalizers change only through the finalize subresource
        old_spec = spec(old)
        new_spec = new.get("spec")
        if not isinstance(new_spec, dict):
            new_spec = new["spec"] = {}
        if "finalizers" in old_spec:
            new_spec["finalizers"] = copy.deepcopy(old_spec["finalizers"])
        else:
            new_spec.pop("finalizers", None)

    def prepare_for_finalize_update(self, new: Obj, old: Obj) -> None:
        """On namespaces/{name}/finalize: only spec.finalizers change."""
        if "status" in old:
            new["status"] = copy.deepcopy(old["status"])

    def validate(self, obj: Obj) -> list[FieldCause]:
        causes: list[FieldCause] = []
        for i, name in enumerate(as_list(spec(obj).get("finalizers"))):
            if isinstance(name, str):
                causes += v.validate_finalizer_name(f"spec.finalizers[{i}]", name)
        return causes

    def validate_update(self, new: Obj, old: Obj) -> list[FieldCause]:
        phase = as_str(status(new).get("phase"))
        deleting = bool(as_dict(new.get("metadata")).get("deletionTimestamp"))
        if not deleting and phase and phase != "Active":
            return [v.invalid("status.Phase", phase, "may only be 'Active' if `deletionTimestamp` is empty")]
        if deleting and phase and phase != "Terminating":
            return [v.invalid("status.Phase", phase, "may only be 'Terminating' if `deletionTimestamp` is not empty")]
        return []

    def table_columns(self) -> list[TableColumn]:
        return [NAME_COLUMN, TableColumn("Status", description="The status of the namespace"), AGE_COLUMN]

    def table_row(self, obj: Obj) -> list[Any]:
        return [name_of(obj), as_str(status(obj).get("phase")), creation_timestamp(obj)]

    def selectable_fields(self, obj: Obj) -> dict[str, str]:
        return {"status.phase": as_str(status(obj).get("phase"))}


# ---------------------------------------------------------------------------------------------
# Secret


SECRET_TYPE_REQUIRED_KEYS: dict[str, tuple[str, ...]] = {
    "kubernetes.io/dockercfg": (".dockercfg",),
    "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
    "kubernetes.io/ssh-auth": ("ssh-privatekey",),
    "kubernetes.io/tls": ("tls.crt", "tls.key"),
}


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _decode_b64(value: str) -> tuple[bytes | None, str]:
    """Decode as Go's encoding/json decodes []byte: standard base64 with padding."""
    try:
        return base64.b64decode(value, validate=True), ""
    except (binascii.Error, ValueError):
        for i, ch in enumerate(value):
            if not (ch.isascii() and (ch.isalnum() or ch in "+/=")):
                return None, f"illegal base64 data at input byte {i}"
        return None, f"illegal base64 data at input byte {len(value) - len(value) % 4 if len(value) % 4 else len(value)}"


class SecretStrategy(KindStrategy):
    """Secrets: type Opaque by default, stringData folded into data, data keys and base64 checked."""

    tracks_generation = False

    def default(self, obj: Obj) -> None:
        if not obj.get("type"):
            obj["type"] = "Opaque"
        # stringData is write-only: kube-apiserver merges it into data while decoding.
        string_data = obj.pop("stringData", None)
        if isinstance(string_data, dict) and string_data:
            data = obj.get("data")
            if not isinstance(data, dict):
                data = obj["data"] = {}
            for key, value in string_data.items():
                if isinstance(value, str):
                    data[key] = _b64(value)

    def validate(self, obj: Obj) -> list[FieldCause]:
        causes: list[FieldCause] = []
        data = as_dict(obj.get("data"))
        total = 0
        for key in sorted(data, key=str):
            causes += [v.invalid(f"data[{key}]", key, m) for m in v.is_config_map_key(str(key))]
            value = data[key]
            if isinstance(value, str):
                decoded, error = _decode_b64(value)
                if decoded is None:
                    causes.append(v.invalid(f"data[{key}]", "<secret contents redacted>", error))
                else:
                    total += len(decoded)
        if total > MAX_SECRET_SIZE:
            causes.append(v.too_long("data", MAX_SECRET_SIZE))
        secret_type = as_str(obj.get("type"))
        for key in SECRET_TYPE_REQUIRED_KEYS.get(secret_type, ()):
            if key not in data:
                causes.append(v.required(f"data[{key}]"))
        if secret_type == "kubernetes.io/basic-auth" and "username" not in data and "password" not in data:
            causes.append(v.required("data[username]"))
            causes.append(v.required("data[password]"))
        if secret_type == "kubernetes.io/service-account-token":
            annotations = as_dict(as_dict(obj.get("metadata")).get("annotations"))
            if not annotations.get("kubernetes.io/service-account.name"):
                causes.append(v.required("metadata.annotations[kubernetes.io/service-account.name]"))
        return causes

    def validate_update(self, new: Obj, old: Obj) -> list[FieldCause]:
        causes: list[FieldCause] = []
        old_type, new_type = as_str(old.get("type")), as_str(new.get("type"))
        if old_type and new_type != old_type:
            causes.append(v.invalid("type", new_type, v.FIELD_IMMUTABLE))
        causes += _immutable_data(new, old, ("data",))
        return causes

    def table_columns(self) -> list[TableColumn]:
        return [NAME_COLUMN,
                TableColumn("Type", description="Used to facilitate programmatic handling of secret data."),
                TableColumn("Data", description="Data contains the secret data."),
                AGE_COLUMN]

    def table_row(self, obj: Obj) -> list[Any]:
        return [name_of(obj), as_str(obj.get("type")), len(as_dict(obj.get("data"))), creation_timestamp(obj)]

    def selectable_fields(self, obj: Obj) -> dict[str, str]:
        return {"type": as_str(obj.get("type"))}


def _immutable_data(new: Obj, old: Obj, fields: tuple[str, ...]) -> list[FieldCause]:
    """Once `immutable: true`, the data fields and the flag itself may not change."""
    if old.get("immutable") is not True:
        return []
    causes = []
    if new.get("immutable") is not True:
        causes.append(v.forbidden("immutable", IMMUTABLE_WHEN_SET))
    for field in fields:
        if (new.get(field) or {}) != (old.get(field) or {}):
            causes.append(v.forbidden(field, IMMUTABLE_WHEN_SET))
    return causes


# ---------------------------------------------------------------------------------------------
# ConfigMap


class ConfigMapStrategy(KindStrategy):
    tracks_generation = False

    def validate(self, obj: Obj) -> list[FieldCause]:
        causes: list[FieldCause] = []
        data, binary = as_dict(obj.get("data")), as_dict(obj.get("binaryData"))
        total = 0
        for key in sorted(data, key=str):
            causes += [v.invalid(f"data[{key}]", key, m) for m in v.is_config_map_key(str(key))]
            total += len(str(key)) + len(as_str(data[key]).encode())
        for key in sorted(binary, key=str):
            causes += [v.invalid(f"binaryData[{key}]", key, m) for m in v.is_config_map_key(str(key))]
            if key in data:
                causes.append(v.invalid(f"binaryData[{key}]", key, "duplicate of key present in data"))
            value = binary[key]
            decoded = _decode_b64(value)[0] if isinstance(value, str) else None
            if isinstance(value, str) and decoded is None:
                causes.append(v.invalid(f"binaryData[{key}]", key, _decode_b64(value)[1]))
            total += len(str(key)) + (len(decoded) if decoded is not None else 0)
        if total > MAX_SECRET_SIZE:
            causes.append(v.too_long("", MAX_SECRET_SIZE))
        return causes

    def validate_update(self, new: Obj, old: Obj) -> list[FieldCause]:
        return _immutable_data(new, old, ("data", "binaryData"))

    def table_columns(self) -> list[TableColumn]:
        return [NAME_COLUMN,
                TableColumn("Data", description="Data contains the configuration data."),
                AGE_COLUMN]

    def table_row(self, obj: Obj) -> list[Any]:
        return [name_of(obj), len(as_dict(obj.get("data"))) + len(as_dict(obj.get("binaryData"))),
                creation_timestamp(obj)]


# ---------------------------------------------------------------------------------------------
# Event


def event_last_seen(obj: Obj) -> str:
    """The timestamp behind LAST SEEN: series' last observation, lastTimestamp, first, eventTime."""
    series = as_dict(obj.get("series"))
    if series.get("lastObservedTime"):
        return as_str(series.get("lastObservedTime"))
    return as_str(obj.get("lastTimestamp")) or event_first_seen(obj)


def event_first_seen(obj: Obj) -> str:
    return as_str(obj.get("firstTimestamp")) or as_str(obj.get("eventTime"))


class EventStrategy(KindStrategy):
    """core/v1 Events, as `kubectl describe` lists them with involvedObject field selectors."""

    tracks_generation = False

    def validate(self, obj: Obj) -> list[FieldCause]:
        """legacyValidateEvent: old-style events (no eventTime) only need matching namespaces;
        new-style ones also name their reporting controller, instance, action and reason."""
        involved = as_dict(obj.get("involvedObject"))
        namespace = as_str(as_dict(obj.get("metadata")).get("namespace"))
        involved_ns = as_str(involved.get("namespace"))
        mismatch = v.invalid("involvedObject.namespace", involved_ns, "does not match event.namespace")
        causes: list[FieldCause] = []
        if not obj.get("eventTime"):
            if (not involved_ns and namespace not in ("", "default")) or (involved_ns and involved_ns != namespace):
                causes.append(mismatch)
            return causes
        if not involved_ns and namespace not in ("default", "kube-system"):
            causes.append(mismatch)
        controller = as_str(obj.get("reportingComponent"))
        if not controller:
            causes.append(v.required("reportingComponent"))
        causes += v.validate_qualified_name("reportingComponent", controller)
        for field, limit in (("reportingInstance", 128), ("action", 128), ("reason", 128)):
            value = as_str(obj.get(field))
            if not value:
                causes.append(v.required(field))
            if len(value) > limit:
                causes.append(v.invalid(field, "", f"can have at most {limit} characters"))
        if len(as_str(obj.get("message"))) > 1024:
            causes.append(v.invalid("message", "", "can have at most 1024 characters"))
        return causes

    def table_columns(self) -> list[TableColumn]:
        return [
            TableColumn("Last Seen", type="date", description="The time at which the most recent occurrence of "
                                                              "this event was recorded."),
            TableColumn("Type", description="Type of this event (Normal, Warning), new types could be added in "
                                            "the future"),
            TableColumn("Reason", description="This should be a short, machine understandable string that gives "
                                              "the reason for the transition into the object's current status."),
            TableColumn("Object", description="The object that this event is about."),
            TableColumn("Subobject", priority=1, description="If referring to a piece of an object instead of an "
                                                             "entire object, this string should contain a valid "
                                                             "JSON/Go field access statement."),
            TableColumn("Source", priority=1, description="The component reporting this event."),
            TableColumn("Message", description="A human-readable description of the status of this operation."),
            TableColumn("First Seen", type="date", priority=1, description="The time at which the event was first "
                                                                           "recorded."),
            TableColumn("Count", priority=1, description="The number of times this event has occurred."),
            TableColumn("Name", format="name", priority=1, description="Name of the event"),
        ]

    def table_row(self, obj: Obj) -> list[Any]:
        involved = as_dict(obj.get("involvedObject"))
        kind, name = as_str(involved.get("kind")).lower(), as_str(involved.get("name"))
        target = f"{kind}/{name}" if name else kind
        series = as_dict(obj.get("series"))
        count = as_int(series.get("count")) if series else as_int(obj.get("count"))
        source = as_dict(obj.get("source"))
        component = as_str(source.get("component")) or as_str(obj.get("reportingComponent"))
        instance = as_str(source.get("host")) or as_str(obj.get("reportingInstance"))
        return [event_last_seen(obj), as_str(obj.get("type")), as_str(obj.get("reason")), target,
                as_str(involved.get("fieldPath")), f"{component}, {instance}" if instance else component,
                as_str(obj.get("message")).strip(), event_first_seen(obj), count or 1, name_of(obj)]

    def selectable_fields(self, obj: Obj) -> dict[str, str]:
        involved = as_dict(obj.get("involvedObject"))
        source = as_str(as_dict(obj.get("source")).get("component")) or as_str(obj.get("reportingComponent"))
        fields = {f"involvedObject.{k}": as_str(involved.get(k))
                  for k in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")}
        fields.update({
            "reason": as_str(obj.get("reason")),
            "reportingComponent": as_str(obj.get("reportingComponent")),
            "source": source,
            "type": as_str(obj.get("type")),
        })
        return fields


# ---------------------------------------------------------------------------------------------
# Node


class NodeStrategy(KindStrategy):
    """Nodes (simulated clusters): status comes with the node on create, as kubelets send it."""

    status_subresource = True
    tracks_generation = False

    def prepare_for_create(self, obj: Obj) -> None:
        meta(obj).pop("generation", None)  # status stays: a kubelet registers its node with one

    def default(self, obj: Obj) -> None:
        st = obj.get("status")
        if isinstance(st, dict) and isinstance(st.get("capacity"), dict) and "allocatable" not in st:
            st["allocatable"] = copy.deepcopy(st["capacity"])

    def validate(self, obj: Obj) -> list[FieldCause]:
        causes: list[FieldCause] = []
        node_spec = spec(obj)
        cidrs = [c for c in as_list(node_spec.get("podCIDRs")) if isinstance(c, str)]
        for i, cidr in enumerate(cidrs):
            causes += v.validate_cidr(f"spec.podCIDRs[{i}]", cidr)
        seen_taints: set[tuple[str, str]] = set()
        for i, taint in enumerate(as_list(node_spec.get("taints"))):
            taint = as_dict(taint)
            tpath = f"metadata.taints[{i}]"  # sic: kube-apiserver reports node taints under metadata
            causes += v.validate_qualified_name(f"{tpath}.key", as_str(taint.get("key")))
            value = as_str(taint.get("value"))
            msgs = v.is_label_value(value)
            if msgs:
                causes.append(v.invalid(f"{tpath}.value", value, ";".join(msgs)))
            effect = as_str(taint.get("effect"))
            if not effect:
                causes.append(v.required(f"{tpath}.effect"))
            elif effect not in ("NoExecute", "NoSchedule", "PreferNoSchedule"):
                causes.append(v.not_supported(f"{tpath}.effect", effect, ("NoExecute", "NoSchedule", "PreferNoSchedule")))
            key = (as_str(taint.get("key")), effect)
            if key in seen_taints:
                causes.append(v.duplicate(tpath, v.GoValue(str(taint))))
            seen_taints.add(key)
        return causes

    def table_columns(self) -> list[TableColumn]:
        return [
            NAME_COLUMN,
            TableColumn("Status", description="The status of the node"),
            TableColumn("Roles", description="The roles of the node"),
            AGE_COLUMN,
            TableColumn("Version", description="Kubelet Version reported by the node."),
            TableColumn("Internal-IP", priority=1, description="List of addresses reachable to the node."),
            TableColumn("External-IP", priority=1, description="List of addresses reachable to the node."),
            TableColumn("OS-Image", priority=1, description="OS Image reported by the node from /etc/os-release "
                                                            "(e.g. Debian GNU/Linux 7 (wheezy))."),
            TableColumn("Kernel-Version", priority=1, description="Kernel Version reported by the node from "
                                                                  "'uname -r' (e.g. 3.16.0-0.bpo.4-amd64)."),
            TableColumn("Container-Runtime", priority=1, description="ContainerRuntime Version reported by the "
                                                                     "node through runtime remote API "
                                                                     "(e.g. containerd://1.4.2)."),
        ]

    def table_row(self, obj: Obj) -> list[Any]:
        st = status(obj)
        ready = None
        for c in as_list(st.get("conditions")):
            if as_dict(c).get("type") == "Ready":
                ready = as_dict(c)
        states = ["Unknown"] if ready is None else (["Ready"] if ready.get("status") == "True" else ["NotReady"])
        if spec(obj).get("unschedulable") is True:
            states.append("SchedulingDisabled")
        roles = set()
        for key, value in as_dict(as_dict(obj.get("metadata")).get("labels")).items():
            if key.startswith("node-role.kubernetes.io/") and key[len("node-role.kubernetes.io/"):]:
                roles.add(key[len("node-role.kubernetes.io/"):])
            elif key == "kubernetes.io/role" and value:
                roles.add(str(value))
        info = as_dict(st.get("nodeInfo"))

        def address(kind: str) -> str:
            for a in as_list(st.get("addresses")):
                if as_dict(a).get("type") == kind:
                    return as_str(as_dict(a).get("address"))
            return "<none>"

        return [name_of(obj), ",".join(states), ",".join(sorted(roles)) or "<none>", creation_timestamp(obj),
                as_str(info.get("kubeletVersion")), address("InternalIP"), address("ExternalIP"),
                as_str(info.get("osImage")) or "<unknown>", as_str(info.get("kernelVersion")) or "<unknown>",
                as_str(info.get("containerRuntimeVersion")) or "<unknown>"]

    def selectable_fields(self, obj: Obj) -> dict[str, str]:
        return {"spec.unschedulable": "true" if spec(obj).get("unschedulable") is True else "false"}


# ---------------------------------------------------------------------------------------------
# Endpoints


class EndpointsStrategy(KindStrategy):
    tracks_generation = False

    def __init__(self, *, allow_special_ips: bool = False) -> None:
        # kube-apiserver refuses loopback and link-local endpoint IPs; simulations may allow them.
        self.allow_special_ips = allow_special_ips

    def validate(self, obj: Obj) -> list[FieldCause]:
        causes: list[FieldCause] = []
        for i, subset in enumerate(as_list(obj.get("subsets"))):
            subset = as_dict(subset)
            spath = f"subsets[{i}]"
            addresses, not_ready = as_list(subset.get("addresses")), as_list(subset.get("notReadyAddresses"))
            if not addresses and not not_ready:
                causes.append(v.required(spath, "must specify `addresses` or `notReadyAddresses`"))
            for field, items in (("addresses", addresses), ("notReadyAddresses", not_ready)):
                for j, address in enumerate(items):
                    ip = as_str(as_dict(address).get("ip"))
                    apath = f"{spath}.{field}[{j}].ip"
                    errs = v.validate_ip(apath, ip)
                    if errs:
                        causes += errs
                    elif not self.allow_special_ips:
                        causes += v.validate_non_special_ip(apath, ip)
            ports = as_list(subset.get("ports"))
            names: set[str] = set()
            for j, port in enumerate(ports):
                port = as_dict(port)
                ppath = f"{spath}.ports[{j}]"
                name = as_str(port.get("name"))
                if len(ports) > 1 and not name:
                    causes.append(v.required(f"{ppath}.name"))
                elif name:
                    causes += v.validate_dns1123_label(f"{ppath}.name", name)
                    if name in names:
                        causes.append(v.duplicate(f"{ppath}.name", name))
                    names.add(name)
                number = as_int(port.get("port"))
                causes += v.validate_port_number(f"{ppath}.port", number or 0)
                protocol = as_str(port.get("protocol"))
                if not protocol:
                    causes.append(v.required(f"{ppath}.protocol"))
                elif protocol not in ("SCTP", "TCP", "UDP"):
                    causes.append(v.not_supported(f"{ppath}.protocol", protocol, ("SCTP", "TCP", "UDP")))
        return causes

    def default(self, obj: Obj) -> None:
        for subset in as_list(obj.get("subsets")):
            for port in as_list(as_dict(subset).get("ports")):
                if isinstance(port, dict) and not port.get("protocol"):
                    port["protocol"] = "TCP"

    def table_columns(self) -> list[TableColumn]:
        return [NAME_COLUMN,
                TableColumn("Endpoints", description="The set of all endpoints is the union of all subsets."),
                AGE_COLUMN]

    def table_row(self, obj: Obj) -> list[Any]:
        return [name_of(obj), format_endpoints(obj), creation_timestamp(obj)]


def format_endpoints(obj: Obj, maximum: int = 3) -> str:
    """`10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 2 more...` (ready addresses only)."""
    subsets = as_list(obj.get("subsets"))
    if not subsets:
        return "<none>"
    shown: list[str] = []
    count = 0
    more = False
    for subset in subsets:
        subset = as_dict(subset)
        ips = [as_str(as_dict(a).get("ip")) for a in as_list(subset.get("addresses"))]
        ports = as_list(subset.get("ports"))
        if not ports:
            count += len(ips)
            for ip in ips:
                if len(shown) == maximum:
                    more = True
                    break
                shown.append(ip)
            continue
        for port in ports:
            number = as_int(as_dict(port).get("port")) or 0
            count += len(ips)
            for ip in ips:
                if len(shown) == maximum:
                    more = True
                    break
                shown.append(f"[{ip}]:{number}" if ":" in ip else f"{ip}:{number}")
    text = ",".join(shown)
    return f"{text} + {count - maximum} more..." if more else text
