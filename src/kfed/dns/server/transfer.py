"""Zone transfers out: AXFR (RFC 5936) and IXFR (RFC 1995) response streams, TSIG-signed.

A transfer is a sequence of messages over one TCP connection; each is signed (RFC 8945 4.4
allows signing every message, which keeps the client's verification simple). Messages are made
lazily, so a large zone goes out while the event loop keeps serving queries between messages.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.renderer
import dns.rrset
import dns.tsig

from kfed.dns.server.journal import diffs_since
from kfed.dns.server.serial import serial_ge
from kfed.dns.server.zone import ZoneData

# Small enough that a transfer interleaves with queries; large enough to need few signatures.
TRANSFER_MESSAGE_SIZE = 16 * 1024
TSIG_FUDGE = 300


def axfr_rrsets(zone: ZoneData) -> Iterator[dns.rrset.RRset]:
    """SOA, every other record set, SOA."""
    yield zone.soa
    yield from zone.rrsets()
    yield zone.soa


def ixfr_rrsets(zone: ZoneData, client_serial: int) -> tuple[str, Iterable[dns.rrset.RRset]]:
    """What an IXFR from `client_serial` carries: ("current", SOA) when the client is up to date,
    ("incremental", ...) from the journal, or ("full", AXFR-style) when the journal does not
    reach back that far."""
    if serial_ge(client_serial, zone.serial):
        return "current", (zone.soa,)
    diffs = diffs_since(zone, client_serial)
    if diffs is None:
        return "full", axfr_rrsets(zone)

    def incremental() -> Iterator[dns.rrset.RRset]:
        yield zone.soa
        for diff in diffs:
            yield diff.from_soa
            yield from diff.removed
            yield diff.to_soa
            yield from diff.added
        yield zone.soa

    return "incremental", incremental()


def transfer_messages(
    query: dns.message.Message,
    rrsets: Iterable[dns.rrset.RRset],
    *,
    our_payload: int,
    max_size: int = TRANSFER_MESSAGE_SIZE,
) -> Iterator[bytes]:
    """The wire messages answering transfer `query` with `rrsets`, signed when the query was."""
    question = query.question[0]
    flags = dns.flags.QR | dns.flags.AA | (query.flags & dns.flags.RD)
    key: dns.tsig.Key | None = query.keyring if query.had_tsig else None
    tsig_ctx = None
    first = True

    def new_renderer() -> dns.renderer.Renderer:
        r = dns.renderer.Renderer(query.id, flags, max_size)
        if first:
            r.add_question(question.name, question.rdtype, question.rdclass)
        if query.edns >= 0:
            r.reserve(11)
        if key is not None:
            r.reserve(_tsig_size(query))
        return r

    def finish(r: dns.renderer.Renderer) -> bytes:
        nonlocal tsig_ctx
        r.release_reserved()
        if query.edns >= 0:
            r.add_edns(0, 0, our_payload)
        r.write_header()
        if key is not None:
            tsig_ctx = r.add_multi_tsig(
                tsig_ctx, key.name, key, TSIG_FUDGE, query.id, 0, b"", query.mac, key.algorithm
            )
        return r.get_wire()  # type: ignore[no-any-return]

    renderer = new_renderer()
    for rrset in rrsets:
        if _try_add(renderer, rrset):
            continue
        if renderer.counts[dns.renderer.ANSWER]:
            yield finish(renderer)
            first = False
            renderer = new_renderer()
            if _try_add(renderer, rrset):
                continue
        # Larger than a whole message: send it record by record.
        for rdata in rrset:
            piece = dns.rrset.from_rdata(rrset.name, rrset.ttl, rdata)
            if _try_add(renderer, piece):
                continue
            if renderer.counts[dns.renderer.ANSWER]:
                yield finish(renderer)
                first = False
                renderer = new_renderer()
            if not _try_add(renderer, piece):
                raise dns.exception.TooBig(f"a record of {rrset.name} is larger than a message")
    yield finish(renderer)


def _try_add(renderer: dns.renderer.Renderer, rrset: dns.rrset.RRset) -> bool:
    try:
        renderer.add_rrset(dns.renderer.ANSWER, rrset)
    except dns.exception.TooBig:
        return False
    return True


def _tsig_size(query: dns.message.Message) -> int:
    assert query.tsig is not None
    # Owner name + fixed fields + algorithm name + MAC; what the signed response's TSIG will take.
    return len(query.tsig.name.to_digestable()) + 10 + _tsig_rdata_size(query)


def _tsig_rdata_size(query: dns.message.Message) -> int:
    assert query.keyalgorithm is not None
    mac = dns.tsig.mac_sizes.get(query.keyalgorithm, 64) or 64
    return len(query.keyalgorithm.to_digestable()) + 16 + mac


__all__ = ["axfr_rrsets", "ixfr_rrsets", "transfer_messages", "TRANSFER_MESSAGE_SIZE"]
