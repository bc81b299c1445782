"""From a query's wire bytes to the response's wire bytes: the server's pure core (no I/O).

Two paths:

- the fast path serves a plain query (one question, no TSIG, at most an OPT record) from a cache
  of rendered answers: it reads the header and the question name straight from the wire, looks
  the bytes up, and patches in the query's ID and its question (whose letter case the client may
  have randomised, "0x20", and expects back). Compression pointers in the cached answer point
  into the question, so owner names come out in the client's case as well.
- the slow path parses with dnspython, does the lookup, renders, and fills the cache when the
  query was plain. Everything unusual goes this way: TSIG, other opcodes, several questions,
  transfers, malformed packets.

Behaviour follows BIND 9 where the RFCs leave a choice (checked against named 9.18): FORMERR
with an empty question for unparsable queries, silence for shorter-than-header ones and for
responses, NOTIMP with no question for unknown opcodes, REFUSED for other classes and for names
outside our zones, FORMERR for class ANY/NONE and for OPT/TKEY/TSIG as the question type, NOTIMP
for MAILA/MAILB, FORMERR for AXFR over UDP.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Literal

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.tsig

from kfed.dns.server.lookup import lookup
from kfed.dns.server.transfer import axfr_rrsets, ixfr_rrsets, transfer_messages
from kfed.dns.server.zone import SOA, ZoneData
from kfed.dns.server.zoneset import MAX_CACHED_ANSWERS, AnswerCache, ZoneSet

Transport = Literal["udp", "tcp"]
Keyring = Mapping[dns.name.Name, dns.tsig.Key]
TransferObserver = Callable[[str, ZoneData], None]

# The EDNS UDP size we advertise and send at most (DNS flag day 2020: avoids IP fragmentation).
DEFAULT_MAX_UDP = 1232
PLAIN_UDP_LIMIT = 512  # RFC 1035, for queries without EDNS

_QR = 0x8000
_OPCODE_MASK = 0x7800
_RD = 0x0100
_CD = 0x0010
_KNOWN_OPCODES = (dns.opcode.QUERY, dns.opcode.NOTIFY, dns.opcode.UPDATE)
_ONE_QUESTION = b"\x00\x01\x00\x00\x00\x00"  # QDCOUNT=1 ANCOUNT=0 NSCOUNT=0
_OPT_HEAD = b"\x00\x00\x29"  # root owner name, type OPT
_CACHEABLE_RCODES = (dns.rcode.NOERROR, dns.rcode.NXDOMAIN, dns.rcode.REFUSED)
_FORMERR_QTYPES = (dns.rdatatype.OPT, dns.rdatatype.TKEY, dns.rdatatype.TSIG)
_NOTIMP_QTYPES = (dns.rdatatype.MAILA, dns.rdatatype.MAILB)
_XFR_QTYPES = (dns.rdatatype.AXFR, dns.rdatatype.IXFR)


def answer(
    query_wire: bytes,
    zones: ZoneSet | Iterable[ZoneData],
    *,
    tsig_keyring: Keyring | None = None,
    transport: Transport = "udp",
    max_udp: int = DEFAULT_MAX_UDP,
) -> bytes | None:
    """The response to one query, or None when the packet deserves no answer.

    For a zone transfer over TCP this is only the first message; a TCP server uses `respond`.
    """
    if not isinstance(zones, ZoneSet):
        zones = ZoneSet(zones)
    cache = zones.cache(0 if transport == "tcp" else max_udp)
    hit = cached_answer(query_wire, cache)
    if hit is not None:
        return hit
    for message in _respond(query_wire, zones, tsig_keyring, transport, max_udp, cache):
        return message
    return None


def respond(
    query_wire: bytes,
    zones: ZoneSet | Iterable[ZoneData],
    *,
    tsig_keyring: Keyring | None = None,
    transport: Transport = "udp",
    max_udp: int = DEFAULT_MAX_UDP,
    on_transfer: TransferObserver | None = None,
) -> Iterator[bytes]:
    """Every response message for one query: none, one, or a transfer's sequence (TCP).

    `on_transfer(kind, zone)` is called when a transfer is served; kind is one of "axfr",
    "ixfr_incremental", "ixfr_full" (journal too short) and "ixfr_current" (client up to date).
    """
    if not isinstance(zones, ZoneSet):
        zones = ZoneSet(zones)
    cache = zones.cache(0 if transport == "tcp" else max_udp)
    hit = cached_answer(query_wire, cache)
    if hit is not None:
        return iter((hit,))
    return _respond(query_wire, zones, tsig_keyring, transport, max_udp, cache, on_transfer)


# -- fast path ---------------------------------------------------------------------------------


def cache_key(wire: bytes) -> tuple[bytes, int] | None:
    """(key, end of question) for a plain query, else None.

    The key is every byte of the query except the ID, with the question name lowercased and the
    OPT record's options left out (we ignore them). Two queries with equal keys get the same
    answer, so a hit needs no further checks; the slow path only stores answers to plain
    queries, so nothing else can ever hit.
    """
    n = len(wire)
    if n < 17 or wire[4:10] != _ONE_QUESTION:
        return None
    i = 12
    while True:
        if i >= n:
            return None
        length = wire[i]
        if length == 0:
            break
        if length > 63:  # compression pointer or extended label: not plain
            return None
        i += length + 1
    name_end = i + 1
    qend = name_end + 4
    arcount = wire[10:12]
    if arcount == b"\x00\x00":
        if qend != n:
            return None
        return wire[2:4] + wire[12:name_end].lower() + wire[name_end:qend], qend
    if arcount != b"\x00\x01" or wire[qend : qend + 3] != _OPT_HEAD or n < qend + 11:
        return None
    if qend + 11 + ((wire[qend + 9] << 8) | wire[qend + 10]) != n:
        return None
    return wire[2:4] + wire[12:name_end].lower() + wire[name_end : qend + 9], qend


def cached_answer(wire: bytes, cache: AnswerCache) -> bytes | None:
    if not cache:
        return None
    key = cache_key(wire)
    if key is None:
        return None
    entry = cache.get(key[0])
    if entry is None:
        return None
    return wire[:2] + entry[0] + wire[12 : key[1]] + entry[1]


def _remember(cache: AnswerCache, wire: bytes, response: bytes) -> None:
    key = cache_key(wire)
    if key is None:
        return
    if len(cache) >= MAX_CACHED_ANSWERS:
        cache.clear()
    cache[key[0]] = (response[2:12], response[key[1] :])


# -- slow path ---------------------------------------------------------------------------------


def _respond(
    wire: bytes,
    zones: ZoneSet,
    keyring: Keyring | None,
    transport: Transport,
    max_udp: int,
    cache: AnswerCache,
    on_transfer: TransferObserver | None = None,
) -> Iterator[bytes]:
    if len(wire) < 12:
        return
    qid, flags = struct.unpack_from("!HH", wire)
    if flags & _QR:
        return  # never answer a response: two servers could bounce errors forever
    opcode = (flags & _OPCODE_MASK) >> 11
    if opcode not in _KNOWN_OPCODES:
        yield _header_only(qid, flags, dns.rcode.NOTIMP)
        return
    try:
        ring = keyring if isinstance(keyring, dict) or not keyring else dict(keyring)
        query = dns.message.from_wire(wire, keyring=ring or None, ignore_trailing=True)
    except (dns.message.UnknownTSIGKey, dns.tsig.BadKey, dns.tsig.BadAlgorithm):
        yield _tsig_error(wire, qid, flags, dns.rcode.BADKEY, keyring)
        return
    except dns.tsig.BadSignature:
        yield _tsig_error(wire, qid, flags, dns.rcode.BADSIG, keyring)
        return
    except dns.tsig.BadTime:
        yield _tsig_error(wire, qid, flags, dns.rcode.BADTIME, keyring)
        return
    except Exception:
        yield _header_only(qid, flags, dns.rcode.FORMERR)
        return
    if len(query.question) != 1:
        yield _header_only(qid, flags, dns.rcode.FORMERR)
        return
    max_udp = max(PLAIN_UDP_LIMIT, max_udp)
    response = dns.message.make_response(query, our_payload=max_udp, pad=0)
    response.flags |= query.flags & dns.flags.CD
    if query.edns >= 0:
        response.ednsflags |= query.ednsflags & dns.flags.DO
    if query.edns > 0:
        response.set_rcode(dns.rcode.BADVERS)
        yield _render(response, query, transport, max_udp)
        return
    question = query.question[0]
    qname, qtype, qclass = question.name, question.rdtype, question.rdclass

    if opcode == dns.opcode.UPDATE:
        # Changes come through the zone source, never through DNS UPDATE.
        response.set_rcode(dns.rcode.REFUSED)
        yield _render(response, query, transport, max_udp)
        return
    if opcode == dns.opcode.NOTIFY:
        # We are the primary: acknowledge NOTIFY for our zones (as BIND does) and do nothing.
        if qclass == dns.rdataclass.IN and qname in zones:
            response.flags |= dns.flags.AA
        else:
            response.set_rcode(dns.rcode.NOTAUTH)
        yield _render(response, query, transport, max_udp)
        return

    if qclass in (dns.rdataclass.ANY, dns.rdataclass.NONE) or qtype in _FORMERR_QTYPES:
        response.set_rcode(dns.rcode.FORMERR)
    elif qtype in _NOTIMP_QTYPES:
        response.set_rcode(dns.rcode.NOTIMP)
    elif qclass != dns.rdataclass.IN:
        response.set_rcode(dns.rcode.REFUSED)
    elif qtype in _XFR_QTYPES:
        yield from _transfer(query, response, zones, keyring, transport, max_udp, on_transfer)
        return
    else:
        zone = zones.find(qname)
        if zone is None:
            response.set_rcode(dns.rcode.REFUSED)
        else:
            found = lookup(zone, qname, qtype)
            response.flags |= dns.flags.AA
            response.set_rcode(found.rcode)
            response.answer = found.answer
            response.authority = found.authority
            response.additional = found.additional
    out = _render(response, query, transport, max_udp)
    if not query.had_tsig and response.rcode() in _CACHEABLE_RCODES:
        _remember(cache, wire, out)
    yield out


def _transfer(
    query: dns.message.Message,
    response: dns.message.Message,
    zones: ZoneSet,
    keyring: Keyring | None,
    transport: Transport,
    max_udp: int,
    on_transfer: TransferObserver | None,
) -> Iterator[bytes]:
    question = query.question[0]
    zone = zones.get(question.name)
    if zone is None:
        response.set_rcode(dns.rcode.NOTAUTH)
    elif keyring and not query.had_tsig:
        response.set_rcode(dns.rcode.REFUSED)  # transfers need the key once one is configured
    elif question.rdtype == dns.rdatatype.AXFR:
        if transport == "udp":
            response.set_rcode(dns.rcode.FORMERR)  # RFC 5936 4.2: AXFR is TCP only
        else:
            if on_transfer is not None:
                on_transfer("axfr", zone)
            yield from transfer_messages(query, axfr_rrsets(zone), our_payload=max_udp)
            return
    else:
        client_serial = _ixfr_serial(query)
        if client_serial is None:
            response.set_rcode(dns.rcode.FORMERR)
        elif transport == "udp":
            # RFC 1995 2: a reply that does not fit UDP is our SOA alone; the client then
            # asks again over TCP (or knows it is up to date).
            response.flags |= dns.flags.AA
            response.answer = [zone.soa]
        else:
            kind, rrsets = ixfr_rrsets(zone, client_serial)
            if on_transfer is not None:
                on_transfer(f"ixfr_{kind}", zone)
            yield from transfer_messages(query, rrsets, our_payload=max_udp)
            return
    yield _render(response, query, transport, max_udp)


def _ixfr_serial(query: dns.message.Message) -> int | None:
    for rrset in query.authority:
        if rrset.rdtype == SOA and rrset.name == query.question[0].name and len(rrset):
            return int(rrset[0].serial)
    return None


def _render(
    response: dns.message.Message, query: dns.message.Message, transport: Transport, max_udp: int
) -> bytes:
    if transport == "tcp":
        limit = 65535
    elif query.edns >= 0:
        limit = max(PLAIN_UDP_LIMIT, min(query.payload, max_udp))
    else:
        limit = PLAIN_UDP_LIMIT
    try:
        return response.to_wire(max_size=limit)
    except dns.exception.TooBig:
        pass
    if response.additional:
        # Additional data is optional: drop it before truncating (RFC 2181 9).
        response.additional = []
        try:
            return response.to_wire(max_size=limit)
        except dns.exception.TooBig:
            pass
    response.answer = []
    response.authority = []
    response.flags |= dns.flags.TC
    return response.to_wire(max_size=limit)


def _header_only(qid: int, flags: int, rcode: int) -> bytes:
    return struct.pack("!HHHHHH", qid, _QR | (flags & (_OPCODE_MASK | _RD | _CD)) | rcode, 0, 0, 0, 0)


def _tsig_error(wire: bytes, qid: int, flags: int, error: int, keyring: Keyring | None) -> bytes:
    """NOTAUTH with a TSIG error (RFC 8945 5.2): unsigned for BADKEY/BADSIG (we cannot or must
    not sign with that key), signed for BADTIME with our clock in the other data."""
    try:
        query = dns.message.from_wire(wire, keyring=False, ignore_trailing=True)
    except Exception:
        return _header_only(qid, flags, dns.rcode.FORMERR)
    if len(query.question) > 1 or query.tsig is None:
        return _header_only(qid, flags, dns.rcode.FORMERR)
    response = dns.message.make_response(query, pad=0)
    response.set_rcode(dns.rcode.NOTAUTH)
    tsig = query.tsig[0]
    key = keyring.get(query.tsig.name) if keyring else None
    if error == dns.rcode.BADTIME and key is not None:
        now = int(time.time())
        response.use_tsig(key, tsig_error=error, other_data=struct.pack("!HI", now >> 32, now & 0xFFFFFFFF))
        response.request_mac = tsig.mac
    else:
        response.tsig = dns.message.Message._make_tsig(
            query.tsig.name, tsig.algorithm, tsig.time_signed, tsig.fudge, b"", query.id, error, b""
        )
    return response.to_wire()
