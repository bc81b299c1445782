"""Garbage in: the cluster DNS core never raises, stays silent for non-queries, and otherwise answers
with a well-formed message carrying the query's ID (a clean error code for what it cannot use)."""

from __future__ import annotations

import random
import struct
from typing import Any

import dns.message
import dns.name
import dns.rcode
from hypothesis import given, settings
from hypothesis import strategies as st

from kfed.dns.clusterdns import ClusterDNSCore, Transport, UpstreamStep
from tests.unit.clusterdns.test_clusterdns_answers import FEDERATED, make_index, ready_nginx

CORE = ClusterDNSCore(make_index(), recursion=True)
ready_nginx(CORE.index)
QUERIES: list[tuple[str, str, dict[str, Any]]] = [
    ("nginx.mynamespace.svc.cluster.local.", "A", {}),
    (FEDERATED, "A", {"use_edns": 0, "payload": 4096}),
    ("web.shop.myfederation.svc.cluster.local.", "AAAA", {}),
    ("_pg._tcp.db.mynamespace.svc.cluster.local.", "SRV", {}),
    ("db-0.db.mynamespace.svc.cluster.local.", "A", {"use_edns": 0}),
    ("10-1-2-3.default.pod.cluster.local.", "A", {}),
    ("www.example.org.", "A", {}),
]
SEEDS = [dns.message.make_query(name, rdtype, **kw).to_wire() for name, rdtype, kw in QUERIES]


def check(wire: bytes) -> None:
    transports: tuple[Transport, ...] = ("udp", "tcp")
    for transport in transports:
        out = CORE.handle(wire, transport)
        if len(wire) < 12 or wire[2] & 0x80:
            assert out is None  # not a query: silence
            continue
        assert out is not None
        if isinstance(out, UpstreamStep):
            out = CORE.finish(out, None)  # the upstream never answered
            assert isinstance(out, bytes)
            assert struct.unpack("!H", out[2:4])[0] & 0xF == dns.rcode.SERVFAIL
        assert out[:2] == wire[:2] and out[2] & 0x80
        dns.message.from_wire(out, keyring=False)  # always well-formed
        if transport == "udp":
            assert len(out) <= 1232


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes(wire: bytes) -> None:
    check(wire)


@settings(max_examples=300, deadline=None)
@given(header=st.binary(min_size=12, max_size=12), body=st.binary(max_size=160))
def test_random_bodies_behind_query_like_headers(header: bytes, body: bytes) -> None:
    counts = bytes(b % 3 if i % 2 else 0 for i, b in enumerate(header[4:12]))
    check(header[:2] + bytes([header[2] & 0x7F]) + header[3:4] + counts + body)


@settings(max_examples=300, deadline=None)
@given(
    labels=st.lists(st.binary(min_size=1, max_size=63), min_size=1, max_size=6),
    rdtype=st.sampled_from(["A", "AAAA", "CNAME", "SRV", "TXT", "ANY", "SOA", "PTR"]),
)
def test_any_labels_under_the_cluster_domain(labels: list[bytes], rdtype: str) -> None:
    try:
        name = dns.name.Name([*labels, b"svc", b"cluster", b"local", b""])
    except dns.name.NameTooLong:
        return
    wire = dns.message.make_query(name, rdtype).to_wire()
    out = CORE.handle(wire)
    if isinstance(out, UpstreamStep):
        assert out.kind == "chase"  # cluster names are never forwarded
        return
    assert out is not None
    msg = dns.message.from_wire(out)
    assert msg.rcode() in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN)


def mutate(rng: random.Random, wire: bytes) -> bytes:
    data = bytearray(wire)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(5)
        position = rng.randrange(len(data) + 1)
        if op == 0 and data:
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        elif op == 1 and data:
            data[rng.randrange(len(data))] = rng.randrange(256)
        elif op == 2:
            del data[position:]
        elif op == 3:
            data[position:position] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif op == 4 and data:
            del data[position : position + rng.randint(1, 6)]
    return bytes(data)


def test_mutated_queries() -> None:
    rng = random.Random(6)
    for _ in range(3000):
        check(mutate(rng, rng.choice(SEEDS)))


def test_oversized_packets() -> None:
    huge = SEEDS[0] + b"\x00" * 60000  # trailing junk is ignored, the question answered
    out = CORE.handle(huge)
    assert isinstance(out, bytes) and dns.message.from_wire(out).rcode() == dns.rcode.NOERROR
    many = SEEDS[0][:4] + b"\xff\xff" + SEEDS[0][6:]  # 65535 questions claimed, one present
    out = CORE.handle(many)
    assert isinstance(out, bytes) and struct.unpack("!H", out[2:4])[0] & 0xF == dns.rcode.FORMERR
