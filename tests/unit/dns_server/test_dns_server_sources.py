"""Zone sources, the records file format, TSIG key parsing, NOTIFY targets, CLI parsing."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import click
import dns.name
import dns.rdatatype
import pytest

from kfed.cli.dns_server import parse_listen
from kfed.dns.server import (
    FileZoneSource,
    InMemoryZoneSource,
    NotifyTarget,
    RecordFileError,
    RecordSetSpec,
    SnapshotBuilder,
    TSIGKeyError,
    ZoneSettings,
    load_keys,
    parse_records_file,
    parse_tsig_key,
)
from kfed.dns.server.tsig import key_file_text

SETTINGS = ZoneSettings.for_origin("example.com.")
SECRET = base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


def test_records_file_flat_and_grouped_forms() -> None:
    origin, fields, records = parse_records_file(
        """
zone: example.com.
ns: [ns1.example.com., ns2.example.net.]
hostmaster: dns.example.com.
soa: {ttl: 600, minimum: 30}
records:
  - {name: www, type: A, ttl: 60, data: [192.0.2.1, 192.0.2.2]}
  - name: api
    records:
      - {type: AAAA, ttl: 30, data: ["2001:db8::1"]}
      - {type: TXT, data: '"hello world"'}
"""
    )
    assert origin == dns.name.from_text("example.com.")
    assert fields == {
        "ns_names": ["ns1.example.com.", "ns2.example.net."],
        "hostmaster": "dns.example.com.",
        "minimum": 30,
        "soa_ttl": 600,
    }
    assert records == [
        RecordSetSpec("www", "A", 60, ("192.0.2.1", "192.0.2.2")),
        RecordSetSpec("api", "AAAA", 30, ("2001:db8::1",)),
        RecordSetSpec("api", "TXT", 300, ('"hello world"',)),
    ]


def test_records_file_bare_list_needs_an_origin() -> None:
    text = "- {name: www, type: A, ttl: 60, data: [192.0.2.1]}\n"
    with pytest.raises(RecordFileError, match="no zone"):
        parse_records_file(text)
    origin, _, records = parse_records_file(text, origin=dns.name.from_text("example.org."))
    assert origin.to_text() == "example.org." and len(records) == 1


@pytest.mark.parametrize(
    "text", ["zone: a.\nrecords: [{type: A}]", "zone: a.\nrecords: [{name: x, type: A}]", "[: not yaml", "42"]
)
def test_records_file_errors(text: str) -> None:
    with pytest.raises(RecordFileError):
        parse_records_file(text)


def test_builder_replace_reparses_only_changed_record_sets() -> None:
    records = [RecordSetSpec(f"h{i}", "A", 60, (f"192.0.2.{i}",)) for i in range(30)]
    builder = SnapshotBuilder(SETTINGS, records)
    first = builder.current
    # the same set, in another order and with names spelled differently: nothing changes
    same = builder.replace(
        [RecordSetSpec(f"H{i}.example.com.", "a", 60, (f"192.0.2.{i}",)) for i in reversed(range(30))]
    )
    assert same is first
    records[3] = RecordSetSpec("h3", "A", 60, ("198.51.100.3",))
    second = builder.replace(records[:-1])  # h3 changed, h29 gone
    assert second.base_id == first.content_id
    assert second.changed is not None and len(second.changed) == 2
    assert "h29.example.com." not in second
    a = second.rrset(dns.name.from_text("h3.example.com."), dns.rdatatype.A)
    assert a is not None and a[0].address == "198.51.100.3"


def test_builder_apply_upserts_and_deletes() -> None:
    builder = SnapshotBuilder(SETTINGS, [RecordSetSpec("a", "A", 60, ("192.0.2.1",))])
    zone = builder.apply([RecordSetSpec("b", "TXT", 60, ('"x"',))], [("a.example.com.", "a")])
    assert "a.example.com." not in zone and "b.example.com." in zone
    # the builder remembers: replacing with the current content is a no-op
    assert builder.replace([RecordSetSpec("b", "TXT", 60, ('"x"',))]) is zone


def test_builder_replace_name_swaps_every_type_at_a_name() -> None:
    builder = SnapshotBuilder(
        SETTINGS,
        [
            RecordSetSpec("svc", "A", 60, ("192.0.2.1",)),
            RecordSetSpec("svc", "TXT", 60, ('"owner=kfed"',)),
            RecordSetSpec("other", "A", 60, ("192.0.2.2",)),
        ],
    )
    zone = builder.replace_name("svc.example.com.", [RecordSetSpec("svc", "CNAME", 60, ("other",))])
    svc = dns.name.from_text("svc.example.com.")
    assert zone.rrset(svc, dns.rdatatype.CNAME) is not None
    assert zone.rrset(svc, dns.rdatatype.A) is None and zone.rrset(svc, dns.rdatatype.TXT) is None
    gone = builder.replace_name("svc", [])
    assert "svc.example.com." not in gone and "other.example.com." in gone
    assert builder.replace_name("svc", []) is gone  # nothing left to delete
    with pytest.raises(ValueError):
        builder.replace_name("svc", [RecordSetSpec("elsewhere", "A", 60, ("192.0.2.3",))])


async def _next(iterator, timeout: float = 5.0):
    return await asyncio.wait_for(anext(iterator), timeout)


async def test_in_memory_source_publishes_the_latest_snapshot() -> None:
    source = InMemoryZoneSource(SETTINGS, [RecordSetSpec("a", "A", 60, ("192.0.2.1",))])
    updates = source.snapshots()
    assert await _next(updates) is source.current
    source.apply([RecordSetSpec("b", "A", 60, ("192.0.2.2",))])
    latest = source.apply([RecordSetSpec("c", "A", 60, ("192.0.2.3",))])
    assert await _next(updates) is latest  # a slow consumer skips to the newest
    nothing_new = asyncio.ensure_future(_next(updates, timeout=0.2))
    with pytest.raises(TimeoutError):
        await nothing_new


async def test_file_source_follows_the_file(tmp_path: Path) -> None:
    path = tmp_path / "records.yaml"
    path.write_text("zone: example.com.\nrecords:\n  - {name: www, type: A, ttl: 60, data: [192.0.2.1]}\n")
    source = FileZoneSource(path, poll_interval=0.02)
    updates = source.snapshots()
    first = await _next(updates)
    assert "www.example.com." in first
    path.write_text("zone: example.com.\nrecords:\n  - {name: api, type: A, ttl: 60, data: [192.0.2.9]}\n")
    second = await _next(updates)
    assert "api.example.com." in second and "www.example.com." not in second
    assert second.base_id == first.content_id  # derived, not rebuilt
    path.write_text("zone: example.com.\nrecords: [{name: broken}]\n")  # invalid: keep serving
    path2 = tmp_path / "ok.yaml"
    path2.write_text("zone: example.com.\nrecords:\n  - {name: fixed, type: A, ttl: 60, data: [192.0.2.7]}\n")
    path2.replace(path)
    third = await _next(updates)
    assert "fixed.example.com." in third


async def test_file_source_with_origin_override_and_bad_first_file(tmp_path: Path) -> None:
    path = tmp_path / "records.yaml"
    path.write_text("records: [{name: broken}]\n")
    with pytest.raises(RecordFileError):
        await _next(FileZoneSource(path, origin="example.com.").snapshots())


def test_tsig_key_forms(tmp_path: Path) -> None:
    key = parse_tsig_key(f"xfr-key:hmac-sha256:{SECRET}")
    assert key.name == dns.name.from_text("xfr-key.") and key.algorithm == dns.name.from_text("hmac-sha256.")
    key_file = tmp_path / "k.key"
    key_file.write_text(key_file_text(key) + key_file_text(parse_tsig_key(f"other:hmac-sha512:{SECRET}")))
    ring = load_keys([str(key_file)])
    assert set(ring) == {dns.name.from_text("xfr-key."), dns.name.from_text("other.")}
    assert ring[dns.name.from_text("xfr-key.")].secret == key.secret
    for bad in ("xfr:hmac-sha256", f"xfr:hmac-nope:{SECRET}", "xfr:hmac-sha256:***", ":hmac-sha256:AAAA"):
        with pytest.raises(TSIGKeyError):
            parse_tsig_key(bad)


def test_notify_target_and_listen_parsing() -> None:
    assert NotifyTarget.parse("127.0.0.1:5354") == NotifyTarget("127.0.0.1", 5354)
    assert NotifyTarget.parse("ns2.example.net") == NotifyTarget("ns2.example.net", 53)
    assert NotifyTarget.parse("[::1]:5300") == NotifyTarget("::1", 5300)
    assert str(NotifyTarget("::1", 5300)) == "[::1]:5300"
    with pytest.raises(ValueError):
        NotifyTarget.parse("host:notaport")
    assert parse_listen("127.0.0.1:5353") == ("127.0.0.1", 5353)
    assert parse_listen(":0") == ("127.0.0.1", 0)
    assert parse_listen("[::1]:53") == ("::1", 53)
    with pytest.raises(click.BadParameter):
        parse_listen("127.0.0.1")
