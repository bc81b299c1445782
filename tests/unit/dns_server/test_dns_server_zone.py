"""Zone snapshots, incremental changes, diffs, serials (zone.py, journal.py, serial.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import dns.name
import dns.rdatatype
import pytest

from kfed.dns.server import RecordSetSpec, ZoneData, ZoneDataError, ZoneSettings, advance
from kfed.dns.server.serial import next_serial, serial_add, serial_ge, serial_gt
from kfed.dns.server.zone import diff_content

NOW = 1_700_000_000.0
SETTINGS = ZoneSettings.for_origin("Example.COM.")


def _name(text: str) -> dns.name.Name:
    return dns.name.from_text(text)


def test_settings_defaults_and_soa() -> None:
    assert SETTINGS.origin == _name("example.com.") and SETTINGS.origin.to_text() == "example.com."
    soa = SETTINGS.soa_rrset(42)[0]
    assert (soa.mname.to_text(), soa.rname.to_text(), soa.serial) == (
        "ns1.example.com.",
        "hostmaster.example.com.",
        42,
    )
    custom = ZoneSettings.for_origin(
        "example.com.", ns_names=["a.ns.net.", "b"], hostmaster="dns.example.org."
    )
    assert [n.to_text() for n in custom.ns_names] == ["a.ns.net.", "b.example.com."]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (RecordSetSpec("www.example.org.", "A", 60, ("192.0.2.1",)), "not in zone"),
        (RecordSetSpec("@", "SOA", 60, ("a. b. 1 2 3 4 5",)), "manages the SOA"),
        (RecordSetSpec("www", "A", 60, ("not-an-address",)), "www.example.com. A"),
        (RecordSetSpec("www", "A", -1, ("192.0.2.1",)), "TTL"),
        (RecordSetSpec("www", "BOGUS", 60, ("x",)), "BOGUS"),
        (RecordSetSpec("www", "CNAME", 60, ("a", "b")), "more than one target"),
        (RecordSetSpec("www", "ANY", 60, ("x",)), "not a data type"),
        (RecordSetSpec("a..b", "A", 60, ("192.0.2.1",)), "a..b"),
    ],
)
def test_bad_record_sets_are_refused(spec: RecordSetSpec, message: str) -> None:
    with pytest.raises(ZoneDataError, match=message):
        ZoneData.build(SETTINGS, [spec])


def test_cname_cannot_coexist_with_other_data() -> None:
    with pytest.raises(ZoneDataError, match="CNAME"):
        ZoneData.build(
            SETTINGS,
            [RecordSetSpec("www", "A", 60, ("192.0.2.1",)), RecordSetSpec("www", "CNAME", 60, ("x",))],
        )
    zone = ZoneData.build(SETTINGS, [RecordSetSpec("www", "A", 60, ("192.0.2.1",))])
    with pytest.raises(ZoneDataError):
        zone.with_changes([RecordSetSpec("www", "CNAME", 60, ("x",))])
    # deletes go first, so one batch can swap the A for a CNAME
    swapped = zone.with_changes([RecordSetSpec("www", "CNAME", 60, ("x",))], [("www", "A")])
    assert swapped.rrset(_name("www.example.com."), dns.rdatatype.CNAME) is not None
    assert swapped.rrset(_name("www.example.com."), dns.rdatatype.A) is None


def test_names_are_case_insensitive_and_relative_to_the_origin() -> None:
    zone = ZoneData.build(
        SETTINGS,
        [
            RecordSetSpec("WWW", "A", 60, ("192.0.2.1",)),
            RecordSetSpec("Api.Example.Com.", "CNAME", 60, ("WWW",)),
        ],
    )
    assert "www.example.com." in zone and "WWW.EXAMPLE.COM." in zone
    cname = zone.rrset(_name("API.example.com."), dns.rdatatype.CNAME)
    assert cname is not None and cname[0].target.to_text() == "www.example.com."
    assert zone.rrset(_name("www.example.com."), dns.rdatatype.A) is not None


def test_empty_non_terminals_exist_until_their_last_descendant_goes() -> None:
    zone = ZoneData.build(
        SETTINGS,
        [RecordSetSpec("a.b.c", "A", 60, ("192.0.2.1",)), RecordSetSpec("x.b.c", "A", 60, ("192.0.2.2",))],
    )
    assert zone.exists(_name("b.c.example.com.")) and zone.exists(_name("c.example.com."))
    assert not zone.exists(_name("d.example.com."))
    one_left = zone.with_changes(deletes=[("a.b.c", "A")])
    assert one_left.exists(_name("c.example.com.")) and not one_left.exists(_name("a.b.c.example.com."))
    none_left = one_left.with_changes(deletes=[("x.b.c", "A")])
    assert not none_left.exists(_name("b.c.example.com.")) and not none_left.exists(_name("c.example.com."))
    assert none_left.exists(_name("example.com."))


def test_apex_ns_can_be_replaced_and_comes_back_when_deleted() -> None:
    zone = ZoneData.build(SETTINGS, [RecordSetSpec("@", "NS", 3600, ("a.ns.net.", "b.ns.net."))])
    ns = zone.rrset(_name("example.com."), dns.rdatatype.NS)
    assert ns is not None and sorted(r.target.to_text() for r in ns) == ["a.ns.net.", "b.ns.net."]
    restored = zone.with_changes(deletes=[("@", "NS")]).rrset(_name("example.com."), dns.rdatatype.NS)
    assert restored is not None and [r.target.to_text() for r in restored] == ["ns1.example.com."]


def test_with_changes_shares_what_it_did_not_touch() -> None:
    records = [RecordSetSpec(f"h{i}", "A", 60, (f"192.0.2.{i}",)) for i in range(50)]
    zone = ZoneData.build(SETTINGS, records)
    changed = zone.with_changes([RecordSetSpec("h1", "A", 60, ("198.51.100.1",))], [("h2", "A")])
    assert changed.base_id == zone.content_id
    assert changed.changed is not None and len(changed.changed) == 2
    shared = [k for k, node in zone.nodes.items() if changed.nodes.get(k) is node]
    assert len(shared) == len(zone.nodes) - 2  # everything but h1 and h2 is the same object
    assert "h2.example.com." not in changed and "h2.example.com." in zone  # the original is untouched


def test_incremental_diff_equals_the_full_diff() -> None:
    records = [RecordSetSpec(f"h{i}", "A", 60, (f"192.0.2.{i}",)) for i in range(20)]
    zone = ZoneData.build(SETTINGS, records)
    upserts = [
        RecordSetSpec("h1", "A", 60, ("192.0.2.1", "198.51.100.1")),  # one RR added
        RecordSetSpec("h3", "A", 120, ("192.0.2.3",)),  # TTL change: delete and re-add
        RecordSetSpec("new", "TXT", 60, ('"x"',)),
    ]
    derived = zone.with_changes(upserts, [("h2", "A")])
    rebuilt = ZoneData.build(
        SETTINGS, [r for r in records if r.name not in ("h1", "h2", "h3")] + upserts
    )  # same content, no lineage: the full walk
    assert rebuilt.base_id is None

    def as_text(diff: tuple) -> set[str]:
        return {line for rrset in diff for line in rrset.to_text().splitlines()}

    inc, full = diff_content(zone, derived), diff_content(zone, rebuilt)
    assert (
        as_text(inc[0])
        == as_text(full[0])
        == {
            "h2.example.com. 60 IN A 192.0.2.2",
            "h3.example.com. 60 IN A 192.0.2.3",
        }
    )
    assert (
        as_text(inc[1])
        == as_text(full[1])
        == {
            "h1.example.com. 60 IN A 198.51.100.1",
            "h3.example.com. 120 IN A 192.0.2.3",
            'new.example.com. 60 IN TXT "x"',
        }
    )


def test_advance_grows_the_serial_and_skips_no_op_changes() -> None:
    first = advance(None, ZoneData.build(SETTINGS, [RecordSetSpec("a", "A", 1, ("192.0.2.1",))]), NOW)
    assert first is not None and first.serial == int(NOW)
    same = first.with_changes([RecordSetSpec("a", "A", 1, ("192.0.2.1",))])
    assert advance(first, same, NOW + 5) is None  # same content: no new serial
    # a source proposing an older serial (a revision from another counter) cannot go back
    older = first.with_changes([RecordSetSpec("a", "A", 1, ("192.0.2.2",))]).with_serial(7)
    second = advance(first, older, NOW)
    assert second is not None and second.serial == first.serial + 1
    proposed = second.with_changes([RecordSetSpec("a", "A", 1, ("192.0.2.3",))]).with_serial(
        second.serial + 100
    )
    third = advance(second, proposed, NOW)
    assert third is not None and third.serial == second.serial + 100
    assert [(d.from_serial, d.to_serial) for d in third.journal] == [
        (first.serial, second.serial),
        (second.serial, third.serial),
    ]


def test_serial_arithmetic_rfc1982() -> None:
    assert serial_gt(2, 1) and not serial_gt(1, 2) and not serial_gt(5, 5)
    assert serial_gt(0, 0xFFFFFFFF)  # wraps
    assert serial_gt(100, 2**32 - 100)
    assert serial_ge(5, 5)
    assert serial_add(0xFFFFFFFF) == 1  # skips 0
    assert next_serial(None, None, NOW) == int(NOW)
    assert next_serial(int(NOW) + 10, None, NOW) == int(NOW) + 11  # never backwards with the clock
    assert next_serial(0xFFFFFFFF, None, 5) == 5  # 5 follows 0xFFFFFFFF in serial arithmetic


_BIG_ZONE_PROBE = textwrap.dedent(
    """
    import json, resource, time
    from kfed.dns.server import RecordSetSpec, SnapshotBuilder, ZoneSettings, advance
    n = int(__import__("sys").argv[1])
    records = [RecordSetSpec(f"svc{i}.ns{i % 50}.fed.svc", "A", 180, (f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}",))
               for i in range(n)]
    builder = SnapshotBuilder(ZoneSettings.for_origin("example.com."), records)
    zone = advance(None, builder.current, time.time())
    start = time.perf_counter()
    changed = advance(zone, builder.apply([RecordSetSpec("svc5.ns5.fed.svc", "A", 180, ("192.0.2.1",))]), time.time())
    one_change = time.perf_counter() - start
    print(json.dumps({"rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "one_change_s": one_change, "records": changed.record_count,
                      "diff": len(changed.journal[-1].added) + len(changed.journal[-1].removed)}))
    """
)


@pytest.mark.slow
def test_a_zone_of_100k_records_fits_in_memory_and_changes_cheaply() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _BIG_ZONE_PROBE, "100000"],
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout)
    assert probe["records"] == 100_002  # + SOA + NS
    assert probe["rss_mib"] < 1024
    assert probe["one_change_s"] < 0.5  # a dict copy, not a rebuild (a rebuild takes seconds)
    assert probe["diff"] == 2
