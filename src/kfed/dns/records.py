"""From the shards of a federated Service to the DNS record sets it should have (pure, no I/O).

A shard is one member cluster's copy of the Service. The records form a hierarchy:

- global: every healthy shard's addresses;
- region: the healthy shards of that region, else a CNAME to the global name;
- zone: the healthy shards with ready endpoints in that zone, else a CNAME to its region's name.

A global name with no healthy shard has no record at all, so a lookup that climbed the CNAMEs to
it gets NXDOMAIN rather than stale addresses. Zones and regions known to the federation (its
clusters' zones) keep their CNAME even when no shard there is healthy, so a pod in such a zone
still finds the nearest healthy copy through the chain.

Load balancers that give a hostname (AWS ELB) instead of an address: a level whose only target is
one hostname is a CNAME to it; a level with several hostnames, or hostnames and addresses, needs
A/AAAA records, so the caller resolves those hostnames beforehand (`hostnames_to_resolve`) and
passes the answers as `resolve`. The caller re-resolves within the TTL, since the addresses behind
an ELB change.

The TTL comes from the Service's `federation.kfed.io/dns-ttl` annotation: the caller reads it with
`ttl_from_annotations` (which raises InvalidTTLError on a bad value, so it can report it) and puts
it in `FederatedService.ttl`; None means the default, 180 s.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from functools import lru_cache

from kfed.dns.names import ServiceNames, ZoneNameStyle, absolute

DNS_TTL_ANNOTATION = "federation.kfed.io/dns-ttl"
DEFAULT_TTL = 180
MAX_TTL = 2**31 - 1  # RFC 2181 section 8

# hostname -> its current addresses; the caller fills it from real lookups before calling.
Resolver = Callable[[str], Sequence[str]]


class RecordType(StrEnum):
    A = "A"
    AAAA = "AAAA"
    CNAME = "CNAME"
    TXT = "TXT"


# Types whose data are domain names, compared case-insensitively and kept absolute.
_NAME_DATA_TYPES = frozenset({"CNAME", "NS", "PTR", "DNAME"})


_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")


def _ipv4(value: str) -> int | None:
    """A dotted quad as ipaddress accepts it (no leading zeros), as an int; else None.

    The records of 1,000 Services x 50 clusters hold hundreds of thousands of addresses, parsed
    again on every change: ipaddress.ip_address costs some 20 us each, this a tenth of that."""
    if _IPV4.fullmatch(value) is None:
        return None
    return int.from_bytes(socket.inet_aton(value), "big")


@lru_cache(maxsize=4096)
def _ip_slow(value: str) -> tuple[int, int, str] | None:
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return None
    return ip.version, int(ip), str(ip)


def _ip(value: str) -> tuple[int, int, str] | None:
    """(version, integer, canonical text) of an IP address, None if `value` is none."""
    n = _ipv4(value)
    if n is not None:
        return 4, n, value  # a dotted quad without leading zeros is already canonical
    return _ip_slow(value)


def _canonical_data(rtype: str, value: str) -> str:
    value = value.strip()
    if rtype in ("A", "AAAA"):
        ip = _ip(value)
        return ip[2] if ip is not None else value
    if rtype in _NAME_DATA_TYPES:
        return absolute(value)
    return value


def _data_sort_key(rtype: str, value: str) -> tuple[int, int, str]:
    if rtype in ("A", "AAAA"):
        ip = _ip(value)
        if ip is not None:
            return (0, ip[1], "")
    return (1, 0, value)


@dataclass(frozen=True)
class RecordSet:
    """One RRset: every record of one name and type.

    `data` holds each record in zone-file presentation form (`104.197.247.191`,
    `nginx.ns.fed.svc.example.com.`, `"heritage=kfed,..."`), sorted and without duplicates, so
    two RecordSets with the same content compare equal whatever order a provider listed them in.
    """

    name: str
    type: str
    ttl: int
    data: tuple[str, ...]

    def __post_init__(self) -> None:
        # A zone of 1,000 Services holds 100,000s of these: keep the caller's strings when they are
        # already canonical, and one string per type, rather than a fresh copy of each.
        rtype = sys.intern(self.type.upper())
        unique = {_canonical_data(rtype, v) for v in self.data}
        name = self.name
        if not (name.endswith(".") and name == name.lower() and name == name.strip()):
            object.__setattr__(self, "name", absolute(name))
        object.__setattr__(self, "type", rtype)
        object.__setattr__(self, "ttl", int(self.ttl))
        object.__setattr__(self, "data", tuple(sorted(unique, key=lambda v: _data_sort_key(rtype, v))))

    @property
    def key(self) -> tuple[str, str]:
        return (self.name, self.type)

    @property
    def chars(self) -> int:
        """Characters of all values, the measure Route 53 limits per request."""
        return sum(len(v) for v in self.data)

    def __str__(self) -> str:
        return f"{self.name} {self.type} {self.ttl} {', '.join(self.data)}"


@dataclass(frozen=True)
class Shard:
    """One member cluster's copy of a federated Service, as the service controller observed it.

    `zones` are the zones where the shard has ready endpoints (EndpointSlice endpoint zones); when
    endpoints carry no zone, the caller passes the cluster's zones. `addresses` and `hostnames`
    are the Service's load-balancer ingress (or external IPs).
    """

    cluster: str
    region: str
    zones: tuple[str, ...] = ()
    addresses: tuple[str, ...] = ()
    hostnames: tuple[str, ...] = ()
    ready_endpoints: int = 0
    cluster_ready: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "zones", tuple(self.zones))
        object.__setattr__(self, "addresses", tuple(self.addresses))
        object.__setattr__(self, "hostnames", tuple(self.hostnames))

    @property
    def healthy(self) -> bool:
        return self.cluster_ready and bool(self.addresses or self.hostnames) and self.ready_endpoints >= 1


@dataclass(frozen=True)
class FederatedService:
    """A Service of the federation and its shards.

    `all_zones` holds the (region, zone) pairs of the federation's clusters (from Cluster status),
    healthy or not: each gets a zone name (and its region a region name) even when no shard there
    is healthy. A pair with an empty zone makes only its region known.
    """

    name: str
    namespace: str
    shards: tuple[Shard, ...] = ()
    ttl: int | None = None
    all_zones: frozenset[tuple[str, str]] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        object.__setattr__(self, "shards", tuple(self.shards))
        object.__setattr__(self, "all_zones", frozenset((r, z) for r, z in self.all_zones))


class InvalidTTLError(ValueError):
    pass


_DURATION_PART = re.compile(r"(\d+)([smh])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600}


def parse_ttl(value: str) -> int:
    """`"180"` -> 180; Go-style durations too: `"3m"`, `"1h30m"`, `"90s"`."""
    text = value.strip().lower()
    if text.isdigit():
        seconds = int(text)
    else:
        parts = _DURATION_PART.findall(text)
        if not parts or "".join(n + u for n, u in parts) != text:
            raise InvalidTTLError(f"invalid DNS TTL {value!r}: want seconds (180) or a duration (3m)")
        seconds = sum(int(n) * _UNIT_SECONDS[u] for n, u in parts)
    if seconds > MAX_TTL:
        raise InvalidTTLError(f"invalid DNS TTL {value!r}: more than {MAX_TTL} seconds")
    return seconds


def ttl_from_annotations(annotations: Mapping[str, str] | None) -> int | None:
    """The TTL a Service asks for, None when it does not say (use the default)."""
    if not annotations or DNS_TTL_ANNOTATION not in annotations:
        return None
    return parse_ttl(annotations[DNS_TTL_ANNOTATION])


class _Rank(IntEnum):
    GLOBAL = 0
    REGION = 1
    ZONE = 2


@dataclass
class _Level:
    """One name of the hierarchy while it is being computed."""

    name: str
    rank: _Rank
    parent: str | None  # where an empty level points; None for the global name
    addresses: set[str] = field(default_factory=set)
    hostnames: set[str] = field(default_factory=set)

    def needs_resolution(self) -> bool:
        """Whether this level's hostnames must become A/AAAA records (more than one target)."""
        return bool(self.hostnames) and (len(self.hostnames) > 1 or bool(self.addresses))


def _valid_addresses(values: Iterable[str]) -> set[str]:
    out: set[str] = set()
    for value in values:
        ip = _ip(value.strip())
        if ip is not None:  # a malformed ingress address cannot be published; the others still are
            out.add(ip[2])
    return out


def _levels(service: FederatedService, names: ServiceNames) -> list[_Level]:
    regions: set[str] = set()
    zones: set[tuple[str, str]] = set()
    for region, zone in service.all_zones:
        if region:
            regions.add(region)
        if zone:
            zones.add((region, zone))
    for shard in service.shards:
        if shard.region:
            regions.add(shard.region)
        zones.update((shard.region, z) for z in shard.zones if z)

    global_name = names.global_name
    by_name: dict[str, _Level] = {}

    def level(name: str, rank: _Rank, parent: str | None) -> _Level | None:
        existing = by_name.get(name)
        if existing is None:
            by_name[name] = existing = _Level(name, rank, parent)
            return existing
        # Two places map to one name: only when zone labels repeat across regions (or equal a
        # region label) in the `<zone>.<domain>` style. The higher level keeps the name; two
        # zones of different regions share it and fall back to the global name when empty.
        if rank < existing.rank:
            by_name[name] = existing = _Level(name, rank, parent)
        elif rank > existing.rank:
            return None
        elif existing.parent != parent:
            existing.parent = global_name
        return existing

    # Each healthy shard's targets, parsed once and filed by region and by zone.
    everywhere: list[tuple[set[str], set[str]]] = []
    by_region: dict[str, list[tuple[set[str], set[str]]]] = {}
    by_zone: dict[tuple[str, str], list[tuple[set[str], set[str]]]] = {}
    for shard in service.shards:
        if not shard.healthy:
            continue
        targets = (_valid_addresses(shard.addresses), {absolute(h) for h in shard.hostnames if h.strip()})
        everywhere.append(targets)
        by_region.setdefault(shard.region, []).append(targets)
        for z in set(shard.zones):
            by_zone.setdefault((shard.region, z), []).append(targets)

    def add_targets(lvl: _Level | None, shards: Iterable[tuple[set[str], set[str]]]) -> None:
        if lvl is None:
            return
        for addresses, hostnames in shards:
            lvl.addresses |= addresses
            lvl.hostnames |= hostnames

    add_targets(level(global_name, _Rank.GLOBAL, None), everywhere)
    for region in sorted(regions):
        add_targets(level(names.region_name(region), _Rank.REGION, global_name), by_region.get(region, ()))
    for region, zone in sorted(zones):
        if not region and names.zone_style is ZoneNameStyle.ZONE_IN_REGION:
            continue  # no region label: this style has no name for the zone
        parent = names.region_name(region) if region else global_name
        add_targets(level(names.zone_name(zone, region), _Rank.ZONE, parent), by_zone.get((region, zone), ()))
    return sorted(by_name.values(), key=lambda lvl: (lvl.rank, lvl.name))


def _level_records(lvl: _Level, ttl: int, resolve: Resolver | None) -> list[RecordSet]:
    addresses = set(lvl.addresses)
    if lvl.hostnames and not lvl.needs_resolution():
        return [RecordSet(lvl.name, RecordType.CNAME, ttl, (next(iter(lvl.hostnames)),))]
    if lvl.needs_resolution() and resolve is not None:
        for hostname in lvl.hostnames:
            addresses |= _valid_addresses(resolve(hostname.rstrip(".")))
    if not addresses and lvl.hostnames:
        # Nothing resolved yet: pointing at one of the load balancers serves better than nothing.
        return [RecordSet(lvl.name, RecordType.CNAME, ttl, (min(lvl.hostnames),))]
    if not addresses:
        if lvl.parent is None:
            return []  # global with no healthy shard: no record
        return [RecordSet(lvl.name, RecordType.CNAME, ttl, (lvl.parent,))]
    v4 = tuple(a for a in addresses if ":" not in a)  # canonical addresses: only IPv6 has colons
    v6 = tuple(a for a in addresses if ":" in a)
    out = []
    if v4:
        out.append(RecordSet(lvl.name, RecordType.A, ttl, v4))
    if v6:
        out.append(RecordSet(lvl.name, RecordType.AAAA, ttl, v6))
    return out


def desired_records(
    service: FederatedService,
    federation: str,
    domain: str,
    default_ttl: int = DEFAULT_TTL,
    resolve: Resolver | None = None,
    zone_style: ZoneNameStyle = ZoneNameStyle.ZONE,
) -> list[RecordSet]:
    """The record sets `service` should have in `domain`, sorted by name and type."""
    names = ServiceNames(service.name, service.namespace, federation, domain, zone_style)
    ttl = default_ttl if service.ttl is None else service.ttl
    out: list[RecordSet] = []
    for lvl in _levels(service, names):
        out.extend(_level_records(lvl, ttl, resolve))
    return sorted(out, key=lambda r: r.key)


def hostnames_to_resolve(
    service: FederatedService,
    federation: str,
    domain: str,
    zone_style: ZoneNameStyle = ZoneNameStyle.ZONE,
) -> frozenset[str]:
    """Load-balancer hostnames (without trailing dot) that `desired_records` will ask `resolve` about."""
    if not any(shard.hostnames for shard in service.shards):
        return frozenset()  # the common case: addresses only, nothing to work out level by level
    names = ServiceNames(service.name, service.namespace, federation, domain, zone_style)
    out: set[str] = set()
    for lvl in _levels(service, names):
        if lvl.needs_resolution():
            out |= {h.rstrip(".") for h in lvl.hostnames}
    return frozenset(out)
