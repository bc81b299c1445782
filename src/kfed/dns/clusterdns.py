"""Cluster-local DNS for one member cluster, with federated names (pure: no I/O).

What a pod of the cluster asks, and what it gets:

```
<svc>.<ns>.svc.<domain>                 the Service: ClusterIPs; a headless one: its ready endpoints'
                                        IPs; an ExternalName one: a CNAME to that name
<host>.<svc>.<ns>.svc.<domain>          one endpoint of a headless Service (hostname or a-b-c-d)
_<port>._<proto>.<svc>.<ns>.svc.<domain>  SRV of a named port
<a-b-c-d>.<ns>.pod.<domain>             the address spelled in the name (kube-dns' "pods insecure")
<svc>.<ns>.<fed>.svc.<domain>           <fed> a known federation: when the local Service has a
                                        ready endpoint, a CNAME to <svc>.<ns>.svc.<domain> and its
                                        addresses; else a CNAME to the federation's zone name of
                                        this cluster, <svc>.<ns>.<fed>.svc.<zone>.<fed domain>.
```

Every other name under `<domain>` is NXDOMAIN (so a pod's search path moves on quickly), and a
federation name nobody configured is just such a name. Names outside `<domain>` are forwarded.
Federated names win over the rarer headless-endpoint form they share a shape with: do not name a
namespace after a federation.

The zone CNAME points outside the cluster; a pod's stub resolver (glibc, musl) does not chase
CNAMEs, so the server does, as kube-dns did: the answer goes out with the rest of the chain that
an upstream gave for the target (an `UpstreamStep`, which the adapter carries out and hands back
to `ClusterDNSCore.finish`). A multi-zone cluster uses its alphabetically first zone, so every
replica of the server, and `kfed coredns-config`, picks the same one.

Two parts:

- `ClusterIndex`: the cluster's view (Services, EndpointSlices, nodes' topology labels, the
  kube-dns ConfigMap's federations), fed with watch events as Kubernetes objects. It tells which
  Services each change touched, and when something every answer depends on changed.
- `ClusterDNSCore`: query bytes in, response bytes (or an `UpstreamStep`) out. Answers built from
  the index alone are rendered once and then served from a cache of rendered answers (the
  authoritative server's fast path, `kfed.dns.server.answer.cached_answer`). Every name under
  the cluster domain is about one Service, so a change drops just the answers about the Services
  it touched (an endpoint flapping in a big cluster does not empty the cache), and an answer is
  never older than the last event applied.

One core serves one index: the core drains the index's list of touched Services.
"""

from __future__ import annotations

import ipaddress
import json
import re
import struct
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.CNAME
import dns.rdtypes.IN.A
import dns.rdtypes.IN.AAAA
import dns.rdtypes.IN.SRV
import dns.rrset

from kfed.dns.names import InvalidNameError, ServiceNames, ZoneNameStyle, absolute
from kfed.dns.server.answer import DEFAULT_MAX_UDP, PLAIN_UDP_LIMIT, cache_key, cached_answer
from kfed.dns.server.zoneset import MAX_CACHED_ANSWERS, AnswerCache

Obj = dict[str, Any]
Transport = Literal["udp", "tcp"]

DEFAULT_DOMAIN = "cluster.local."
DEFAULT_TTL = 5  # CoreDNS' kubernetes plugin default: endpoint changes reach clients quickly
ZONE_LABELS = ("topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone")
REGION_LABELS = ("topology.kubernetes.io/region", "failure-domain.beta.kubernetes.io/region")
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
KUBE_DNS_CONFIGMAP = ("kube-system", "kube-dns")
FEDERATIONS_KEY = "federations"
MAX_CHASE_HOPS = 8  # upstream round trips for one answer; longer chains are misconfigurations

IN = dns.rdataclass.IN
A, AAAA, CNAME, SRV, SOA, ANY = (
    dns.rdatatype.A,
    dns.rdatatype.AAAA,
    dns.rdatatype.CNAME,
    dns.rdatatype.SRV,
    dns.rdatatype.SOA,
    dns.rdatatype.ANY,
)
_FORMERR_QTYPES = (dns.rdatatype.OPT, dns.rdatatype.TSIG, dns.rdatatype.TKEY)
_NOTIMP_QTYPES = (dns.rdatatype.MAILA, dns.rdatatype.MAILB)
_XFR_QTYPES = (dns.rdatatype.AXFR, dns.rdatatype.IXFR)
_CACHEABLE_RCODES = (dns.rcode.NOERROR, dns.rcode.NXDOMAIN, dns.rcode.REFUSED)
_UPSTREAM_FAILURES = (dns.rcode.SERVFAIL, dns.rcode.REFUSED, dns.rcode.NOTIMP, dns.rcode.FORMERR)
_QR = 0x8000
_OPCODE_MASK = 0x7800
_RD = 0x0100
_CD = 0x0010
# Kubernetes object names that appear as DNS labels (RFC 1123 labels, lowercase).
_K8S_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def is_dns_label(text: str) -> bool:
    return bool(_K8S_LABEL.match(text))


# -- configuration ---------------------------------------------------------------------------


class FederationsError(ValueError):
    """A `--federations` value or ConfigMap entry that is not NAME=DOMAIN."""


def parse_federations(text: str, *, strict: bool = True) -> dict[str, str]:
    """`myfederation=example.com,other=example.org` (kube-dns' flag and `kfed join`'s form) or a
    JSON object `{"myfederation": "example.com"}` -> {name: absolute domain}. With strict=False,
    bad entries are skipped instead of raising (a ConfigMap someone else also edits)."""
    text = text.strip()
    if not text:
        return {}
    pairs: list[tuple[str, str]] = []
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError as e:
            if strict:
                raise FederationsError(f"federations: not valid JSON: {e}") from e
            return {}
        if not isinstance(data, dict):
            if strict:
                raise FederationsError("federations: expected a JSON object of name: domain")
            return {}
        pairs = [(str(k), str(v)) for k, v in data.items()]
    else:
        for entry in text.replace("\n", ",").split(","):
            if not entry.strip():
                continue
            name, sep, domain = entry.partition("=")
            if not sep:
                if strict:
                    raise FederationsError(f"federations: {entry.strip()!r} is not NAME=DOMAIN")
                continue
            pairs.append((name, domain))
    out: dict[str, str] = {}
    for name, domain in pairs:
        name, domain = name.strip().lower(), domain.strip()
        try:
            ok = is_dns_label(name) and bool(domain) and absolute(domain) != "." and _valid_domain(domain)
        except dns.exception.DNSException:
            ok = False
        if not ok:
            if strict:
                raise FederationsError(f"federations: {name}={domain} needs a DNS label and a domain name")
            continue
        out[name] = absolute(domain)
    return out


def _valid_domain(domain: str) -> bool:
    dns.name.from_text(absolute(domain))  # raises on empty or over-long labels
    return True


@dataclass(frozen=True)
class UpstreamRoute:
    """Where names under `zone` are forwarded: `HOST:PORT` (zone `.`) or `ZONE=HOST:PORT`."""

    zone: str
    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> UpstreamRoute:
        zone, sep, address = text.strip().rpartition("=")
        zone = absolute(zone) if sep else "."
        if address.startswith("["):
            host, _, rest = address[1:].partition("]")
            port_text = rest.removeprefix(":") or "53"
        elif address.count(":") == 1:
            host, _, port_text = address.partition(":")
        else:
            host, port_text = address, "53"  # a bare address (IPv6 without brackets has no port)
        try:
            ipaddress.ip_address(host)
            port = int(port_text)
        except ValueError:
            raise ValueError(f"upstream {text!r}: expected [ZONE=]IP[:PORT]") from None
        if not 0 < port < 65536:
            raise ValueError(f"upstream {text!r}: port out of range")
        return cls(zone, host, port)


def routes_for(routes: Sequence[UpstreamRoute], name: dns.name.Name) -> list[UpstreamRoute]:
    """The upstreams of the most specific zone containing `name`, in the order given."""
    best: list[UpstreamRoute] = []
    best_depth = -1
    for route in routes:
        zone = dns.name.from_text(route.zone)
        if name.is_subdomain(zone):
            depth = len(zone.labels)
            if depth > best_depth:
                best, best_depth = [route], depth
            elif depth == best_depth:
                best.append(route)
    return best


# -- the cluster's objects -------------------------------------------------------------------


@dataclass(frozen=True)
class ServicePort:
    name: str
    port: int
    protocol: str  # TCP, UDP, SCTP


@dataclass(frozen=True)
class LocalService:
    namespace: str
    name: str
    cluster_ips: tuple[str, ...] = ()
    headless: bool = False
    external_name: str = ""  # absolute, for type ExternalName
    ports: tuple[ServicePort, ...] = ()
    publish_not_ready: bool = False


@dataclass(frozen=True)
class Endpoint:
    ip: str
    ready: bool
    hostname: str = ""

    @property
    def label(self) -> str:
        """The endpoint's name under its Service: its hostname, else its address with dashes."""
        return self.hostname or self.ip.replace(".", "-").replace(":", "-")


def service_from_object(obj: Obj) -> LocalService | None:
    meta, spec = obj.get("metadata") or {}, obj.get("spec") or {}
    name, namespace = str(meta.get("name") or ""), str(meta.get("namespace") or "")
    if not name or not namespace:
        return None
    stype = spec.get("type") or "ClusterIP"
    external = ""
    if stype == "ExternalName":
        try:
            external = absolute(str(spec.get("externalName") or ""))
            dns.name.from_text(external)
        except dns.exception.DNSException:
            external = ""
        if external == ".":
            external = ""
    raw_ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    ips = []
    for ip in raw_ips:
        try:
            ips.append(str(ipaddress.ip_address(str(ip))))
        except ValueError:
            continue  # "None" (headless) or not yet allocated
    ports = []
    for p in spec.get("ports") or []:
        try:
            ports.append(
                ServicePort(str(p.get("name") or ""), int(p.get("port")), str(p.get("protocol") or "TCP"))
            )
        except (TypeError, ValueError):
            continue
    return LocalService(
        namespace,
        name,
        tuple(ips),
        headless=spec.get("clusterIP") == "None" and not external,
        external_name=external if stype == "ExternalName" else "",
        ports=tuple(ports),
        publish_not_ready=bool(spec.get("publishNotReadyAddresses")),
    )


def slice_endpoints(obj: Obj) -> tuple[str, str, str, tuple[Endpoint, ...]] | None:
    """(namespace, slice name, service name, endpoints) of an EndpointSlice; None when it serves
    no Service or carries FQDNs. Readiness as the API documents it: unset means ready."""
    meta = obj.get("metadata") or {}
    namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
    service = str((meta.get("labels") or {}).get(SERVICE_NAME_LABEL) or "")
    if not namespace or not name or not service or obj.get("addressType") not in ("IPv4", "IPv6"):
        return None
    out = []
    for ep in obj.get("endpoints") or []:
        addresses = ep.get("addresses") or []
        if not addresses:
            continue
        try:
            ip = str(ipaddress.ip_address(str(addresses[0])))  # the one kube-proxy uses
        except ValueError:
            continue
        ready = (ep.get("conditions") or {}).get("ready")
        hostname = str(ep.get("hostname") or "").lower()
        out.append(Endpoint(ip, ready is not False, hostname if is_dns_label(hostname) else ""))
    return namespace, name, service, tuple(out)


def node_topology(obj: Obj) -> tuple[str, str]:
    """(region, zone) from a node's topology labels (legacy failure-domain labels as fallback)."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    zone = next((str(labels[k]) for k in ZONE_LABELS if labels.get(k)), "")
    region = next((str(labels[k]) for k in REGION_LABELS if labels.get(k)), "")
    return region, zone


def cluster_topology(nodes: Iterable[tuple[str, str]]) -> tuple[str, str]:
    """(region, zone) of a cluster from its nodes' (region, zone): the alphabetically first zone,
    and the region of the nodes in it (else the first region any node names)."""
    pairs = [(r, z) for r, z in nodes if r or z]
    zones = sorted({z for _, z in pairs if z})
    if zones:
        regions = sorted({r for r, z in pairs if z == zones[0] and r})
        if regions:
            return regions[0], zones[0]
    regions = sorted({r for r, _ in pairs if r})
    return (regions[0] if regions else ""), (zones[0] if zones else "")


def federated_target(names: ServiceNames, zone: str, region: str) -> str:
    """Where a federated name points when the cluster has no healthy local shard: the zone name
    of the cluster's zone; without zone labels, the nearest level the labels allow (region, else
    global). Raises InvalidNameError when the name would not fit in DNS."""
    if zone and (region or names.zone_style is ZoneNameStyle.ZONE):
        return names.zone_name(zone, region)
    if region:
        return names.region_name(region)
    return names.global_name


class ClusterIndex:
    """The cluster as the DNS needs it, kept current by `apply_*` with watch events.

    `apply_*(event, obj)` take the informer's event type (ADDED, MODIFIED, DELETED) and object.
    `static_federations` (the command line) win over the kube-dns ConfigMap's on a name clash.

    What changed is told two ways, so a cache of answers can drop just what went stale: every
    name under the cluster domain depends on one Service key `(namespace, name)` (a namespace
    itself: `(namespace, "")`), collected in `drain_touched()`; and `generation` moves when
    something every answer depends on changes (topology, federations, being synced).
    `version` counts every change.
    """

    def __init__(
        self, *, static_federations: Mapping[str, str] | None = None, zone: str = "", region: str = ""
    ) -> None:
        self.version = 0
        self.generation = 0
        self.synced = False
        self._touched: set[tuple[str, str]] = set()
        self._services: dict[tuple[str, str], LocalService] = {}
        self._namespaces: Counter[str] = Counter()
        self._slices: dict[tuple[str, str], tuple[str, tuple[Endpoint, ...]]] = {}
        self._slices_of: dict[tuple[str, str], set[str]] = {}
        self._nodes: dict[str, tuple[str, str]] = {}
        self._zone_override, self._region_override = zone, region
        self._topology = (region, zone)
        self._static = dict(static_federations or {})
        self._configmap: dict[str, str] = {}
        self.federations: dict[str, str] = dict(self._static)

    def _changed(self, *keys: tuple[str, str]) -> None:
        """Something changed: the answers for `keys`, or every answer when no key is given."""
        self.version += 1
        if keys:
            self._touched.update(keys)
        else:
            self.generation += 1

    @property
    def has_touched(self) -> bool:
        return bool(self._touched)

    def drain_touched(self) -> set[tuple[str, str]]:
        touched, self._touched = self._touched, set()
        return touched

    def mark_synced(self) -> None:
        if not self.synced:
            self.synced = True
            self._changed()

    # -- events ----------------------------------------------------------------------------

    def apply_service(self, event: str, obj: Obj) -> None:
        svc = service_from_object(obj)
        if svc is None:
            return
        key = (svc.namespace, svc.name)
        old = self._services.get(key)
        if event == "DELETED":
            if old is not None:
                del self._services[key]
                self._namespaces[svc.namespace] -= 1
                if self._namespaces[svc.namespace] <= 0:
                    del self._namespaces[svc.namespace]
                self._changed(key, (svc.namespace, ""))
            return
        if old == svc:
            return
        if old is None:
            self._namespaces[svc.namespace] += 1
        self._services[key] = svc
        self._changed(key, (svc.namespace, ""))

    def apply_endpoint_slice(self, event: str, obj: Obj) -> None:
        meta = obj.get("metadata") or {}
        key = (str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        parsed = None if event == "DELETED" else slice_endpoints(obj)
        old = self._slices.get(key)
        if parsed is None:
            if old is not None:
                del self._slices[key]
                self._forget_slice(key[0], old[0], key[1])
                self._changed((key[0], old[0]))
            return
        _, _, service, endpoints = parsed
        if old == (service, endpoints):
            return
        if old is not None and old[0] != service:
            self._forget_slice(key[0], old[0], key[1])
            self._changed((key[0], old[0]))
        self._slices[key] = (service, endpoints)
        self._slices_of.setdefault((key[0], service), set()).add(key[1])
        self._changed((key[0], service))

    def _forget_slice(self, namespace: str, service: str, slice_name: str) -> None:
        names = self._slices_of.get((namespace, service))
        if names is not None:
            names.discard(slice_name)
            if not names:
                del self._slices_of[(namespace, service)]

    def apply_node(self, event: str, obj: Obj) -> None:
        name = str((obj.get("metadata") or {}).get("name") or "")
        if event == "DELETED":
            self._nodes.pop(name, None)
        else:
            self._nodes[name] = node_topology(obj)
        region, zone = cluster_topology(self._nodes.values())
        topology = (self._region_override or region, self._zone_override or zone)
        if topology != self._topology:
            self._topology = topology
            self._changed()

    def apply_configmap(self, event: str, obj: Obj) -> None:
        meta = obj.get("metadata") or {}
        if (meta.get("namespace"), meta.get("name")) != KUBE_DNS_CONFIGMAP:
            return
        text = "" if event == "DELETED" else str((obj.get("data") or {}).get(FEDERATIONS_KEY) or "")
        self._configmap = parse_federations(text, strict=False)
        merged = {**self._configmap, **self._static}
        if merged != self.federations:
            self.federations = merged
            self._changed()

    # -- view ------------------------------------------------------------------------------

    @property
    def zone(self) -> str:
        return self._topology[1]

    @property
    def region(self) -> str:
        return self._topology[0]

    def service(self, namespace: str, name: str) -> LocalService | None:
        return self._services.get((namespace, name))

    def has_namespace(self, namespace: str) -> bool:
        return namespace in self._namespaces

    def endpoints(self, namespace: str, service: str) -> list[Endpoint]:
        """The Service's endpoints over all its slices, one per address (ready wins)."""
        by_ip: dict[str, Endpoint] = {}
        for slice_name in sorted(self._slices_of.get((namespace, service), ())):
            entry = self._slices.get((namespace, slice_name))
            if entry is None:
                continue
            for ep in entry[1]:
                prev = by_ip.get(ep.ip)
                if prev is None or (ep.ready and not prev.ready):
                    by_ip[ep.ip] = ep
        return list(by_ip.values())

    def has_ready_endpoint(self, namespace: str, service: str) -> bool:
        for slice_name in self._slices_of.get((namespace, service), ()):
            entry = self._slices.get((namespace, slice_name))
            if entry is not None and any(ep.ready for ep in entry[1]):
                return True
        return False


# -- answers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClusterDNSSettings:
    domain: str = DEFAULT_DOMAIN
    ttl: int = DEFAULT_TTL
    zone_style: ZoneNameStyle = ZoneNameStyle.ZONE
    max_udp: int = DEFAULT_MAX_UDP


ServiceKey = tuple[str, str]  # (namespace, service name); (namespace, "") for the namespace itself


@dataclass
class Resolution:
    """What the cluster's data say about one question; `chase` asks for the rest of a chain.
    `depends` names the Services whose changes make this answer stale."""

    rcode: dns.rcode.Rcode = dns.rcode.NOERROR
    answer: list[dns.rrset.RRset] = field(default_factory=list)
    authority: list[dns.rrset.RRset] = field(default_factory=list)
    additional: list[dns.rrset.RRset] = field(default_factory=list)
    chase: dns.name.Name | None = None  # a CNAME target outside the cluster domain
    forward: bool = False  # not our name: the upstream's answer is the answer
    depends: list[ServiceKey] = field(default_factory=list)


# Rdata built directly: parsing presentation text costs more than the rest of an answer.
def _address_rrset(name: dns.name.Name, ttl: int, ips: Iterable[str]) -> list[dns.rrset.RRset]:
    v4 = [dns.rdtypes.IN.A.A(IN, A, ip) for ip in ips if ":" not in ip]
    v6 = [dns.rdtypes.IN.AAAA.AAAA(IN, AAAA, ip) for ip in ips if ":" in ip]
    return [dns.rrset.from_rdata_list(name, ttl, rdatas) for rdatas in (v4, v6) if rdatas]


def _cname_rrset(name: dns.name.Name, ttl: int, target: dns.name.Name) -> dns.rrset.RRset:
    return dns.rrset.from_rdata(name, ttl, dns.rdtypes.ANY.CNAME.CNAME(IN, CNAME, target))


def _ip_from_dashes(label: str) -> str | None:
    for candidate in (label.replace("-", "."), label.replace("-", ":")):
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            continue
    return None


class ClusterResolver:
    """Questions about names under the cluster domain, answered from a ClusterIndex."""

    def __init__(self, index: ClusterIndex, settings: ClusterDNSSettings | None = None) -> None:
        self.index = index
        self.settings = settings or ClusterDNSSettings()
        self.domain = dns.name.from_text(absolute(self.settings.domain))
        self.ttl = self.settings.ttl
        self._soa: tuple[int, dns.rrset.RRset] | None = None

    def soa(self) -> dns.rrset.RRset:
        """The cluster zone's SOA; its serial is the index generation. The minimum (negative TTL)
        is the record TTL, so a name that appears is seen as soon as a changed one."""
        generation = self.index.generation
        if self._soa is None or self._soa[0] != generation:
            d = self.domain.to_text()
            rdata = dns.rdata.from_text(
                IN, SOA, f"ns.dns.{d} hostmaster.{d} {generation & 0xFFFFFFFF} 7200 1800 86400 {self.ttl}"
            )
            self._soa = (generation, dns.rrset.from_rdata(self.domain, self.ttl, rdata))
        return self._soa[1]

    def resolve(self, qname: dns.name.Name, qtype: int) -> Resolution:
        if not qname.is_subdomain(self.domain):
            return Resolution(forward=True)
        if not self.index.synced:
            return Resolution(rcode=dns.rcode.SERVFAIL)  # an empty view would say NXDOMAIN to everything
        try:
            labels = [label.decode("ascii").lower() for label in qname.relativize(self.domain).labels]
        except UnicodeDecodeError:
            return self._nxdomain()
        if not labels:
            return Resolution(answer=[self.soa()]) if qtype in (SOA, ANY) else self._nodata()
        kind, rest = labels[-1], labels[:-1]
        if kind == "svc":
            found = self._svc(qname, qtype, rest)
            found.depends[:0] = self._svc_dependency(rest)
            return found
        if kind == "pod":
            return self._pod(qname, qtype, rest)
        return self._nxdomain()

    def _svc_dependency(self, rest: list[str]) -> list[ServiceKey]:
        """The Service (or namespace) a name under svc.<domain> is about."""
        n = len(rest)
        if n == 1:
            return [(rest[0], "")]
        if n == 2 or n == 4:
            return [(rest[-1], rest[-2])]
        if n == 3:
            if rest[2] in self.index.federations:
                return [(rest[1], rest[0])]  # <svc>.<ns>.<fed>: the local <svc> in <ns>
            return [(rest[2], rest[1])]
        return []

    # -- shapes ----------------------------------------------------------------------------

    def _svc(self, qname: dns.name.Name, qtype: int, rest: list[str]) -> Resolution:
        index = self.index
        n = len(rest)
        if n == 0:
            return self._nodata()  # svc.<domain>: an empty non-terminal
        if n == 1:
            ns = rest[0]
            return self._nodata() if index.has_namespace(ns) or ns in index.federations else self._nxdomain()
        if n == 2:
            name, ns = rest
            svc = index.service(ns, name)
            if svc is not None:
                return self._service(qname, qtype, svc)
            if ns in index.federations and is_dns_label(name):
                return self._nodata()  # <ns>.<fed>.svc: every service name below it exists
            return self._nxdomain()
        if n == 3:
            first, name, ns = rest
            if ns in index.federations:
                return self._federated(qname, qtype, first, name, ns)
            svc = index.service(ns, name)
            if svc is None:
                return self._nxdomain()
            if first.startswith("_"):
                protocols = {"_" + p.protocol.lower() for p in svc.ports if p.name}
                return self._nodata() if first in protocols else self._nxdomain()
            return self._endpoint(qname, qtype, svc, first)
        if n == 4:
            port, proto, name, ns = rest
            svc = index.service(ns, name)
            if svc is None or not port.startswith("_") or not proto.startswith("_"):
                return self._nxdomain()
            wanted = [
                p
                for p in svc.ports
                if p.name and "_" + p.name.lower() == port and "_" + p.protocol.lower() == proto
            ]
            if not wanted:
                return self._nxdomain()
            return self._srv(qname, qtype, svc, wanted)
        return self._nxdomain()

    def _pod(self, qname: dns.name.Name, qtype: int, rest: list[str]) -> Resolution:
        if len(rest) < 2:
            return self._nodata() if not rest or is_dns_label(rest[0]) else self._nxdomain()
        if len(rest) != 2 or not is_dns_label(rest[1]):
            return self._nxdomain()
        ip = _ip_from_dashes(rest[0])
        if ip is None:
            return self._nxdomain()
        return self._addresses(qname, qtype, [ip])

    def _service_name(self, svc: LocalService) -> dns.name.Name:
        return dns.name.Name((svc.name.encode(), svc.namespace.encode(), b"svc", *self.domain.labels))

    def _service_addresses(self, svc: LocalService) -> list[str]:
        if not svc.headless:
            return list(svc.cluster_ips)
        return sorted(
            (
                ep.ip
                for ep in self.index.endpoints(svc.namespace, svc.name)
                if ep.ready or svc.publish_not_ready
            ),
            key=ipaddress.ip_address,
        )

    def _service(self, qname: dns.name.Name, qtype: int, svc: LocalService) -> Resolution:
        if svc.external_name:
            return self._cname(qname, qtype, dns.name.from_text(svc.external_name))
        if qtype == SRV:
            return self._srv(qname, qtype, svc, list(svc.ports))
        return self._addresses(qname, qtype, self._service_addresses(svc))

    def _endpoint(self, qname: dns.name.Name, qtype: int, svc: LocalService, label: str) -> Resolution:
        if not svc.headless:
            return self._nxdomain()
        ips = [
            ep.ip
            for ep in self.index.endpoints(svc.namespace, svc.name)
            if ep.label == label and (ep.ready or svc.publish_not_ready)
        ]
        return self._addresses(qname, qtype, ips) if ips else self._nxdomain()

    def _srv(
        self, qname: dns.name.Name, qtype: int, svc: LocalService, ports: list[ServicePort]
    ) -> Resolution:
        if qtype not in (SRV, ANY):
            return self._nodata()
        service_name = self._service_name(svc)
        targets: list[tuple[int, dns.name.Name]] = []
        additional: list[dns.rrset.RRset] = []
        if svc.headless:
            endpoints = [
                ep
                for ep in self.index.endpoints(svc.namespace, svc.name)
                if ep.ready or svc.publish_not_ready
            ]
            for ep in sorted(endpoints, key=lambda e: e.label):
                target = dns.name.Name((ep.label.encode(), *service_name.labels))
                targets.extend((p.port, target) for p in ports)
                additional += _address_rrset(target, self.ttl, [ep.ip])
        elif svc.cluster_ips:
            targets.extend((p.port, service_name) for p in ports)
            additional += _address_rrset(service_name, self.ttl, svc.cluster_ips)
        if not targets:
            return self._nodata()
        rdatas = [dns.rdtypes.IN.SRV.SRV(IN, SRV, 0, 100, port, target) for port, target in targets]
        return Resolution(answer=[dns.rrset.from_rdata_list(qname, self.ttl, rdatas)], additional=additional)

    def _federated(
        self, qname: dns.name.Name, qtype: int, service: str, namespace: str, federation: str
    ) -> Resolution:
        if not (is_dns_label(service) and is_dns_label(namespace)):
            return self._nxdomain()
        local = self.index.service(namespace, service)
        if (
            local is not None
            and not local.external_name
            and self.index.has_ready_endpoint(namespace, service)
        ):
            target = self._service_name(local)
            cname = _cname_rrset(qname, self.ttl, target)
            if qtype == CNAME:
                return Resolution(answer=[cname])
            result = self._addresses(target, qtype, self._service_addresses(local))
            result.answer.insert(0, cname)
            return result
        names = ServiceNames(
            service, namespace, federation, self.index.federations[federation], self.settings.zone_style
        )
        try:
            text = federated_target(names, self.index.zone, self.index.region)
        except InvalidNameError:
            return self._nxdomain()  # the zone name would be longer than DNS allows
        return self._cname(qname, qtype, dns.name.from_text(text))

    # -- building blocks -------------------------------------------------------------------

    def _addresses(self, name: dns.name.Name, qtype: int, ips: Sequence[str]) -> Resolution:
        wanted = [ip for ip in ips if (A if ":" not in ip else AAAA) == qtype] if qtype != ANY else list(ips)
        if not wanted:
            return self._nodata()
        return Resolution(answer=_address_rrset(name, self.ttl, wanted))

    def _cname(self, qname: dns.name.Name, qtype: int, target: dns.name.Name) -> Resolution:
        result = Resolution(answer=[_cname_rrset(qname, self.ttl, target)])
        if qtype not in (CNAME, ANY):
            if target.is_subdomain(self.domain):
                inner = self.resolve(target, qtype)  # an ExternalName pointing inside the cluster
                if (
                    not inner.forward
                    and inner.chase is None
                    and not any(r.rdtype == CNAME for r in inner.answer)
                ):
                    result.answer += inner.answer
                    result.authority = inner.authority
                    result.rcode = inner.rcode
                    result.depends = inner.depends
                    return result
            result.chase = target
        return result

    def _nodata(self) -> Resolution:
        return Resolution(authority=[self.soa()])

    def _nxdomain(self) -> Resolution:
        return Resolution(rcode=dns.rcode.NXDOMAIN, authority=[self.soa()])


# -- messages --------------------------------------------------------------------------------


@dataclass
class UpstreamStep:
    """A question the adapter must ask an upstream before the client can be answered.

    kind "forward": the client's own question, for a name outside the cluster domain.
    kind "chase": the next name of a CNAME chain the cluster started.
    """

    kind: Literal["forward", "chase"]
    qname: dns.name.Name
    qtype: dns.rdatatype.RdataType
    query: dns.message.Message
    response: dns.message.Message
    transport: Transport
    hops: int = 1
    seen: set[dns.name.Name] = field(default_factory=set)


class ClusterDNSCore:
    """`handle(wire)` -> response bytes, None (no answer deserved), or an UpstreamStep that the
    adapter completes with `finish(step, upstream_reply_or_None)`."""

    def __init__(
        self, index: ClusterIndex, settings: ClusterDNSSettings | None = None, *, recursion: bool = True
    ) -> None:
        self.index = index
        self.settings = settings or ClusterDNSSettings()
        self.resolver = ClusterResolver(index, self.settings)
        self.recursion = recursion  # whether upstreams exist: RA, and REFUSED for foreign names without
        self.max_udp = max(PLAIN_UDP_LIMIT, self.settings.max_udp)
        self._caches: dict[Transport, AnswerCache] = {"udp": {}, "tcp": {}}
        # Service key -> the cached answers (transport, cache key) that depend on it.
        self._dependents: dict[ServiceKey, set[tuple[Transport, bytes]]] = {}
        self._generation = -1

    def _cache(self, transport: Transport) -> AnswerCache:
        """The rendered answers for `transport`, without those the index's changes made stale."""
        index = self.index
        if self._generation != index.generation:
            self._clear()
            index.drain_touched()
            self._generation = index.generation
        elif index.has_touched:
            for key in index.drain_touched():
                for transport_, cache_key_ in self._dependents.pop(key, ()):
                    self._caches[transport_].pop(cache_key_, None)
        return self._caches[transport]

    def _clear(self) -> None:
        for cache in self._caches.values():
            cache.clear()
        self._dependents.clear()

    def _remember(
        self, transport: Transport, wire: bytes, response: bytes, depends: list[ServiceKey]
    ) -> None:
        key = cache_key(wire)
        if key is None:
            return  # only plain queries get a key (so never a signed one)
        cache = self._caches[transport]
        if len(cache) >= MAX_CACHED_ANSWERS:
            self._clear()  # a flood of distinct names empties the cache rather than growing it
        cache[key[0]] = (response[2:12], response[key[1] :])
        for dependency in depends:
            self._dependents.setdefault(dependency, set()).add((transport, key[0]))

    def handle(self, wire: bytes, transport: Transport = "udp") -> bytes | UpstreamStep | None:
        cache = self._cache(transport)
        hit = cached_answer(wire, cache)
        if hit is not None:
            return hit
        if len(wire) < 12:
            return None
        qid, flags = struct.unpack_from("!HH", wire)
        if flags & _QR:
            return None  # never answer a response
        if (flags & _OPCODE_MASK) >> 11 != dns.opcode.QUERY:
            return _header_only(qid, flags, dns.rcode.NOTIMP)
        try:
            query = dns.message.from_wire(wire, keyring=False, ignore_trailing=True)
        except Exception:  # any malformation: dnspython raises many kinds
            return _header_only(qid, flags, dns.rcode.FORMERR)
        if len(query.question) != 1:
            return _header_only(qid, flags, dns.rcode.FORMERR)
        response = dns.message.make_response(query, our_payload=self.max_udp, pad=0)
        response.flags |= query.flags & dns.flags.CD
        if self.recursion:
            response.flags |= dns.flags.RA
        if query.edns > 0:
            response.set_rcode(dns.rcode.BADVERS)
            return self._render(response, query, transport)
        question = query.question[0]
        qname, qtype, qclass = question.name, question.rdtype, question.rdclass
        depends: list[ServiceKey] = []
        if query.had_tsig:
            response.set_rcode(dns.rcode.REFUSED)  # no keys here: nothing signed is served
        elif qclass != IN:
            response.set_rcode(dns.rcode.REFUSED)
        elif qtype in _FORMERR_QTYPES:
            response.set_rcode(dns.rcode.FORMERR)
        elif qtype in _NOTIMP_QTYPES:
            response.set_rcode(dns.rcode.NOTIMP)
        elif qtype in _XFR_QTYPES:
            response.set_rcode(dns.rcode.REFUSED)  # the cluster zone is not transferred
        else:
            found = self.resolver.resolve(qname, qtype)
            if found.forward and self.recursion:
                return UpstreamStep("forward", qname, qtype, query, response, transport)
            if found.forward:
                response.set_rcode(dns.rcode.REFUSED)  # no upstream to ask
            else:
                response.flags |= dns.flags.AA
                response.set_rcode(found.rcode)
                response.answer, response.authority = found.answer, found.authority
                response.additional = found.additional
                if found.chase is not None and self.recursion:
                    return UpstreamStep(
                        "chase", found.chase, qtype, query, response, transport, seen={qname, found.chase}
                    )
                depends = found.depends
        out = self._render(response, query, transport)
        if response.rcode() in _CACHEABLE_RCODES:
            self._remember(transport, wire, out, depends)
        return out

    def finish(self, step: UpstreamStep, reply: dns.message.Message | None) -> bytes | UpstreamStep:
        """The client's answer, given the upstream's reply to `step` (None: no upstream answered in
        time), or the next step of a chase."""
        response = step.response
        if reply is None or reply.rcode() in _UPSTREAM_FAILURES:
            return self.servfail(step)
        if step.kind == "forward":
            response.set_rcode(reply.rcode())
            response.answer, response.authority = list(reply.answer), list(reply.authority)
            response.additional = list(reply.additional)
            return self._render(response, step.query, step.transport)
        if reply.rcode() not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            return self.servfail(step)
        present = {(r.name, r.rdtype) for r in response.answer}
        response.answer += [r for r in reply.answer if (r.name, r.rdtype) not in present]
        end, complete = _chain_end(response.answer, step.query.question[0].name, step.qtype)
        if complete:
            response.set_rcode(dns.rcode.NOERROR)
            response.authority = []
        elif reply.rcode() == dns.rcode.NXDOMAIN or end in step.seen or step.hops >= MAX_CHASE_HOPS:
            response.set_rcode(reply.rcode())
            response.authority = list(reply.authority)
        else:
            # The upstream handed back a CNAME it did not follow (an authoritative server's
            # answer for a name outside its zone): ask for the next link.
            step.seen.add(end)
            return UpstreamStep(
                "chase",
                end,
                step.qtype,
                step.query,
                response,
                step.transport,
                hops=step.hops + 1,
                seen=step.seen,
            )
        return self._render(response, step.query, step.transport)

    def servfail(self, step: UpstreamStep) -> bytes:
        """SERVFAIL for a step no upstream completed; a chase keeps the CNAMEs it had, which show
        where the chain broke."""
        step.response.set_rcode(dns.rcode.SERVFAIL)
        if step.kind == "forward":
            step.response.answer, step.response.authority, step.response.additional = [], [], []
        return self._render(step.response, step.query, step.transport)

    def _render(
        self, response: dns.message.Message, query: dns.message.Message, transport: Transport
    ) -> bytes:
        if transport == "tcp":
            limit = 65535
        elif query.edns >= 0:
            limit = max(PLAIN_UDP_LIMIT, min(query.payload, self.max_udp))
        else:
            limit = PLAIN_UDP_LIMIT
        try:
            return response.to_wire(max_size=limit)
        except dns.exception.TooBig:
            pass
        if response.additional:
            response.additional = []  # optional data goes first (RFC 2181 9)
            try:
                return response.to_wire(max_size=limit)
            except dns.exception.TooBig:
                pass
        response.answer, response.authority = [], []
        response.flags |= dns.flags.TC
        return response.to_wire(max_size=limit)


def _chain_end(answer: list[dns.rrset.RRset], qname: dns.name.Name, qtype: int) -> tuple[dns.name.Name, bool]:
    """Follow the CNAMEs in `answer` from qname: (the last name, whether it has qtype records)."""
    by_key = {(r.name, r.rdtype): r for r in answer}
    name = qname
    for _ in range(MAX_CHASE_HOPS * 4):
        if (name, qtype) in by_key:
            return name, True
        cname = by_key.get((name, CNAME))
        if cname is None or not len(cname):
            return name, False
        name = cname[0].target
    return name, False


def _header_only(qid: int, flags: int, rcode: int) -> bytes:
    return struct.pack("!HHHHHH", qid, _QR | (flags & (_OPCODE_MASK | _RD | _CD)) | rcode, 0, 0, 0, 0)


def servfail_for(wire: bytes) -> bytes | None:
    """A header-only SERVFAIL for a query the core failed on (None for what deserves no answer)."""
    if len(wire) < 12 or wire[2] & 0x80:
        return None
    qid, flags = struct.unpack_from("!HH", wire)
    return _header_only(qid, flags, dns.rcode.SERVFAIL)
