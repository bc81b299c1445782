"""RecordSetZoneSource: DNSRecordSet events (objects of many names) become a few snapshots, each
replacing only the names that changed, with the newest serial."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import dns.name
import dns.rdatatype

from kfed.controllers.zonesource import RecordSetZoneSource
from kfed.dns.server.zone import ZoneData, ZoneSettings

Obj = dict[str, Any]


def settings() -> ZoneSettings:
    n = dns.name.from_text
    return ZoneSettings(n("example.com."), (n("ns1.example.com."),), n("hostmaster.example.com."))


def recordset(key: str, rv: int, records: Iterable[tuple[str, str, str]], created: str = "2026-01-01T00:00:00Z",
              zone: str = "example.com.") -> Obj:
    return {"metadata": {"name": key, "resourceVersion": str(rv), "creationTimestamp": created},
            "spec": {"zone": zone, "records": [{"name": n, "type": t, "ttl": 60, "data": [d]} for n, t, d in records]}}


def served(zone: ZoneData) -> dict[tuple[str, str], set[str]]:
    return {(r.name.to_text(), dns.rdatatype.to_text(r.rdtype)): {d.to_text() for d in r}
            for r in zone.rrsets() if r.rdtype not in (dns.rdatatype.SOA, dns.rdatatype.NS)}


class Recorder:
    """A source as after its first listing, recording what it publishes and which names each
    snapshot replaced."""

    def __init__(self) -> None:
        self.source = RecordSetZoneSource(None, settings())  # type: ignore[arg-type]
        self.source._built = True  # as after the first listing, which found an empty zone
        self.published: list[ZoneData] = []
        self.replaced: list[set[str]] = []
        real_publish = self.source._latest.publish
        real_replace = self.source._builder.replace_names

        def publish(zone: ZoneData) -> None:
            self.published.append(zone)
            real_publish(zone)

        def replace_names(names: Any, *, serial: int = 0) -> ZoneData:
            self.replaced.append(set(names))
            return real_replace(names, serial=serial)

        self.source._latest.publish = publish  # type: ignore[method-assign,assignment]
        self.source._builder.replace_names = replace_names  # type: ignore[method-assign]

    async def until_serial(self, serial: int) -> ZoneData:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5
        while not self.published or self.published[-1].serial != serial:
            assert loop.time() < deadline, "the changes were never published"
            await asyncio.sleep(0.01)
        return self.published[-1]


async def test_a_burst_of_changes_shares_snapshots_and_ends_as_the_objects_say() -> None:
    r = Recorder()
    try:
        rv = 0
        for i in range(500):
            rv += 1
            r.source._on_event("ADDED", recordset(f"s{i}", rv, [(f"s{i}.example.com.", "A", "192.0.2.1"),
                                                                (f"s{i}.r.example.com.", "A", "192.0.2.1")]), None)
        rv += 1
        r.source._on_event("MODIFIED", recordset("s7", rv, [("s7.example.com.", "CNAME", "example.net."),
                                                            ("s7.r.example.com.", "A", "192.0.2.1")]), None)
        rv += 1
        r.source._on_event("DELETED", recordset("s8", rv, []), None)
        zone = served(await r.until_serial(rv))
        assert len(r.published) <= 3  # not one snapshot per object
        assert len(zone) == 998
        assert zone[("s7.example.com.", "CNAME")] == {"example.net."} and ("s7.example.com.", "A") not in zone
        assert ("s8.example.com.", "A") not in zone and ("s8.r.example.com.", "A") not in zone
        assert zone[("s9.example.com.", "A")] == {"192.0.2.1"}
    finally:
        await r.source.stop()


async def test_an_object_update_replaces_only_its_changed_names() -> None:
    r = Recorder()
    try:
        for i in range(50):  # other Services' objects: never looked at again
            r.source._on_event("ADDED", recordset(f"o{i}", i + 1, [(f"o{i}.example.com.", "A", "192.0.2.9")]), None)
        before = recordset("svc", 100, [("a.example.com.", "A", "192.0.2.1"), ("b.example.com.", "A", "192.0.2.2"),
                                        ("c.example.com.", "A", "192.0.2.3")])
        r.source._on_event("ADDED", before, None)
        await r.until_serial(100)
        r.replaced.clear()
        after = recordset("svc", 101, [("a.example.com.", "A", "192.0.2.1"), ("c.example.com.", "CNAME", "a.example.com."),
                                       ("d.example.com.", "A", "192.0.2.4")])
        r.source._on_event("MODIFIED", after, before)
        zone = served(await r.until_serial(101))
        assert r.replaced == [{"b.example.com.", "c.example.com.", "d.example.com."}]  # a is unchanged
        assert zone[("a.example.com.", "A")] == {"192.0.2.1"} and ("b.example.com.", "A") not in zone
        assert zone[("c.example.com.", "CNAME")] == {"a.example.com."} and ("c.example.com.", "A") not in zone
        assert zone[("d.example.com.", "A")] == {"192.0.2.4"} and zone[("o3.example.com.", "A")] == {"192.0.2.9"}
        # An update that changes nothing served (a label, say) publishes nothing.
        count = len(r.published)
        same = recordset("svc", 102, [("a.example.com.", "A", "192.0.2.1"), ("c.example.com.", "CNAME", "a.example.com."),
                                      ("d.example.com.", "A", "192.0.2.4")])
        r.source._on_event("MODIFIED", same, after)
        await asyncio.sleep(0)
        assert r.source._flush is None and len(r.published) == count
    finally:
        await r.source.stop()


async def test_the_oldest_object_holding_a_name_serves_all_of_it() -> None:
    r = Recorder()
    try:
        r.source._on_event("ADDED", recordset("new", 1, [("www.example.com.", "A", "192.0.2.2"),
                                                         ("new.example.com.", "A", "192.0.2.3")],
                                              created="2026-01-02T00:00:00Z"), None)
        r.source._on_event("ADDED", recordset("old", 2, [("www.example.com.", "CNAME", "old.example.net.")],
                                              created="2026-01-01T00:00:00Z"), None)
        zone = served(await r.until_serial(2))
        assert zone[("www.example.com.", "CNAME")] == {"old.example.net."} and ("www.example.com.", "A") not in zone
        assert zone[("new.example.com.", "A")] == {"192.0.2.3"}
        # The older one goes: the other serves the name.
        r.source._on_event("DELETED", recordset("old", 3, [("www.example.com.", "CNAME", "old.example.net.")]), None)
        zone = served(await r.until_serial(3))
        assert zone[("www.example.com.", "A")] == {"192.0.2.2"} and ("www.example.com.", "CNAME") not in zone
        # Created in the same second: the first by name.
        r.source._on_event("ADDED", recordset("a-same", 4, [("www.example.com.", "A", "192.0.2.7")],
                                              created="2026-01-02T00:00:00Z"), None)
        zone = served(await r.until_serial(4))
        assert zone[("www.example.com.", "A")] == {"192.0.2.7"}
    finally:
        await r.source.stop()


async def test_the_first_listing_builds_the_zone_once() -> None:
    source = RecordSetZoneSource(None, settings())  # type: ignore[arg-type]
    published: list[ZoneData] = []
    source._latest.publish = published.append  # type: ignore[method-assign,assignment]
    source._on_event("ADDED", recordset("svc", 7, [("a.example.com.", "A", "192.0.2.1"),
                                                   ("b.example.com.", "CNAME", "a.example.com.")]), None)
    source._on_event("ADDED", recordset("elsewhere", 9, [("x.example.org.", "A", "192.0.2.1")],
                                        zone="example.org."), None)
    assert published == []
    source.informer.synced.set()
    await source._build_when_listed()
    assert len(published) == 1 and published[0].serial == 7  # the other zone's object is not this zone's
    assert served(published[0]) == {("a.example.com.", "A"): {"192.0.2.1"},
                                    ("b.example.com.", "CNAME"): {"a.example.com."}}
