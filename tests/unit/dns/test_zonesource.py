"""RecordSetZoneSource: a burst of DNSRecordSet events becomes a few snapshots, with the newest serial."""

from __future__ import annotations

import asyncio
from typing import Any

import dns.name

from kfed.controllers.zonesource import RecordSetZoneSource
from kfed.dns.server.zone import ZoneData, ZoneSettings

Obj = dict[str, Any]


def settings() -> ZoneSettings:
    n = dns.name.from_text
    return ZoneSettings(n("example.com."), (n("ns1.example.com."),), n("hostmaster.example.com."))


def recordset(i: int, rv: int, ip: str = "192.0.2.1", rtype: str = "A") -> Obj:
    return {"metadata": {"name": f"s{i}.example.com", "resourceVersion": str(rv)},
            "spec": {"zone": "example.com.", "name": f"s{i}.example.com.",
                     "records": [{"type": rtype, "ttl": 60, "data": [ip]}]}}


def served(zone: ZoneData) -> dict[tuple[str, str], set[str]]:
    return {(r.name.to_text(), dns.rdatatype.to_text(r.rdtype)): {d.to_text() for d in r}
            for r in zone.rrsets() if r.rdtype not in (dns.rdatatype.SOA, dns.rdatatype.NS)}


async def test_a_burst_of_changes_shares_snapshots_and_ends_as_the_objects_say() -> None:
    source = RecordSetZoneSource(None, settings())  # type: ignore[arg-type]
    source._built = True  # as after the first listing, which found an empty zone
    published: list[ZoneData] = []
    real_publish = source._latest.publish

    def publish(zone: ZoneData) -> None:
        published.append(zone)
        real_publish(zone)

    source._latest.publish = publish  # type: ignore[method-assign,assignment]
    try:
        rv = 0
        for i in range(2000):
            rv += 1
            source._on_event("ADDED", recordset(i, rv), None)
        rv += 1
        source._on_event("MODIFIED", recordset(7, rv, "example.net.", "CNAME"), recordset(7, 7))  # A -> CNAME
        rv += 1
        source._on_event("DELETED", recordset(8, rv), None)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5
        while not published or published[-1].serial != rv:
            assert loop.time() < deadline, "the changes were never published"
            await asyncio.sleep(0.01)
        assert len(published) <= 3  # not one snapshot per object
        zone = served(published[-1])
        assert len(zone) == 1999
        assert zone[("s7.example.com.", "CNAME")] == {"example.net."} and ("s7.example.com.", "A") not in zone
        assert ("s8.example.com.", "A") not in zone and zone[("s9.example.com.", "A")] == {"192.0.2.1"}
    finally:
        await source.stop()
