"""AXFR and IXFR as the pure core produces them: message sequences, TSIG, journal use."""

from __future__ import annotations

import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
import dns.tsig
import dns.tsigkeyring
import pytest

from kfed.dns.server import (
    JournalLimits,
    RecordSetSpec,
    ZoneData,
    ZoneSet,
    ZoneSettings,
    advance,
    answer,
    respond,
)

NOW = 1_700_000_000.0
KEYRING = dns.tsigkeyring.from_text({"xfr.": ("hmac-sha256", "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0")})
OTHER_SECRET = dns.tsigkeyring.from_text({"xfr.": ("hmac-sha256", "b3RoZXJvdGhlcm90aGVyb3RoZXI=")})
UNKNOWN_KEY = dns.tsigkeyring.from_text({"stranger.": ("hmac-sha256", "b3RoZXJvdGhlcm90aGVyb3RoZXI=")})


def _zone(n: int = 2000) -> ZoneData:
    settings = ZoneSettings.for_origin("example.com.")
    records = [RecordSetSpec(f"host{i}", "A", 300, (f"10.0.{i // 256}.{i % 256}",)) for i in range(n)]
    zone = advance(None, ZoneData.build(settings, records), NOW)
    assert zone is not None
    return zone


def _axfr_query(keyring: dict | None = None, keyname: str = "xfr.") -> dns.message.Message:
    query = dns.message.make_query("example.com.", "AXFR")
    if keyring is not None:
        query.use_tsig(keyring, keyname=keyname)
    return query


def _ixfr_query(serial: int, keyring: dict | None = KEYRING) -> dns.message.Message:
    query = dns.message.make_query("example.com.", "IXFR")
    query.authority = [
        dns.rrset.from_text(
            "example.com.", 0, "IN", "SOA", f"ns1.example.com. h.example.com. {serial} 1 1 1 1"
        )
    ]
    if keyring is not None:
        query.use_tsig(keyring, keyname="xfr.")
    return query


def _read_transfer(query: dns.message.Message, messages: list[bytes], keyring: dict | None = KEYRING):
    """Parse and TSIG-verify a transfer stream the way a client does; the RRs in order."""
    rrs: list[tuple[str, str, str]] = []
    ctx = None
    for wire in messages:
        message = dns.message.from_wire(
            wire, keyring=keyring, request_mac=query.mac or b"", xfr=True, tsig_ctx=ctx, multi=True
        )
        assert message.rcode() == dns.rcode.NOERROR
        if keyring is not None:
            assert message.had_tsig
        ctx = message.tsig_ctx
        for rrset in message.answer:
            for rdata in rrset:
                rrs.append((rrset.name.to_text(), dns.rdatatype.to_text(rrset.rdtype), rdata.to_text()))
    return rrs


def test_axfr_is_soa_records_soa_over_several_signed_messages() -> None:
    zone = _zone()
    query = _axfr_query(KEYRING)
    messages = list(respond(query.to_wire(), ZoneSet([zone]), tsig_keyring=KEYRING, transport="tcp"))
    assert len(messages) > 1  # 2000 records do not fit one 16 KiB message
    rrs = _read_transfer(query, messages)
    assert rrs[0][1] == "SOA" and rrs[-1][1] == "SOA" and rrs[0] == rrs[-1]
    assert len(rrs) == zone.record_count + 1
    assert ("host1999.example.com.", "A", "10.0.7.207") in rrs
    assert sum(1 for r in rrs if r[1] == "SOA") == 2


def test_axfr_needs_the_key_once_one_is_configured() -> None:
    zones = ZoneSet([_zone(10)])
    unsigned = dns.message.from_wire(
        answer(_axfr_query().to_wire(), zones, tsig_keyring=KEYRING, transport="tcp") or b""
    )
    assert unsigned.rcode() == dns.rcode.REFUSED and not unsigned.answer
    # without a keyring the transfer is open (loopback-only default)
    open_messages = list(respond(_axfr_query().to_wire(), zones, transport="tcp"))
    assert _read_transfer(_axfr_query(), open_messages, keyring=None)[0][1] == "SOA"


@pytest.mark.parametrize(
    ("keyring", "keyname", "error"),
    [(OTHER_SECRET, "xfr.", dns.rcode.BADSIG), (UNKNOWN_KEY, "stranger.", dns.rcode.BADKEY)],
)
def test_bad_signature_or_unknown_key_is_notauth_with_tsig_error(
    keyring: dict, keyname: str, error: int
) -> None:
    zones = ZoneSet([_zone(10)])
    query = _axfr_query(keyring, keyname)
    wire = answer(query.to_wire(), zones, tsig_keyring=KEYRING, transport="tcp")
    response = dns.message.from_wire(wire or b"", keyring=False)
    assert response.rcode() == dns.rcode.NOTAUTH
    assert response.tsig_error == error
    assert response.mac == b""  # unsigned: we must not sign with a key the client does not share
    # dnspython's own client sees the peer's error
    with pytest.raises(dns.tsig.PeerError):
        dns.message.from_wire(wire or b"", keyring=keyring, request_mac=query.mac)


def test_signed_queries_with_no_keyring_get_badkey() -> None:
    query = dns.message.make_query("host1.example.com.", "A")
    query.use_tsig(KEYRING, keyname="xfr.")
    response = dns.message.from_wire(answer(query.to_wire(), ZoneSet([_zone(10)])) or b"", keyring=False)
    assert response.rcode() == dns.rcode.NOTAUTH and response.tsig_error == dns.rcode.BADKEY


def test_axfr_over_udp_is_formerr_and_unknown_zone_notauth() -> None:
    zones = ZoneSet([_zone(10)])
    assert dns.message.from_wire(answer(_axfr_query().to_wire(), zones) or b"").rcode() == dns.rcode.FORMERR
    other = dns.message.make_query("example.org.", "AXFR")
    response = dns.message.from_wire(answer(other.to_wire(), zones, transport="tcp") or b"")
    assert response.rcode() == dns.rcode.NOTAUTH


def _changed(
    zone: ZoneData, now: float, upserts=(), deletes=(), limits: JournalLimits = JournalLimits()
) -> ZoneData:
    new = advance(zone, zone.with_changes(upserts, deletes), now, limits)
    assert new is not None
    return new


def test_ixfr_sends_the_journal_diffs() -> None:
    v1 = _zone(50)
    v2 = _changed(v1, NOW + 1, [RecordSetSpec("host1", "A", 300, ("192.0.2.1",))], [("host2", "A")])
    v3 = _changed(v2, NOW + 2, [RecordSetSpec("new", "TXT", 60, ('"hello"',))])
    assert (v1.serial, v2.serial, v3.serial) == (int(NOW), int(NOW) + 1, int(NOW) + 2)
    seen: list[str] = []
    query = _ixfr_query(v1.serial)
    messages = list(
        respond(
            query.to_wire(),
            ZoneSet([v3]),
            tsig_keyring=KEYRING,
            transport="tcp",
            on_transfer=lambda kind, z: seen.append(kind),
        )
    )
    assert seen == ["ixfr_incremental"]
    rrs = _read_transfer(query, messages)
    soa_serials = [int(r[2].split()[2]) for r in rrs if r[1] == "SOA"]
    # new SOA, (old SOA, deletions, new SOA, additions) per diff, new SOA
    assert soa_serials == [v3.serial, v1.serial, v2.serial, v2.serial, v3.serial, v3.serial]
    segments: list[set[tuple[str, str, str]]] = []
    for r in rrs:
        if r[1] == "SOA":
            segments.append(set())
        else:
            segments[-1].add(r)
    # after: new SOA | old SOA: deleted | v2 SOA: added | v2 SOA: deleted | v3 SOA: added | v3 SOA
    assert segments == [
        set(),
        {("host1.example.com.", "A", "10.0.0.1"), ("host2.example.com.", "A", "10.0.0.2")},
        {("host1.example.com.", "A", "192.0.2.1")},
        set(),
        {("new.example.com.", "TXT", '"hello"')},
        set(),
    ]


def test_ixfr_from_a_serial_outside_the_journal_is_a_full_transfer() -> None:
    limits = JournalLimits(max_diffs=1)
    v1 = _zone(20)
    v2 = _changed(v1, NOW + 1, [RecordSetSpec("a", "A", 1, ("192.0.2.1",))], limits=limits)
    v3 = _changed(v2, NOW + 2, [RecordSetSpec("b", "A", 1, ("192.0.2.2",))], limits=limits)
    assert [d.from_serial for d in v3.journal] == [v2.serial]
    seen: list[str] = []
    query = _ixfr_query(v1.serial)
    rrs = _read_transfer(
        query,
        list(
            respond(
                query.to_wire(),
                ZoneSet([v3]),
                tsig_keyring=KEYRING,
                transport="tcp",
                on_transfer=lambda k, z: seen.append(k),
            )
        ),
    )
    assert seen == ["ixfr_full"]
    assert len(rrs) == v3.record_count + 1 and rrs[0] == rrs[-1]


def test_ixfr_when_up_to_date_is_the_soa_alone() -> None:
    zone = _zone(5)
    query = _ixfr_query(zone.serial)
    rrs = _read_transfer(
        query, list(respond(query.to_wire(), ZoneSet([zone]), tsig_keyring=KEYRING, transport="tcp"))
    )
    assert [r[1] for r in rrs] == ["SOA"]


def test_ixfr_over_udp_is_the_current_soa_and_without_soa_formerr() -> None:
    v1 = _zone(5)
    v2 = _changed(v1, NOW + 1, [RecordSetSpec("x", "A", 1, ("192.0.2.1",))])
    query = _ixfr_query(v1.serial, keyring=None)
    response = dns.message.from_wire(answer(query.to_wire(), ZoneSet([v2])) or b"")
    assert [r.rdtype for r in response.answer] == [dns.rdatatype.SOA]
    assert response.answer[0][0].serial == v2.serial
    bare = dns.message.make_query("example.com.", "IXFR")
    assert dns.message.from_wire(answer(bare.to_wire(), ZoneSet([v2]), transport="tcp") or b"").rcode() == (
        dns.rcode.FORMERR
    )


def test_a_record_set_larger_than_a_message_is_split() -> None:
    settings = ZoneSettings.for_origin("example.com.")
    many = tuple(f"10.1.{i // 256}.{i % 256}" for i in range(3000))  # ~48 KiB of A records in one set
    zone = advance(None, ZoneData.build(settings, [RecordSetSpec("pool", "A", 60, many)]), NOW)
    assert zone is not None
    query = _axfr_query(KEYRING)
    messages = list(respond(query.to_wire(), ZoneSet([zone]), tsig_keyring=KEYRING, transport="tcp"))
    assert len(messages) >= 3 and all(len(m) <= 16 * 1024 for m in messages)
    rrs = _read_transfer(query, messages)
    assert sum(1 for r in rrs if r[0] == "pool.example.com.") == 3000


def test_journal_stays_within_its_limits() -> None:
    limits = JournalLimits(max_diffs=3, max_records=1000)
    zone = _zone(5)
    for i in range(10):
        zone = _changed(zone, NOW + 1 + i, [RecordSetSpec("x", "A", 1, (f"192.0.2.{i}",))], limits=limits)
    assert len(zone.journal) == 3
    assert zone.journal[-1].to_serial == zone.serial
    assert all(a.to_serial == b.from_serial for a, b in zip(zone.journal, zone.journal[1:], strict=False))
    assert "x.example.com." in zone


def test_a_query_signed_too_long_ago_gets_a_signed_badtime(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    real_time = time.time
    query = dns.message.make_query("example.com.", "SOA")
    query.use_tsig(KEYRING, keyname="xfr.", fudge=300)
    monkeypatch.setattr(time, "time", lambda: real_time() - 3600)  # the client's clock is an hour slow
    wire = query.to_wire()
    monkeypatch.setattr(time, "time", real_time)
    response_wire = answer(wire, ZoneSet([_zone(3)]), tsig_keyring=KEYRING)
    response = dns.message.from_wire(response_wire or b"", keyring=False)
    assert response.rcode() == dns.rcode.NOTAUTH and response.tsig_error == dns.rcode.BADTIME
    assert response.mac  # signed, so the client can trust the error
    with pytest.raises(dns.tsig.PeerBadTime):
        dns.message.from_wire(response_wire or b"", keyring=KEYRING, request_mac=query.mac)
