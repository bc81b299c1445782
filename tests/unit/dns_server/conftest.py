"""Shared zone and query helpers for the authoritative server's pure-core tests."""

from __future__ import annotations

from collections.abc import Callable

import dns.message
import dns.name
import pytest

from kfed.dns.server import RecordSetSpec, ZoneData, ZoneSet, ZoneSettings, advance, answer

NOW = 1_700_000_000.0

RECORDS = [
    RecordSetSpec("ns1", "A", 300, ("127.0.0.1",)),
    RecordSetSpec("www", "A", 300, ("192.0.2.1", "192.0.2.2")),
    RecordSetSpec("www", "AAAA", 300, ("2001:db8::1",)),
    RecordSetSpec("c1", "CNAME", 60, ("c2",)),
    RecordSetSpec("c2", "CNAME", 60, ("www.example.com.",)),
    RecordSetSpec("dangling", "CNAME", 60, ("gone",)),
    RecordSetSpec("outside", "CNAME", 60, ("www.example.org.",)),
    RecordSetSpec("loop1", "CNAME", 60, ("loop2",)),
    RecordSetSpec("loop2", "CNAME", 60, ("loop1",)),
    RecordSetSpec("deep.a.b", "A", 30, ("192.0.2.9",)),
    RecordSetSpec("mail", "MX", 300, ("10 mx1",)),
    RecordSetSpec("mx1", "A", 300, ("192.0.2.25",)),
    RecordSetSpec("big", "TXT", 60, tuple(f'"{"x" * 200}-{i}"' for i in range(12))),
]


@pytest.fixture
def settings() -> ZoneSettings:
    # minimum (30) below the SOA TTL (3600): the negative TTL must be the smaller one.
    return ZoneSettings.for_origin("example.com.", minimum=30)


@pytest.fixture
def zone(settings: ZoneSettings) -> ZoneData:
    served = advance(None, ZoneData.build(settings, RECORDS), NOW)
    assert served is not None
    return served


@pytest.fixture
def zones(zone: ZoneData) -> ZoneSet:
    return ZoneSet([zone])


Ask = Callable[..., dns.message.Message]


@pytest.fixture
def ask(zones: ZoneSet) -> Ask:
    """ask("www.example.com.", "A", use_edns=0, transport="tcp") -> the parsed response."""

    def ask_(qname: str, qtype: str = "A", *, transport: str = "udp", max_udp: int = 1232, **kw: object):
        query = dns.message.make_query(dns.name.from_text(qname), qtype, **kw)  # type: ignore[arg-type]
        wire = answer(query.to_wire(), zones, transport=transport, max_udp=max_udp)  # type: ignore[arg-type]
        assert wire is not None
        response = dns.message.from_wire(wire)
        assert response.id == query.id
        return response

    return ask_
