"""Authoritative lookup inside one zone snapshot (RFC 1034 4.3.2, minus delegations and wildcards).

kfed's zones hold no zone cuts or wildcards (the record computation never makes them), so the
algorithm is: follow CNAMEs inside the zone, answer the type asked, or say why not (NXDOMAIN for a
name that does not exist, NODATA for one that exists without that type), with the SOA in the
authority section of negative answers (RFC 2308).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset

from kfed.dns.server.zone import CNAME, NS, ZoneData

ANY = dns.rdatatype.ANY
# A chain longer than this is a misconfiguration; resolvers give up at about the same length.
MAX_CNAME_CHAIN = 16
# Types whose targets get in-zone addresses in the additional section.
_ADDITIONAL_TARGETS = {NS: "target", dns.rdatatype.MX: "exchange", dns.rdatatype.SRV: "target"}
_ADDRESS_TYPES = (dns.rdatatype.A, dns.rdatatype.AAAA)


@dataclass
class Lookup:
    rcode: dns.rcode.Rcode = dns.rcode.NOERROR
    answer: list[dns.rrset.RRset] = field(default_factory=list)
    authority: list[dns.rrset.RRset] = field(default_factory=list)
    additional: list[dns.rrset.RRset] = field(default_factory=list)


def lookup(zone: ZoneData, qname: dns.name.Name, qtype: int) -> Lookup:
    """Answer `qname`/`qtype` (qname inside the zone) from `zone`."""
    result = Lookup()
    name = qname
    seen: set[dns.name.Name] = set()
    while True:
        if not zone.exists(name):
            result.rcode = dns.rcode.NXDOMAIN  # RFC 6604: the rcode speaks for the last name
            result.authority.append(zone.negative_soa)
            return result
        if qtype == ANY:
            # RFC 8482: a minimal ANY answer, one record set (the SOA at the apex).
            first = _first_rrset(zone, name)
            if first is None:
                result.authority.append(zone.negative_soa)
            else:
                result.answer.append(first)
            return result
        rrset = zone.rrset(name, qtype)
        if rrset is not None:
            result.answer.append(rrset)
            _add_additional(zone, rrset, result)
            return result
        cname = zone.rrset(name, CNAME)
        if cname is None:
            result.authority.append(zone.negative_soa)  # NODATA
            return result
        result.answer.append(cname)
        seen.add(name)
        target: dns.name.Name = cname[0].target  # type: ignore[attr-defined]
        if not target.is_subdomain(zone.origin) or target in seen or len(seen) >= MAX_CNAME_CHAIN:
            return result  # the resolver follows it from here (or gives up on the loop)
        name = target


def _first_rrset(zone: ZoneData, name: dns.name.Name) -> dns.rrset.RRset | None:
    if name == zone.origin:
        return zone.soa
    node = zone.node(name)
    if not node:
        return None
    return next(iter(node.values()))


def _add_additional(zone: ZoneData, rrset: dns.rrset.RRset, result: Lookup) -> None:
    attr = _ADDITIONAL_TARGETS.get(rrset.rdtype)
    if attr is None:
        return
    for rdata in rrset:
        target = getattr(rdata, attr)
        if target.is_subdomain(zone.origin):
            for rdtype in _ADDRESS_TYPES:
                glue = zone.rrset(target, rdtype)
                if glue is not None and glue not in result.additional:
                    result.additional.append(glue)
