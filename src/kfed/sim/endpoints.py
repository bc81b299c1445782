"""Endpoints and EndpointSlices of a Service from its pods (pure).

As kube-controller-manager's endpoints and endpointslice controllers compute them: pods with an
IP that the selector matches; ready ones in `addresses`, the others in `notReadyAddresses`
(Endpoints) or with `conditions.ready: false` (slices); terminating pods only in slices; a named
targetPort resolved per pod, so pods exposing different ports land in different subsets/slices;
each slice endpoint carries the zone of its pod's node.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from kfed.model.resource import Obj
from kfed.sim.views import PodView, ServicePort, ServiceView

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
MANAGED_BY = "endpointslice-controller.k8s.io"
SKIP_MIRROR_LABEL = "endpointslice.kubernetes.io/skip-mirror"
HEADLESS_LABEL = "service.kubernetes.io/headless"
MAX_ENDPOINTS_PER_SLICE = 100

#: ports of one group: (name, port, protocol, appProtocol)
ResolvedPort = tuple[str, int, str, str]


def resolve_ports(svc: ServiceView, pod: PodView) -> tuple[ResolvedPort, ...] | None:
    """The service's ports as this pod serves them; None when a named targetPort is missing."""
    out: list[ResolvedPort] = []
    for sp in svc.ports:
        port = _target_port(sp, pod)
        if port is None:
            continue  # kube drops the port for this pod, keeps the pod for the other ports
        out.append((sp.name, port, sp.protocol, sp.app_protocol))
    if svc.ports and not out:
        return None
    return tuple(out)


def _target_port(sp: ServicePort, pod: PodView) -> int | None:
    if isinstance(sp.target_port, int):
        return sp.target_port or sp.port
    text = sp.target_port
    if text.isdigit():
        return int(text)
    for cp in pod.ports:
        if cp.name == text and cp.protocol == sp.protocol:
            return cp.port
    return None


def _serves(pod: PodView) -> bool:
    return bool(pod.ip) and pod.phase not in ("Succeeded", "Failed")


@dataclass(frozen=True)
class SliceEndpoint:
    ip: str
    ready: bool
    serving: bool
    terminating: bool
    node: str
    zone: str
    pod: PodView
    hostname: str


@dataclass(frozen=True)
class SliceContent:
    ports: tuple[ResolvedPort, ...]
    endpoints: tuple[SliceEndpoint, ...]


def _hostname(svc: ServiceView, pod: PodView) -> str:
    return pod.hostname if pod.hostname and pod.subdomain == svc.name else ""


def endpoint_subsets(svc: ServiceView, pods: Iterable[PodView]) -> list[Obj]:
    """`subsets` of the Service's Endpoints object (sorted, so equal inputs give equal output)."""
    groups: dict[tuple[ResolvedPort, ...], tuple[list[Obj], list[Obj]]] = {}
    for pod in pods:
        if not _serves(pod) or pod.terminating:
            continue
        ports = resolve_ports(svc, pod)
        if ports is None:
            continue
        address: Obj = {"ip": pod.ip}
        hostname = _hostname(svc, pod)
        if hostname:
            address["hostname"] = hostname
        if pod.node:
            address["nodeName"] = pod.node
        address["targetRef"] = {"kind": "Pod", "namespace": pod.namespace, "name": pod.name, "uid": pod.uid}
        ready, not_ready = groups.setdefault(ports, ([], []))
        (ready if pod.ready or svc.publish_not_ready else not_ready).append(address)
    subsets = []
    for ports, (ready, not_ready) in sorted(groups.items()):
        subset: Obj = {}
        if ready:
            subset["addresses"] = sorted(ready, key=lambda a: _ip_key(a["ip"]))
        if not_ready:
            subset["notReadyAddresses"] = sorted(not_ready, key=lambda a: _ip_key(a["ip"]))
        if ports:
            subset["ports"] = [_port_obj(p) for p in ports]
        subsets.append(subset)
    return subsets


def slice_contents(svc: ServiceView, pods: Iterable[PodView], zones: Mapping[str, str],
                   max_per_slice: int = MAX_ENDPOINTS_PER_SLICE) -> list[SliceContent]:
    """What the Service's EndpointSlices hold: one group per distinct port set, chunked."""
    groups: dict[tuple[ResolvedPort, ...], list[SliceEndpoint]] = {}
    for pod in pods:
        if not _serves(pod):
            continue
        ports = resolve_ports(svc, pod)
        if ports is None:
            continue
        serving = pod.ready or svc.publish_not_ready
        groups.setdefault(ports, []).append(SliceEndpoint(
            ip=pod.ip, ready=serving and not pod.terminating, serving=serving, terminating=pod.terminating,
            node=pod.node, zone=zones.get(pod.node, ""), pod=pod, hostname=_hostname(svc, pod)))
    out: list[SliceContent] = []
    for ports, eps in sorted(groups.items(), key=lambda kv: kv[0]):
        eps.sort(key=lambda e: (_ip_key(e.ip), e.pod.name))
        for i in range(0, len(eps), max_per_slice):
            out.append(SliceContent(ports, tuple(eps[i:i + max_per_slice])))
    if not out:
        # kube keeps one empty placeholder slice (no ports) for a service without endpoints.
        out.append(SliceContent((), ()))
    return out


def _ip_key(ip: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in ip.split("."))
    except ValueError:
        return (1 << 16,)


def _port_obj(p: ResolvedPort) -> Obj:
    name, port, protocol, app = p
    out: Obj = {"name": name, "port": port, "protocol": protocol}
    if app:
        out["appProtocol"] = app
    if not name:
        del out["name"]
    return out


def _slice_port_obj(p: ResolvedPort) -> Obj:
    name, port, protocol, app = p
    out: Obj = {"name": name, "port": port, "protocol": protocol}
    if app:
        out["appProtocol"] = app
    return out


def endpoints_object(svc: ServiceView, subsets: list[Obj]) -> Obj:
    labels = dict(svc.labels)
    labels[SKIP_MIRROR_LABEL] = "true"
    if svc.headless:
        labels[HEADLESS_LABEL] = ""
    obj: Obj = {"apiVersion": "v1", "kind": "Endpoints",
                "metadata": {"name": svc.name, "namespace": svc.namespace, "labels": labels}}
    if subsets:
        obj["subsets"] = subsets
    return obj


def slice_name(svc: ServiceView, index: int) -> str:
    """Stable names (kube uses random ones): a retried create then finds its own earlier slice."""
    digest = hashlib.sha256(f"{svc.uid}/{index}".encode()).hexdigest()
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    suffix = "".join(alphabet[int(digest[i:i + 2], 16) % len(alphabet)] for i in range(0, 10, 2))
    return f"{svc.name[:200]}-{suffix}"


def slice_object(svc: ServiceView, content: SliceContent, name: str) -> Obj:
    labels = dict(svc.labels)
    labels.pop(HEADLESS_LABEL, None)
    labels[SERVICE_NAME_LABEL] = svc.name
    labels[MANAGED_BY_LABEL] = MANAGED_BY
    if svc.headless:
        labels[HEADLESS_LABEL] = ""
    endpoints = []
    for e in content.endpoints:
        ep: Obj = {"addresses": [e.ip], "conditions": {"ready": e.ready, "serving": e.serving,
                                                       "terminating": e.terminating}}
        if e.hostname:
            ep["hostname"] = e.hostname
        ep["targetRef"] = {"kind": "Pod", "namespace": e.pod.namespace, "name": e.pod.name, "uid": e.pod.uid}
        if e.node:
            ep["nodeName"] = e.node
        if e.zone:
            ep["zone"] = e.zone
        endpoints.append(ep)
    return {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": name, "namespace": svc.namespace, "labels": labels,
                     "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": svc.name, "uid": svc.uid,
                                          "controller": True, "blockOwnerDeletion": True}]},
        "addressType": "IPv4",
        "endpoints": endpoints,
        "ports": [_slice_port_obj(p) for p in content.ports],
    }


def content_digest(obj: Obj, fields: tuple[str, ...]) -> bytes:
    """A digest of the fields a controller owns, to skip writes that would change nothing."""
    meta = obj.get("metadata", {})
    owned: dict[str, Any] = {f: obj.get(f) for f in fields}
    owned["labels"] = meta.get("labels") or {}
    owned["owners"] = meta.get("ownerReferences") or []
    return hashlib.blake2b(orjson.dumps(owned, option=orjson.OPT_SORT_KEYS), digest_size=16).digest()


ENDPOINTS_FIELDS = ("subsets",)
SLICE_FIELDS = ("addressType", "endpoints", "ports")
