"""The pure core: query bytes in, response bytes out (answer.py, lookup.py)."""

from __future__ import annotations

import struct
from collections.abc import Callable

import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kfed.dns.server import RecordSetSpec, ZoneData, ZoneSet, advance, answer
from kfed.dns.server.answer import cache_key

NOW = 1_700_000_000.0
Ask = Callable[..., dns.message.Message]


def _names(section: list[dns.rrset.RRset]) -> list[tuple[str, str]]:
    return [(r.name.to_text().lower(), dns.rdatatype.to_text(r.rdtype)) for r in section]


def test_apex_soa_and_ns(ask: Ask, zone: ZoneData) -> None:
    soa = ask("example.com.", "SOA")
    assert soa.rcode() == dns.rcode.NOERROR and soa.flags & dns.flags.AA
    assert soa.answer[0][0].serial == zone.serial == int(NOW)
    ns = ask("example.com.", "NS")
    assert [r.target.to_text() for r in ns.answer[0]] == ["ns1.example.com."]
    # the in-zone name server's address rides along in the additional section
    assert _names(ns.additional) == [("ns1.example.com.", "A")]


def test_a_record_is_authoritative_and_not_recursive(ask: Ask) -> None:
    r = ask("www.example.com.", "A")
    assert r.rcode() == dns.rcode.NOERROR
    assert r.flags & dns.flags.AA and r.flags & dns.flags.QR
    assert not r.flags & dns.flags.RA
    assert r.flags & dns.flags.RD  # copied from the query
    assert sorted(rd.address for rd in r.answer[0]) == ["192.0.2.1", "192.0.2.2"]
    assert r.answer[0].ttl == 300


def test_cname_chain_is_followed_inside_the_zone(ask: Ask) -> None:
    r = ask("c1.example.com.", "A")
    assert _names(r.answer) == [
        ("c1.example.com.", "CNAME"),
        ("c2.example.com.", "CNAME"),
        ("www.example.com.", "A"),
    ]
    assert r.rcode() == dns.rcode.NOERROR and not r.authority


def test_cname_query_returns_only_the_cname(ask: Ask) -> None:
    r = ask("c1.example.com.", "CNAME")
    assert _names(r.answer) == [("c1.example.com.", "CNAME")]


def test_cname_chain_to_missing_type_is_nodata_and_to_missing_name_nxdomain(ask: Ask) -> None:
    nodata = ask("c1.example.com.", "TXT")
    assert nodata.rcode() == dns.rcode.NOERROR
    assert _names(nodata.answer) == [("c1.example.com.", "CNAME"), ("c2.example.com.", "CNAME")]
    assert _names(nodata.authority) == [("example.com.", "SOA")]
    nx = ask("dangling.example.com.", "A")
    assert nx.rcode() == dns.rcode.NXDOMAIN  # RFC 6604: the rcode of the last name in the chain
    assert _names(nx.answer) == [("dangling.example.com.", "CNAME")]
    assert nx.flags & dns.flags.AA


def test_cname_leaving_the_zone_is_not_followed(ask: Ask) -> None:
    r = ask("outside.example.com.", "A")
    assert r.rcode() == dns.rcode.NOERROR
    assert _names(r.answer) == [("outside.example.com.", "CNAME")]
    assert not r.authority


def test_cname_loop_terminates(ask: Ask) -> None:
    r = ask("loop1.example.com.", "A")
    assert r.rcode() == dns.rcode.NOERROR
    assert _names(r.answer) == [("loop1.example.com.", "CNAME"), ("loop2.example.com.", "CNAME")]


def test_nxdomain_vs_nodata_with_soa_and_negative_ttl(ask: Ask) -> None:
    nx = ask("nope.example.com.", "A")
    assert nx.rcode() == dns.rcode.NXDOMAIN and nx.flags & dns.flags.AA and not nx.answer
    assert _names(nx.authority) == [("example.com.", "SOA")]
    assert nx.authority[0].ttl == 30  # min(SOA TTL 3600, SOA minimum 30)
    nodata = ask("www.example.com.", "TXT")
    assert nodata.rcode() == dns.rcode.NOERROR and not nodata.answer
    assert _names(nodata.authority) == [("example.com.", "SOA")]
    assert nodata.authority[0].ttl == 30


def test_empty_non_terminal_is_nodata_not_nxdomain(ask: Ask) -> None:
    for name in ("a.b.example.com.", "b.example.com."):
        r = ask(name, "A")
        assert r.rcode() == dns.rcode.NOERROR, name
        assert not r.answer and _names(r.authority) == [("example.com.", "SOA")]
    assert ask("c.b.example.com.", "A").rcode() == dns.rcode.NXDOMAIN


def test_names_outside_our_zones_are_refused(ask: Ask) -> None:
    for name in ("example.org.", "com.", ".", "www.example.co."):
        r = ask(name, "A")
        assert r.rcode() == dns.rcode.REFUSED, name
        assert not r.flags & dns.flags.AA and not r.answer and not r.authority


def test_any_gets_one_rrset(ask: Ask) -> None:
    www = ask("www.example.com.", "ANY")
    assert len(www.answer) == 1 and www.answer[0].name == dns.name.from_text("www.example.com.")
    apex = ask("example.com.", "ANY")
    assert _names(apex.answer) == [("example.com.", "SOA")]
    assert ask("nope.example.com.", "ANY").rcode() == dns.rcode.NXDOMAIN


def test_mx_target_address_in_additional(ask: Ask) -> None:
    r = ask("mail.example.com.", "MX")
    assert _names(r.additional) == [("mx1.example.com.", "A")]


def test_names_are_case_insensitive_and_question_case_is_preserved(ask: Ask) -> None:
    for qname in ("WwW.ExAmPlE.CoM.", "WWW.EXAMPLE.COM.", "www.example.com.", "wWw.eXaMpLe.cOm."):
        # twice: once rendered by the slow path, once patched from the cache
        for _ in range(2):
            r = ask(qname, "A")
            assert r.question[0].name.to_text() == qname  # byte-exact, 0x20 case kept
            assert r.rcode() == dns.rcode.NOERROR and len(r.answer[0]) == 2


def test_edns_is_echoed_with_our_size_and_do_bit(ask: Ask) -> None:
    r = ask("www.example.com.", "A", use_edns=0, payload=4096, want_dnssec=True)
    assert r.edns == 0 and r.payload == 1232
    assert r.ednsflags & dns.flags.DO
    plain = ask("www.example.com.", "A", use_edns=0)
    assert plain.edns == 0 and not plain.ednsflags & dns.flags.DO
    assert ask("www.example.com.", "A").edns == -1  # no OPT without EDNS in the query


def test_edns_version_above_zero_is_badvers(ask: Ask) -> None:
    r = ask("www.example.com.", "A", use_edns=1)
    assert r.rcode() == dns.rcode.BADVERS
    assert r.edns == 0 and not r.answer


def test_truncation_without_edns_and_with_small_edns(ask: Ask) -> None:
    plain = ask("big.example.com.", "TXT")  # 12 x 200 bytes > 512
    assert plain.flags & dns.flags.TC and not plain.answer
    small = ask("big.example.com.", "TXT", use_edns=0, payload=1232)
    assert small.flags & dns.flags.TC and not small.answer
    tcp = ask("big.example.com.", "TXT", transport="tcp")
    assert not tcp.flags & dns.flags.TC and len(tcp.answer[0]) == 12
    large_udp = ask("big.example.com.", "TXT", use_edns=0, payload=4096, max_udp=4096)
    assert not large_udp.flags & dns.flags.TC and len(large_udp.answer[0]) == 12


def test_small_answer_fits_512(ask: Ask) -> None:
    assert not ask("www.example.com.", "A").flags & dns.flags.TC


def _query_wire(qname: str = "www.example.com.", qtype: str = "A", **kw: object) -> bytes:
    return dns.message.make_query(qname, qtype, **kw).to_wire()  # type: ignore[arg-type]


def _rcode(wire: bytes | None) -> int:
    assert wire is not None
    return struct.unpack("!H", wire[2:4])[0] & 0xF


def test_malformed_packets(zones: ZoneSet) -> None:
    good = _query_wire()
    assert answer(good[:11], zones) is None  # shorter than a header: dropped
    assert answer(b"", zones) is None
    truncated = answer(good[:-3], zones)
    assert _rcode(truncated) == dns.rcode.FORMERR
    assert truncated is not None and truncated[:2] == good[:2]  # the ID is kept
    no_question = good[:4] + b"\x00\x00" + good[6:12]
    assert _rcode(answer(no_question, zones)) == dns.rcode.FORMERR
    two_questions = good[:4] + b"\x00\x02" + good[6:] + good[12:]
    assert _rcode(answer(two_questions, zones)) == dns.rcode.FORMERR


def test_responses_are_never_answered(zones: ZoneSet) -> None:
    wire = bytearray(_query_wire())
    wire[2] |= 0x80
    assert answer(bytes(wire), zones) is None


def test_unknown_opcodes_get_notimp_and_update_refused(zones: ZoneSet) -> None:
    for opcode in (1, 2, 3, 6, 15):
        message = dns.message.make_query("www.example.com.", "A")
        message.set_opcode(opcode)
        wire = answer(message.to_wire(), zones)
        assert _rcode(wire) == dns.rcode.NOTIMP
        assert wire is not None and (wire[2] >> 3) & 0xF == opcode
    update = dns.message.make_query("example.com.", "SOA")
    update.set_opcode(dns.opcode.UPDATE)
    assert _rcode(answer(update.to_wire(), zones)) == dns.rcode.REFUSED


def test_notify_for_our_zone_is_acknowledged(zones: ZoneSet) -> None:
    notify = dns.message.make_query("example.com.", "SOA")
    notify.set_opcode(dns.opcode.NOTIFY)
    response = dns.message.from_wire(answer(notify.to_wire(), zones) or b"")
    assert response.opcode() == dns.opcode.NOTIFY and response.rcode() == dns.rcode.NOERROR
    other = dns.message.make_query("example.org.", "SOA")
    other.set_opcode(dns.opcode.NOTIFY)
    assert _rcode(answer(other.to_wire(), zones)) == dns.rcode.NOTAUTH


def test_classes_and_meta_types_as_bind_answers_them(zones: ZoneSet) -> None:
    assert _rcode(answer(_query_wire(rdclass="CH"), zones)) == dns.rcode.REFUSED
    assert _rcode(answer(_query_wire(rdclass="HS"), zones)) == dns.rcode.REFUSED
    assert _rcode(answer(_query_wire(rdclass="ANY"), zones)) == dns.rcode.FORMERR
    assert _rcode(answer(_query_wire(qtype="MAILB"), zones)) == dns.rcode.NOTIMP
    assert _rcode(answer(_query_wire(qtype="OPT"), zones)) == dns.rcode.FORMERR
    assert _rcode(answer(_query_wire(qtype="TSIG"), zones)) == dns.rcode.FORMERR


def test_trailing_bytes_are_ignored_like_bind(zones: ZoneSet) -> None:
    assert _rcode(answer(_query_wire() + b"junk", zones)) == dns.rcode.NOERROR


def test_cache_hit_patches_id_and_question(zones: ZoneSet) -> None:
    first = dns.message.make_query("www.example.com.", "A", use_edns=0)
    first.id = 1
    reference = answer(first.to_wire(), zones)
    assert reference is not None
    key = cache_key(first.to_wire())
    assert key is not None and key[0] in zones.cache(1232)
    second = dns.message.make_query("WWW.example.COM.", "A", use_edns=0)
    second.id = 0xBEEF
    hit = answer(second.to_wire(), zones)
    assert hit is not None
    assert hit[:2] == b"\xbe\xef"
    assert hit[2:] != reference[2:]  # the question's case differs
    assert hit.lower()[2:] == reference.lower()[2:]


def test_cache_does_not_survive_a_zone_change(zone: ZoneData) -> None:
    zones = ZoneSet([zone])
    query = _query_wire()
    before = dns.message.from_wire(answer(query, zones) or b"")
    changed = advance(zone, zone.with_changes([RecordSetSpec("www", "A", 300, ("198.51.100.7",))]), NOW)
    assert changed is not None
    after = dns.message.from_wire(answer(query, zones.replace(changed)) or b"")
    assert [rd.address for rd in after.answer[0]] == ["198.51.100.7"]
    assert len(before.answer[0]) == 2


def test_tsig_signed_queries_are_not_cached(zones: ZoneSet) -> None:
    import dns.tsigkeyring

    keyring = dns.tsigkeyring.from_text({"k.": ("hmac-sha256", "c2VjcmV0c2VjcmV0c2VjcmV0")})
    query = dns.message.make_query("www.example.com.", "A")
    query.use_tsig(keyring, keyname="k.")
    for _ in range(2):
        wire = answer(query.to_wire(), zones, tsig_keyring=keyring)
        response = dns.message.from_wire(wire or b"", keyring=keyring, request_mac=query.mac)
        assert response.had_tsig and response.rcode() == dns.rcode.NOERROR
    assert not zones.cache(1232)


_label = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", min_size=1, max_size=12
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    labels=st.lists(
        st.sampled_from(["www", "WWW", "c1", "nope", "Deep.a.B", "big", "mail"]), min_size=1, max_size=1
    ),
    extra=st.lists(_label, max_size=2),
    qtype=st.sampled_from(["A", "AAAA", "TXT", "CNAME", "MX", "ANY", "SOA"]),
    edns=st.sampled_from([-1, 0]),
    payload=st.integers(min_value=0, max_value=65535),
    do=st.booleans(),
    rd=st.booleans(),
    qid=st.integers(min_value=0, max_value=65535),
)
def test_cached_answers_equal_freshly_rendered_ones(
    zone: ZoneData,
    labels: list[str],
    extra: list[str],
    qtype: str,
    edns: int,
    payload: int,
    do: bool,
    rd: bool,
    qid: int,
) -> None:
    qname = ".".join([*extra, *labels, "example.com."])
    query = dns.message.make_query(qname, qtype, use_edns=edns, payload=payload, want_dnssec=do and edns == 0)
    query.id = qid
    if not rd:
        query.flags &= ~dns.flags.RD
    wire = query.to_wire()
    twin = dns.message.make_query(
        qname.lower(), qtype, use_edns=edns, payload=payload, want_dnssec=do and edns == 0
    )
    twin.id = qid ^ 0x5A5A
    twin.flags = query.flags
    warm = ZoneSet([zone])
    answer(twin.to_wire(), warm)  # fills the cache from a differently-cased twin with another ID
    cold = answer(wire, ZoneSet([zone]))
    hot = answer(wire, warm)
    key = cache_key(wire)
    assert key is not None and key[0] in warm.cache(1232)  # so `hot` came from the cache
    assert hot == cold
