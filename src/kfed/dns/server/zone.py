"""ZoneData: an immutable snapshot of one zone, as the server answers from it.

A snapshot is built once from record sets (name, type, ttl, data strings in zone-file form) plus
the zone's settings (SOA fields, NS names), and never changes afterwards: the server swaps whole
snapshots, so a query never sees half an update and no lock is needed.

A change makes a new snapshot that shares everything it did not touch with its predecessor
(`with_changes` copies one dict of references and re-parses only the changed record sets), so
one record changing in a zone of 100,000 costs milliseconds, not a rebuild. The snapshot also
remembers which names it changed relative to which content, which makes the IXFR diff between
consecutive versions proportional to the change.

The SOA lives outside the node table: a new serial (`with_serial`) is then O(1). Tables are
keyed by the canonical (lowercase, uncompressed) wire form of a name: bytes hash once and compare
in C, where dnspython Name objects rehash on every lookup.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Protocol

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.CNAME
import dns.rdtypes.ANY.SOA
import dns.rdtypes.IN.A
import dns.rdtypes.IN.AAAA
import dns.rrset

IN = dns.rdataclass.IN
SOA = dns.rdatatype.SOA
NS = dns.rdatatype.NS
CNAME = dns.rdatatype.CNAME

# One owner name's record sets, by type. Never mutated once a snapshot holds it.
Node = Mapping[int, dns.rrset.RRset]
# A name's canonical wire form: the key of every table here.
NameKey = bytes

_content_ids = itertools.count(1)


class ZoneDataError(ValueError):
    """Record sets that cannot form a zone (outside the origin, CNAME beside other data, bad rdata)."""


class RecordSetLike(Protocol):
    """What a record set must offer to go into a zone; kfed.dns.records.RecordSet fits."""

    @property
    def name(self) -> str: ...

    @property
    def type(self) -> str: ...

    @property
    def ttl(self) -> int: ...

    @property
    def data(self) -> Sequence[str]: ...


@dataclass(frozen=True)
class RecordSetSpec:
    """A plain record set: `name` relative to the origin (`www`, `@`) or absolute (`www.example.com.`)."""

    name: str
    type: str
    ttl: int
    data: tuple[str, ...]


@dataclass(frozen=True)
class ZoneSettings:
    """What the server itself puts in a zone: the SOA fields and the apex NS set."""

    origin: dns.name.Name
    ns_names: tuple[dns.name.Name, ...]
    hostmaster: dns.name.Name
    soa_ttl: int = 3600
    ns_ttl: int = 3600
    refresh: int = 3600
    retry: int = 600
    expire: int = 1_209_600
    minimum: int = 60  # the negative-caching TTL (RFC 2308)

    @classmethod
    def for_origin(
        cls,
        origin: str | dns.name.Name,
        *,
        ns_names: Iterable[str | dns.name.Name] = (),
        hostmaster: str | dns.name.Name | None = None,
        **fields: int,
    ) -> ZoneSettings:
        """Settings with sensible defaults: NS `ns1.<origin>`, hostmaster `hostmaster.<origin>`."""
        zone = _as_name(origin, dns.name.root).canonicalize()
        names = tuple(_as_name(n, zone).canonicalize() for n in ns_names) or (
            dns.name.Name(("ns1",)).concatenate(zone),
        )
        rname = (
            _as_name(hostmaster, zone)
            if hostmaster is not None
            else dns.name.Name(("hostmaster",)).concatenate(zone)
        )
        return cls(origin=zone, ns_names=names, hostmaster=rname.canonicalize(), **fields)

    def soa_rrset(self, serial: int) -> dns.rrset.RRset:
        rdata = dns.rdtypes.ANY.SOA.SOA(
            IN,
            SOA,
            self.ns_names[0],
            self.hostmaster,
            serial,
            self.refresh,
            self.retry,
            self.expire,
            self.minimum,
        )
        return dns.rrset.from_rdata(self.origin, self.soa_ttl, rdata)

    def ns_rrset(self) -> dns.rrset.RRset:
        rdatas = [dns.rdata.from_text(IN, NS, n.to_text()) for n in self.ns_names]
        return dns.rrset.from_rdata_list(self.origin, self.ns_ttl, rdatas)


def _as_name(value: str | dns.name.Name, origin: dns.name.Name) -> dns.name.Name:
    """An absolute, lowercase Name from `www`, `www.example.com.`, `@`."""
    if isinstance(value, dns.name.Name):
        return (value if value.is_absolute() else value.derelativize(origin)).canonicalize()
    text = value.strip().lower()
    if text in ("", "@"):
        return origin
    if text.isascii() and "\\" not in text and text != ".":
        # The common case without escapes or IDNA: split, skipping dnspython's text parser.
        if text.endswith("."):
            return dns.name.Name([*(label.encode() for label in text[:-1].split(".")), b""])
        return dns.name.Name([*(label.encode() for label in text.split(".")), *origin.labels])
    return dns.name.from_text(text, origin=origin).canonicalize()


def name_key(name: dns.name.Name) -> NameKey:
    return name.to_digestable()


@dataclass(frozen=True, eq=False)
class ZoneData:
    """One version of one zone. Build with `ZoneData.build`, derive with `with_changes`."""

    settings: ZoneSettings
    serial: int
    soa: dns.rrset.RRset
    nodes: Mapping[NameKey, Node]
    # name -> how many owner names exist strictly below it (empty non-terminals exist too).
    below: Mapping[NameKey, int]
    journal: tuple[ZoneDiff, ...] = ()
    content_id: int = field(default_factory=lambda: next(_content_ids))
    # When derived by with_changes: the content it came from and the names that differ from it.
    base_id: int | None = None
    changed: frozenset[NameKey] | None = None

    @property
    def origin(self) -> dns.name.Name:
        return self.settings.origin

    @cached_property
    def origin_key(self) -> NameKey:
        return name_key(self.settings.origin)

    @classmethod
    def build(
        cls, settings: ZoneSettings, record_sets: Iterable[RecordSetLike] = (), *, serial: int = 0
    ) -> ZoneData:
        """A zone from scratch. `serial` 0 lets the server pick one (see serial.next_serial)."""
        origin_key = name_key(settings.origin)
        nodes: dict[NameKey, dict[int, dns.rrset.RRset]] = {origin_key: {NS: settings.ns_rrset()}}
        below: dict[NameKey, int] = {}
        for spec in record_sets:
            rrset = _parse(settings.origin, spec)
            if rrset is None:
                continue
            key = name_key(rrset.name)
            node = nodes.get(key)
            if node is None:
                node = nodes[key] = {}
                _count_ancestors(below, key, len(origin_key), +1)
            _check_coexistence(rrset, node)
            node[rrset.rdtype] = rrset
        return cls(settings=settings, serial=serial, soa=settings.soa_rrset(serial), nodes=nodes, below=below)

    def with_changes(
        self,
        upserts: Iterable[RecordSetLike] = (),
        deletes: Iterable[tuple[str | dns.name.Name, str | int]] = (),
    ) -> ZoneData:
        """A new snapshot with record sets replaced/added (`upserts`) and removed (`deletes`,
        as (name, type) pairs). Deletes apply first, so a batch may swap an A for a CNAME.
        An upsert with no data deletes. Deleting the apex NS restores the settings' NS."""
        origin = self.origin
        origin_key = self.origin_key
        nodes = dict(self.nodes)
        below = dict(self.below)
        changed: set[NameKey] = set()

        def edit(key: NameKey) -> dict[int, dns.rrset.RRset]:
            if key not in changed:
                changed.add(key)
                old = nodes.get(key)
                nodes[key] = dict(old) if old is not None else {}
                if old is None:
                    _count_ancestors(below, key, len(origin_key), +1)
            return nodes[key]  # type: ignore[return-value]

        for raw_name, raw_type in deletes:
            key = name_key(_as_name(raw_name, origin))
            rdtype = raw_type if isinstance(raw_type, int) else dns.rdatatype.from_text(raw_type)
            if key in nodes and rdtype in nodes[key]:
                edit(key).pop(rdtype)
        for spec in upserts:
            rrset = _parse(origin, spec)
            if rrset is None:
                key = name_key(_as_name(spec.name, origin))
                rdtype = dns.rdatatype.from_text(spec.type)
                if key in nodes and rdtype in nodes[key]:
                    edit(key).pop(rdtype)
                continue
            node = edit(name_key(rrset.name))
            _check_coexistence(rrset, node)
            node[rrset.rdtype] = rrset
        for key in changed:
            if not nodes[key]:
                if key == origin_key:
                    nodes[key] = {NS: self.settings.ns_rrset()}
                    continue
                del nodes[key]
                _count_ancestors(below, key, len(origin_key), -1)
            elif key == origin_key and NS not in nodes[key]:
                nodes[key][NS] = self.settings.ns_rrset()  # type: ignore[index]
        return ZoneData(
            settings=self.settings,
            serial=self.serial,
            soa=self.soa,
            nodes=nodes,
            below=below,
            journal=self.journal,
            base_id=self.content_id,
            changed=frozenset(changed),
        )

    def with_serial(self, serial: int, journal: tuple[ZoneDiff, ...] | None = None) -> ZoneData:
        """The same content under another serial (and journal): O(1), content_id kept."""
        return replace(
            self,
            serial=serial,
            soa=self.settings.soa_rrset(serial),
            journal=self.journal if journal is None else journal,
        )

    # -- reading -------------------------------------------------------------------------------

    def node(self, name: dns.name.Name) -> Node | None:
        return self.nodes.get(name_key(name))

    def exists(self, name: dns.name.Name) -> bool:
        """True for owner names and for empty non-terminals (names with data only below them)."""
        key = name_key(name)
        return key in self.nodes or key in self.below

    def rrset(self, name: dns.name.Name, rdtype: int) -> dns.rrset.RRset | None:
        key = name_key(name)
        if rdtype == SOA and key == self.origin_key:
            return self.soa
        node = self.nodes.get(key)
        return None if node is None else node.get(rdtype)

    def __contains__(self, name: object) -> bool:
        """Whether `name` (a Name or a `www.example.com.` string) owns any record set."""
        if isinstance(name, str):
            name = _as_name(name, self.origin)
        return isinstance(name, dns.name.Name) and name_key(name) in self.nodes

    @cached_property
    def negative_soa(self) -> dns.rrset.RRset:
        """The SOA for the authority section of NXDOMAIN/NODATA: TTL = min(SOA TTL, minimum)."""
        ttl = min(self.settings.soa_ttl, self.settings.minimum)
        if self.soa.ttl == ttl:
            return self.soa
        return dns.rrset.from_rdata(self.origin, ttl, self.soa[0])

    def rrsets(self) -> Iterator[dns.rrset.RRset]:
        """Every record set except the SOA: the apex first (NS leading), then the rest."""
        origin_key = self.origin_key
        apex = self.nodes[origin_key]
        if NS in apex:
            yield apex[NS]
        for rdtype, rrset in apex.items():
            if rdtype != NS:
                yield rrset
        for key, node in self.nodes.items():
            if key != origin_key:
                yield from node.values()

    @property
    def record_count(self) -> int:
        """Resource records in the zone, SOA included."""
        return 1 + sum(len(rrset) for rrset in self.rrsets())


@dataclass(frozen=True)
class ZoneDiff:
    """What changed between two serials, in IXFR terms (RFC 1995): delete these, then add those."""

    from_soa: dns.rrset.RRset
    to_soa: dns.rrset.RRset
    removed: tuple[dns.rrset.RRset, ...]
    added: tuple[dns.rrset.RRset, ...]

    @property
    def from_serial(self) -> int:
        return int(self.from_soa[0].serial)  # type: ignore[attr-defined]

    @property
    def to_serial(self) -> int:
        return int(self.to_soa[0].serial)  # type: ignore[attr-defined]

    @property
    def size(self) -> int:
        """Resource records this diff carries (the journal is bounded by it)."""
        return 2 + sum(len(r) for r in self.removed) + sum(len(r) for r in self.added)


def diff_content(
    old: ZoneData, new: ZoneData
) -> tuple[tuple[dns.rrset.RRset, ...], tuple[dns.rrset.RRset, ...]]:
    """(removed, added) resource records turning `old`'s content into `new`'s (SOA excluded).

    Proportional to the change when `new` was derived from `old` by with_changes; otherwise a
    walk of both tables in which unchanged (shared) record sets cost one identity check.
    """
    if new.changed is not None and new.base_id == old.content_id:
        names: Iterable[NameKey] = new.changed
    elif new.content_id == old.content_id:
        return (), ()
    else:
        names = {n for n, node in new.nodes.items() if old.nodes.get(n) is not node}
        names.update(n for n in old.nodes if n not in new.nodes)
    removed: list[dns.rrset.RRset] = []
    added: list[dns.rrset.RRset] = []
    for key in names:
        old_node = old.nodes.get(key) or {}
        new_node = new.nodes.get(key) or {}
        for rdtype in {*old_node, *new_node}:
            before, after = old_node.get(rdtype), new_node.get(rdtype)
            if before is after:
                continue
            if before is None or after is None or before.ttl != after.ttl:
                if before is not None:
                    removed.append(before)
                if after is not None:
                    added.append(after)
                continue
            gone = [rd for rd in before if rd not in after]
            new_rds = [rd for rd in after if rd not in before]
            if gone:
                removed.append(dns.rrset.from_rdata_list(before.name, before.ttl, gone))
            if new_rds:
                added.append(dns.rrset.from_rdata_list(after.name, after.ttl, new_rds))
    return tuple(removed), tuple(added)


def _parse(origin: dns.name.Name, spec: RecordSetLike) -> dns.rrset.RRset | None:
    try:
        name = _as_name(spec.name, origin)
        rdtype = dns.rdatatype.from_text(spec.type)
    except Exception as e:
        raise ZoneDataError(f"{spec.name} {spec.type}: {e}") from e
    if not name.is_subdomain(origin):
        raise ZoneDataError(f"{name} is not in zone {origin}")
    if rdtype == SOA:
        raise ZoneDataError(f"{name} SOA: the server manages the SOA record")
    if dns.rdatatype.is_metatype(rdtype) or rdtype in (dns.rdatatype.OPT, dns.rdatatype.TSIG):
        raise ZoneDataError(f"{name} {spec.type}: not a data type")
    ttl = int(spec.ttl)
    if not 0 <= ttl <= 2**31 - 1:
        raise ZoneDataError(f"{name} {spec.type}: TTL {ttl} out of range")
    if not spec.data:
        return None
    try:
        rdatas = [_rdata(rdtype, text, origin) for text in spec.data]
    except Exception as e:
        raise ZoneDataError(f"{name} {spec.type}: {e}") from e
    if rdtype == CNAME and len(set(rdatas)) > 1:
        raise ZoneDataError(f"{name} CNAME: more than one target")
    return dns.rrset.from_rdata_list(name, ttl, rdatas)


def _rdata(rdtype: dns.rdatatype.RdataType, text: str, origin: dns.name.Name) -> dns.rdata.Rdata:
    # Direct constructors for the types kfed writes most (several times faster than the
    # zone-file tokenizer); everything else goes through dnspython's text parser.
    if rdtype == dns.rdatatype.A:
        return dns.rdtypes.IN.A.A(IN, rdtype, text.strip())
    if rdtype == dns.rdatatype.AAAA:
        return dns.rdtypes.IN.AAAA.AAAA(IN, rdtype, text.strip())
    if rdtype == CNAME:
        return dns.rdtypes.ANY.CNAME.CNAME(IN, rdtype, _as_name(text, origin))
    return dns.rdata.from_text(IN, rdtype, text, origin=origin, relativize=False)


def _check_coexistence(rrset: dns.rrset.RRset, node: Mapping[int, dns.rrset.RRset]) -> None:
    others = [t for t in node if t != rrset.rdtype]
    if others and (rrset.rdtype == CNAME or CNAME in others):
        raise ZoneDataError(f"{rrset.name}: a CNAME cannot coexist with other data (RFC 1034)")


def _count_ancestors(below: dict[NameKey, int], key: NameKey, origin_length: int, delta: int) -> None:
    """Add `delta` to every name strictly between `key` and the origin: with wire-form keys the
    ancestors are suffixes starting at label boundaries."""
    end = len(key) - origin_length
    i = key[0] + 1 if end > 0 else end
    while i < end:
        ancestor = key[i:]
        count = below.get(ancestor, 0) + delta
        if count:
            below[ancestor] = count
        else:
            below.pop(ancestor, None)
        i += key[i] + 1
