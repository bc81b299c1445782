"""Compact, immutable views of the objects the simulated controllers follow (pure).

A cluster of the benchmark holds thousands of pods; controllers keep these small views rather
than decoded objects, and read the full object from the store only when they write it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kfed.model.resource import Obj

ZONE_LABEL = "topology.kubernetes.io/zone"
REGION_LABEL = "topology.kubernetes.io/region"
LEGACY_ZONE_LABEL = "failure-domain.beta.kubernetes.io/zone"
LEGACY_REGION_LABEL = "failure-domain.beta.kubernetes.io/region"
HOSTNAME_LABEL = "kubernetes.io/hostname"

Labels = tuple[tuple[str, str], ...]


def key_of(namespace: str, name: str) -> str:
    return f"{namespace}/{name}" if namespace else name


def _labels(meta: dict[str, Any]) -> Labels:
    raw = meta.get("labels") or {}
    return tuple(sorted((str(k), str(v)) for k, v in raw.items())) if isinstance(raw, dict) else ()


def _controller_uid(meta: dict[str, Any]) -> str:
    for ref in meta.get("ownerReferences") or []:
        if isinstance(ref, dict) and ref.get("controller"):
            return str(ref.get("uid", ""))
    return ""


def _condition_true(conditions: Any, cond_type: str) -> bool:
    for c in conditions or []:
        if isinstance(c, dict) and c.get("type") == cond_type:
            return c.get("status") == "True"
    return False


@dataclass(frozen=True, slots=True)
class ContainerPort:
    name: str
    port: int
    protocol: str


@dataclass(frozen=True, slots=True)
class PodView:
    namespace: str
    name: str
    uid: str
    resource_version: int
    labels: Labels
    owner_uid: str  # uid of the controlling owner (a ReplicaSet), "" if none
    node: str
    phase: str
    ip: str
    ready: bool
    terminating: bool
    hostname: str
    subdomain: str
    ports: tuple[ContainerPort, ...]
    created: str

    @property
    def key(self) -> str:
        return key_of(self.namespace, self.name)

    @property
    def active(self) -> bool:
        """Counts toward a ReplicaSet's replicas: not being deleted and not finished."""
        return not self.terminating and self.phase not in ("Succeeded", "Failed")

    def label_dict(self) -> dict[str, str]:
        return dict(self.labels)


def pod_view(obj: Obj) -> PodView:
    meta, spec, status = obj.get("metadata", {}), obj.get("spec") or {}, obj.get("status") or {}
    ports: list[ContainerPort] = []
    for c in spec.get("containers") or []:
        for p in (c.get("ports") or []) if isinstance(c, dict) else []:
            if isinstance(p, dict) and isinstance(p.get("containerPort"), int):
                ports.append(ContainerPort(str(p.get("name") or ""), p["containerPort"], str(p.get("protocol") or "TCP")))
    return PodView(
        namespace=meta.get("namespace", ""), name=meta.get("name", ""), uid=meta.get("uid", ""),
        resource_version=int(meta.get("resourceVersion") or 0), labels=_labels(meta),
        owner_uid=_controller_uid(meta), node=str(spec.get("nodeName") or ""), phase=str(status.get("phase") or ""),
        ip=str(status.get("podIP") or ""), ready=_condition_true(status.get("conditions"), "Ready"),
        terminating=bool(meta.get("deletionTimestamp")), hostname=str(spec.get("hostname") or ""),
        subdomain=str(spec.get("subdomain") or ""), ports=tuple(ports), created=meta.get("creationTimestamp", ""))


@dataclass(frozen=True, slots=True)
class ServicePort:
    name: str
    port: int
    protocol: str
    target_port: int | str
    app_protocol: str


@dataclass(frozen=True, slots=True)
class ServiceView:
    namespace: str
    name: str
    uid: str
    labels: Labels
    selector: Labels  # empty: the Service has no selector (its endpoints are managed by hand)
    type: str
    headless: bool
    publish_not_ready: bool
    ports: tuple[ServicePort, ...]

    @property
    def key(self) -> str:
        return key_of(self.namespace, self.name)


def service_view(obj: Obj) -> ServiceView:
    meta, spec = obj.get("metadata", {}), obj.get("spec") or {}
    selector = spec.get("selector") or {}
    ports = []
    for p in spec.get("ports") or []:
        if not isinstance(p, dict):
            continue
        target = p.get("targetPort")
        if target in (None, "", 0):
            target = p.get("port", 0)
        ports.append(ServicePort(str(p.get("name") or ""), int(p.get("port") or 0), str(p.get("protocol") or "TCP"),
                                 target if isinstance(target, int | str) else 0, str(p.get("appProtocol") or "")))
    return ServiceView(
        namespace=meta.get("namespace", ""), name=meta.get("name", ""), uid=meta.get("uid", ""), labels=_labels(meta),
        selector=tuple(sorted((str(k), str(v)) for k, v in selector.items())) if isinstance(selector, dict) else (),
        type=str(spec.get("type") or "ClusterIP"), headless=spec.get("clusterIP") == "None",
        publish_not_ready=bool(spec.get("publishNotReadyAddresses")), ports=tuple(ports))


@dataclass(frozen=True, slots=True)
class NodeView:
    name: str
    zone: str
    region: str
    internal_ip: str
    unschedulable: bool
    ready: bool


def node_view(obj: Obj) -> NodeView:
    meta, spec, status = obj.get("metadata", {}), obj.get("spec") or {}, obj.get("status") or {}
    labels = meta.get("labels") or {}
    ip = next((a.get("address", "") for a in status.get("addresses") or []
               if isinstance(a, dict) and a.get("type") == "InternalIP"), "")
    return NodeView(
        name=meta.get("name", ""), zone=labels.get(ZONE_LABEL) or labels.get(LEGACY_ZONE_LABEL, ""),
        region=labels.get(REGION_LABEL) or labels.get(LEGACY_REGION_LABEL, ""), internal_ip=ip,
        unschedulable=bool(spec.get("unschedulable")), ready=_condition_true(status.get("conditions"), "Ready"))


def selector_matches(selector: Labels, labels: Labels) -> bool:
    """Equality-only selector (a Service's or a ReplicaSet's matchLabels) against labels."""
    if not selector:
        return False
    have = dict(labels)
    return all(have.get(k) == v for k, v in selector)
