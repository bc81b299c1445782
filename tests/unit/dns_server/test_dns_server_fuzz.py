"""Garbage in: the core never raises, drops what is not a query, and answers the rest sanely."""

from __future__ import annotations

import random
import struct
import time

import dns.message
import dns.rcode
import dns.rrset
import dns.tsigkeyring
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kfed.dns.server import RecordSetSpec, ZoneData, ZoneSet, ZoneSettings, advance, answer, respond

KEYRING = dns.tsigkeyring.from_text({"xfr.": ("hmac-sha256", "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0")})
_ZONE = advance(
    None,
    ZoneData.build(
        ZoneSettings.for_origin("example.com."),
        [
            RecordSetSpec("www", "A", 60, ("192.0.2.1",)),
            RecordSetSpec("alias", "CNAME", 60, ("www",)),
            RecordSetSpec("txt", "TXT", 60, tuple(f'"{"y" * 150}{i}"' for i in range(6))),
        ],
    ),
    1_700_000_000.0,
)
assert _ZONE is not None
ZONES = ZoneSet([_ZONE])


def _seeds() -> list[bytes]:
    queries = [
        dns.message.make_query("www.example.com.", "A"),
        dns.message.make_query("alias.example.com.", "A", use_edns=0, payload=4096, want_dnssec=True),
        dns.message.make_query("txt.example.com.", "TXT", use_edns=0),
        dns.message.make_query("nope.example.com.", "AAAA"),
        dns.message.make_query("example.com.", "AXFR"),
        dns.message.make_query("example.org.", "A"),
    ]
    ixfr = dns.message.make_query("example.com.", "IXFR")
    ixfr.authority = [dns.rrset.from_text("example.com.", 0, "IN", "SOA", "a. b. 1 1 1 1 1")]
    ixfr.use_tsig(KEYRING, keyname="xfr.")
    signed = dns.message.make_query("www.example.com.", "A")
    signed.use_tsig(KEYRING, keyname="xfr.")
    return [q.to_wire() for q in queries] + [ixfr.to_wire(), signed.to_wire()]


SEEDS = _seeds()


def _check(wire: bytes) -> None:
    """The invariants, for UDP (one answer) and TCP (every message of the response)."""
    udp = answer(wire, ZONES, tsig_keyring=KEYRING)
    tcp = list(respond(wire, ZONES, tsig_keyring=KEYRING, transport="tcp"))
    if len(wire) < 12 or wire[2] & 0x80:
        assert udp is None and tcp == []  # not a query: silence
        return
    assert udp is not None and len(tcp) >= 1
    for response in (udp, *tcp):
        assert len(response) >= 12
        assert response[:2] == wire[:2]  # the query's ID
        assert response[2] & 0x80  # QR
        dns.message.from_wire(response, keyring=False)  # always well-formed
    assert len(udp) <= 4096
    try:
        dns.message.from_wire(wire, keyring=False, ignore_trailing=True)
        parsable = True
    except Exception:
        parsable = False
    opcode = (wire[2] >> 3) & 0xF
    if not parsable and opcode in (0, 4, 5):
        assert struct.unpack("!H", udp[2:4])[0] & 0xF == dns.rcode.FORMERR


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_random_bytes(wire: bytes) -> None:
    _check(wire)


@settings(max_examples=300, deadline=None)
@given(
    header=st.binary(min_size=12, max_size=12),
    body=st.binary(max_size=120),
)
def test_random_bodies_behind_query_like_headers(header: bytes, body: bytes) -> None:
    # Keep QR clear and counts small so the parser gets past the header more often.
    flags = header[2] & 0x7F
    counts = bytes(b % 3 if i % 2 else 0 for i, b in enumerate(header[4:12]))
    _check(header[:2] + bytes([flags]) + header[3:4] + counts + body)


def _mutate(rng: random.Random, wire: bytes) -> bytes:
    data = bytearray(wire)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(5)
        position = rng.randrange(len(data) + 1)
        if op == 0 and data:  # flip a bit
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
        elif op == 1 and data:  # replace a byte
            data[rng.randrange(len(data))] = rng.randrange(256)
        elif op == 2:  # truncate
            del data[position:]
        elif op == 3:  # insert bytes
            data[position:position] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif op == 4 and data:  # delete a run
            del data[position : position + rng.randint(1, 6)]
    return bytes(data)


def test_mutated_valid_queries_for_two_seconds() -> None:
    rng = random.Random(20240601)
    deadline = time.monotonic() + 2.0
    checked = 0
    while time.monotonic() < deadline:
        _check(_mutate(rng, rng.choice(SEEDS)))
        checked += 1
    assert checked > 200
