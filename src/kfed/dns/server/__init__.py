"""kfed's authoritative DNS server: the `builtin` provider's server.

A pure core turns query bytes into response bytes from immutable zone snapshots (`answer`,
`respond`, `ZoneData`, `ZoneSet`); `DNSServer` runs it on asyncio UDP and TCP, follows zone
sources, serves AXFR/IXFR and sends NOTIFY to secondaries.

    source = InMemoryZoneSource(ZoneSettings.for_origin("example.com."),
                                [RecordSetSpec("www", "A", 300, ("192.0.2.1",))])
    async with DNSServer(source, port=5353) as server:
        source.apply([RecordSetSpec("www", "A", 300, ("192.0.2.2",))])
"""

from kfed.dns.server.answer import DEFAULT_MAX_UDP, Keyring, Transport, answer, respond
from kfed.dns.server.journal import JournalLimits, advance
from kfed.dns.server.notify import Notifier, NotifyTarget
from kfed.dns.server.serial import next_serial, serial_gt
from kfed.dns.server.server import DNSServer, ServerStats
from kfed.dns.server.sources import (
    FileZoneSource,
    InMemoryZoneSource,
    LatestSnapshot,
    RecordFileError,
    SnapshotBuilder,
    ZoneSource,
    parse_records_file,
)
from kfed.dns.server.tsig import TSIGKeyError, load_keys, parse_tsig_key
from kfed.dns.server.zone import RecordSetLike, RecordSetSpec, ZoneData, ZoneDataError, ZoneDiff, ZoneSettings
from kfed.dns.server.zoneset import ZoneSet

__all__ = [
    "DEFAULT_MAX_UDP",
    "DNSServer",
    "FileZoneSource",
    "InMemoryZoneSource",
    "JournalLimits",
    "Keyring",
    "LatestSnapshot",
    "Notifier",
    "NotifyTarget",
    "RecordFileError",
    "RecordSetLike",
    "RecordSetSpec",
    "ServerStats",
    "SnapshotBuilder",
    "TSIGKeyError",
    "Transport",
    "ZoneData",
    "ZoneDataError",
    "ZoneDiff",
    "ZoneSet",
    "ZoneSettings",
    "ZoneSource",
    "advance",
    "answer",
    "load_keys",
    "next_serial",
    "parse_records_file",
    "parse_tsig_key",
    "respond",
    "serial_gt",
]
