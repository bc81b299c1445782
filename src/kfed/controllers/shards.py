"""Pure rules of the service controller: what a shard should look like, and how healthy it is.

No I/O here: the controller feeds these functions the federated Service, the member's copy and
its EndpointSlices, and writes what they return.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import orjson

Obj = dict[str, Any]

DOMAIN = "federation.kfed.io"
#: label on every member Service kfed manages (created or adopted): value = federation name
MANAGED_LABEL = f"{DOMAIN}/federation"
#: annotation telling whether kfed created the member Service or adopted one that was there
ORIGIN_ANNOTATION = f"{DOMAIN}/origin"
#: annotation on the federated Service: the per-cluster shard status, as JSON
SHARDS_ANNOTATION = f"{DOMAIN}/shards"
#: annotation on the federated Service narrowing placement: "cluster-a,cluster-b" (default: all)
PLACEMENT_ANNOTATION = f"{DOMAIN}/placement"
TTL_ANNOTATION = f"{DOMAIN}/dns-ttl"
#: finalizer on federated Services: shards are deleted before the federated Service goes
SHARD_FINALIZER = f"{DOMAIN}/service-shards"
#: annotations kfed writes on the federated Service for itself; never copied to members
PRIVATE_ANNOTATIONS = frozenset({SHARDS_ANNOTATION})

#: spec fields a member cluster allocates or defaults: kept from the member when the federated
#: Service does not set them (a federation allocates no cluster IPs or node ports)
MEMBER_OWNED_SPEC = frozenset({
    "clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy", "healthCheckNodePort",
    "internalTrafficPolicy", "externalTrafficPolicy", "sessionAffinity", "allocateLoadBalancerNodePorts",
    "type",
})


def placement(fed: Obj, clusters: list[str]) -> list[str]:
    """The clusters this federated Service is placed on: all, unless the annotation narrows it."""
    raw = (fed.get("metadata", {}).get("annotations") or {}).get(PLACEMENT_ANNOTATION, "").strip()
    if not raw:
        return sorted(clusters)
    if raw.startswith("{") or raw.startswith("["):
        try:
            data = json.loads(raw)
        except ValueError:
            return []
        wanted = set(data.get("clusters", []) if isinstance(data, dict) else data)
    else:
        wanted = {c.strip() for c in raw.split(",") if c.strip()}
    return sorted(c for c in clusters if c in wanted)


def _ports(fed_ports: list[Obj], member_ports: list[Obj]) -> list[Obj]:
    """The federated ports, each keeping the member's nodePort when the federation sets none."""
    by_key = {(p.get("port"), p.get("protocol", "TCP")): p for p in member_ports}
    out = []
    for p in fed_ports:
        q = dict(p)  # a port's values are scalars
        m = by_key.get((p.get("port"), p.get("protocol", "TCP")))
        if m is not None and "nodePort" not in q and "nodePort" in m:
            q["nodePort"] = m["nodePort"]
        out.append(q)
    return out


def desired_member_service(fed: Obj, federation: str, current: Obj | None, *, adopt: bool = False) -> Obj:
    """The member Service that conforms to `fed`, keeping what the member allocated in `current`."""
    fmeta = fed["metadata"]
    labels = dict(fmeta.get("labels") or {})
    labels[MANAGED_LABEL] = federation
    annotations = {k: v for k, v in (fmeta.get("annotations") or {}).items() if k not in PRIVATE_ANNOTATIONS}
    origin = "created"
    if current is not None:
        origin = (current["metadata"].get("annotations") or {}).get(ORIGIN_ANNOTATION) or (
            "adopted" if adopt or MANAGED_LABEL not in (current["metadata"].get("labels") or {}) else "created")
    annotations[ORIGIN_ANNOTATION] = origin
    # Shallow copies: the result is only sent, never changed in place, so it may share the
    # federated Service's values; what this function changes (ports) is copied.
    fspec = dict(fed.get("spec") or {})
    for k in ("clusterIP", "clusterIPs"):
        if fspec.get(k) in ("", None, []):
            fspec.pop(k, None)
    cspec = (current or {}).get("spec") or {}
    spec: Obj = {}
    for k, v in cspec.items():
        if k in MEMBER_OWNED_SPEC and k not in fspec:
            spec[k] = list(v) if isinstance(v, list) else v
    for k, v in fspec.items():
        spec[k] = v
    if "ports" in fspec:
        spec["ports"] = _ports(fspec["ports"], cspec.get("ports") or [])
    if fspec.get("type", "ClusterIP") == "ClusterIP":
        # a member may have allocated node ports when the type was NodePort; ClusterIP has none
        for p in spec.get("ports", []):
            if "nodePort" not in next((q for q in fspec.get("ports", []) if q.get("port") == p.get("port")), {}):
                p.pop("nodePort", None)
        spec.pop("healthCheckNodePort", None)
    meta: Obj = {"name": fmeta["name"], "namespace": fmeta.get("namespace", "default"),
                 "labels": labels, "annotations": annotations}
    out: Obj = {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": spec}
    if current is not None:
        cmeta = current["metadata"]
        for k in ("uid", "resourceVersion", "creationTimestamp", "finalizers", "ownerReferences"):
            if k in cmeta:
                meta[k] = cmeta[k]
        if "status" in current:
            out["status"] = current["status"]
    return out


def member_inputs(fed: Obj) -> tuple[Any, ...]:
    """What of a federated Service its member Services are built from: spec, labels and the
    annotations that are copied (compared with ==; Services have no metadata.generation). Status
    and kfed's own annotations are left out, so a status write does not make every shard look
    changed."""
    meta = fed["metadata"]
    annotations = meta.get("annotations") or {}
    return (fed.get("spec"), meta.get("labels") or {},
            {k: v for k, v in annotations.items() if k not in PRIVATE_ANNOTATIONS})


def conforms(current: Obj, desired: Obj) -> bool:
    """Whether the member's Service already is what kfed wants (so no write is needed)."""
    cm, dm = current.get("metadata", {}), desired.get("metadata", {})
    if (cm.get("labels") or {}) != (dm.get("labels") or {}):
        return False
    if (cm.get("annotations") or {}) != (dm.get("annotations") or {}):
        return False
    return _spec_equal(current.get("spec") or {}, desired.get("spec") or {})


def _spec_equal(a: Obj, b: Obj) -> bool:
    """Equal specs, ports compared with the API server's defaults (protocol TCP, targetPort = port)."""
    if a.keys() != b.keys():
        return False
    for k, v in a.items():
        if k == "ports":
            if _norm_ports(v) != _norm_ports(b[k]):
                return False
        elif v != b[k]:
            return False
    return True


def _norm_ports(ports: Any) -> Any:
    if not isinstance(ports, list):
        return ports
    out = []
    for p in ports:
        if isinstance(p, dict):
            q = dict(p)
            q.setdefault("protocol", "TCP")
            if "targetPort" not in q and "port" in q:
                q["targetPort"] = q["port"]
            p = q
        out.append(p)
    return out


# -- shard health -------------------------------------------------------------------------


@dataclass
class Shard:
    cluster: str
    region: str = ""
    zones: list[str] = field(default_factory=list)  # zones with ready endpoints
    addresses: list[str] = field(default_factory=list)  # load-balancer / external IPs
    hostnames: list[str] = field(default_factory=list)  # load-balancer hostnames
    readyEndpoints: int = 0  # noqa: N815 - JSON field name
    healthy: bool = False
    reason: str = ""

    def to_dict(self) -> Obj:
        # by hand: dataclasses.asdict deep-copies field by field, and 1,000 Services x 50 shards
        # are encoded on every status pass
        return {"cluster": self.cluster, "region": self.region, "zones": list(self.zones),
                "addresses": list(self.addresses), "hostnames": list(self.hostnames),
                "readyEndpoints": self.readyEndpoints, "healthy": self.healthy, "reason": self.reason}

    @classmethod
    def from_dict(cls, d: Obj) -> Shard:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


def endpoint_counts(slices: list[Obj]) -> tuple[int, list[str]]:
    """Ready endpoints (unique addresses) across a Service's EndpointSlices, and their zones."""
    ready: set[str] = set()
    zones: set[str] = set()
    for sl in slices:
        for ep in sl.get("endpoints") or []:
            cond = ep.get("conditions") or {}
            if cond.get("ready") is False:
                continue
            if cond.get("ready") is None and cond.get("serving") is False:
                continue
            addrs = ep.get("addresses") or []
            if not addrs:
                continue
            ready.add(addrs[0])
            if ep.get("zone"):
                zones.add(ep["zone"])
    return len(ready), sorted(zones)


def shard_status(cluster: str, *, cluster_ready: bool, cluster_reason: str, region: str,
                 cluster_zones: list[str], member_service: Obj | None, slices: list[Obj],
                 write_error: str | None = None) -> Shard:
    shard = Shard(cluster=cluster, region=region)
    if not cluster_ready:
        shard.reason = cluster_reason or "ClusterNotReady"
        return shard
    if member_service is None:
        shard.reason = write_error or "ShardMissing"
        return shard
    ingress = (member_service.get("status", {}).get("loadBalancer", {}) or {}).get("ingress") or []
    shard.addresses = sorted({i["ip"] for i in ingress if i.get("ip")} |
                             set(member_service.get("spec", {}).get("externalIPs") or []))
    shard.hostnames = sorted({i["hostname"] for i in ingress if i.get("hostname")})
    shard.readyEndpoints, zones = endpoint_counts(slices)
    # endpoints without a zone count in the cluster's only zone
    shard.zones = zones or (list(cluster_zones[:1]) if shard.readyEndpoints and len(cluster_zones) == 1 else [])
    if write_error:
        shard.reason = write_error
    elif not shard.addresses and not shard.hostnames:
        shard.reason = "NoExternalAddress"
    elif shard.readyEndpoints == 0:
        shard.reason = "NoReadyEndpoints"
    else:
        shard.healthy = True
        shard.reason = "Healthy"
    return shard


def encode_shards(shards: list[Shard]) -> str:
    """Compact JSON with sorted keys (orjson: every status pass encodes every Service's shards)."""
    return orjson.dumps([s.to_dict() for s in sorted(shards, key=lambda s: s.cluster)],
                        option=orjson.OPT_SORT_KEYS).decode()


def decode_shards(text: str | None) -> list[Shard]:
    if not text:
        return []
    try:
        return [Shard.from_dict(d) for d in orjson.loads(text)]
    except (ValueError, TypeError, AttributeError):
        return []


def federated_ingress(shards: list[Shard]) -> list[Obj]:
    """status.loadBalancer.ingress of the federated Service: the union of every shard's addresses."""
    ips = sorted({a for s in shards for a in s.addresses}, key=_ip_sort_key)
    hosts = sorted({h for s in shards for h in s.hostnames})
    # ipMode VIP: what the API server defaults for IP entries, so an unchanged status compares equal
    return [{"ip": ip, "ipMode": "VIP"} for ip in ips] + [{"hostname": h} for h in hosts]


def _ip_sort_key(ip: str) -> tuple[int, ...] | tuple[str]:
    try:
        return tuple(int(x) for x in ip.split("."))
    except ValueError:
        return (ip,)
