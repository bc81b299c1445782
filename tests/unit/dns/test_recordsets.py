"""Which DNSRecordSet object serves a name (NameHolders), the zone they make (RecordSetZone), and
SnapshotBuilder.replace_names, which turns changed names into one snapshot."""

from __future__ import annotations

from typing import Any

import dns.name
import pytest

from kfed.dns.recordsets import NameHolders, rank_of, spec_records
from kfed.dns.server.recordsetzone import RecordSetZone
from kfed.dns.server.sources import SnapshotBuilder
from kfed.dns.server.zone import RecordSetSpec, ZoneDataError, ZoneSettings

Obj = dict[str, Any]


def obj(key: str, *records: tuple[str, str, str], created: str = "2026-01-01T00:00:00Z") -> Obj:
    return {"metadata": {"name": key, "creationTimestamp": created},
            "spec": {"zone": "example.com.", "records": [{"name": n, "type": t, "ttl": 60, "data": [d]}
                                                         for n, t, d in records]}}


def test_name_holders_pick_the_oldest_then_the_first_by_name() -> None:
    holders = NameHolders()
    holders.hold("b", ("2026-01-01T00:00:00Z", "b"), ["www", "b-only"])
    holders.hold("a", ("2026-01-01T00:00:00Z", "a"), ["www"])
    holders.hold("old", ("2025-12-31T23:59:59Z", "old"), ["other"])
    assert holders.winner("www") == "a" and holders.winner("b-only") == "b" and holders.winner("none") is None
    assert sorted(holders.holders("www")) == ["a", "b"] and set(holders) == {"www", "b-only", "other"}
    holders.hold("old", ("2025-12-31T23:59:59Z", "old"), ["www"])
    assert holders.winner("www") == "old"
    holders.release("old", ["www", "other"])
    holders.release("a", ["www"])
    assert holders.winner("www") == "b" and holders.holders("www") == ("b",) and "other" not in set(holders)


def test_rank_and_records_of_an_object() -> None:
    o = obj("x", ("a.example.com.", "a", "192.0.2.1"))
    o["spec"]["records"] += [{"type": "A", "data": ["192.0.2.2"]}, "junk", {"name": "b.example.com.", "type": "TXT",
                                                                              "data": ['"t"']}]
    assert rank_of(o) == ("2026-01-01T00:00:00Z", "x")
    assert list(spec_records(o)) == [("a.example.com.", "A", 60, ["192.0.2.1"]), ("b.example.com.", "TXT", None, ['"t"'])]


def test_a_zone_of_objects_reports_only_the_names_that_changed() -> None:
    zone = RecordSetZone("Example.COM.")
    assert zone.put("svc", obj("svc", ("a.example.com.", "A", "192.0.2.1"), ("B.example.com.", "A", "192.0.2.2"))) == {
        "a.example.com.", "b.example.com."}
    assert zone.put("svc", obj("svc", ("a.example.com.", "A", "192.0.2.1"), ("c.example.com.", "A", "192.0.2.3"))) == {
        "b.example.com.", "c.example.com."}
    # A newer object repeating a name changes nothing served; an older one takes the name whole.
    assert zone.put("newer", obj("newer", ("a.example.com.", "AAAA", "2001:db8::1"),
                                 created="2026-01-02T00:00:00Z")) == set()
    assert zone.served("a.example.com.") == (RecordSetSpec("a.example.com.", "A", 60, ("192.0.2.1",)),)
    assert zone.put("older", obj("older", ("a.example.com.", "CNAME", "x.example.net."),
                                 created="2025-01-01T00:00:00Z")) == {"a.example.com."}
    assert [s.type for s in zone.served("a.example.com.")] == ["CNAME"]
    assert zone.remove("older") == {"a.example.com."} and zone.remove("older") == set()
    assert zone.remove("svc") == {"a.example.com.", "c.example.com."}
    assert [s.type for s in zone.served("a.example.com.")] == ["AAAA"] and len(zone) == 1
    # Another zone's object is nothing to this one.
    other = obj("elsewhere", ("x.example.org.", "A", "192.0.2.1"))
    other["spec"]["zone"] = "example.org."
    assert zone.put("elsewhere", other) == set() and sorted(s.name for s in zone.specs()) == ["a.example.com."]


def test_replace_names_is_one_snapshot_of_just_those_names() -> None:
    n = dns.name.from_text
    builder = SnapshotBuilder(ZoneSettings(n("example.com."), (n("ns1.example.com."),), n("hostmaster.example.com.")),
                              [RecordSetSpec("a", "A", 60, ("192.0.2.1",)), RecordSetSpec("b", "A", 60, ("192.0.2.2",)),
                               RecordSetSpec("c", "A", 60, ("192.0.2.3",))])
    zone = builder.replace_names({"a.example.com.": [RecordSetSpec("a.example.com.", "CNAME", 60, ("c.example.com.",))],
                                  "b": [], "d": [RecordSetSpec("d", "A", 60, ("192.0.2.4",))]}, serial=5)
    assert zone.serial == 5
    assert {(r.name.to_text(), r.rdtype) for r in zone.rrsets() if r.rdtype in (1, 5)} == {
        ("a.example.com.", 5), ("c.example.com.", 1), ("d.example.com.", 1)}
    assert zone.changed is not None and len(zone.changed) == 3  # a, b and d: c was not touched
    with pytest.raises(ZoneDataError):
        builder.replace_names({"a": [RecordSetSpec("elsewhere", "A", 60, ("192.0.2.3",))]})
