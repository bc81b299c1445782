"""Versioning a zone: the serial a new snapshot gets and the IXFR journal it carries.

The journal is a bounded tuple of consecutive diffs kept inside the snapshot itself, so the pure
answer code can serve IXFR from nothing but the snapshot. When the journal overflows its bounds
the oldest diffs are dropped; a secondary older than the journal gets a full transfer instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from kfed.dns.server.serial import next_serial
from kfed.dns.server.zone import ZoneData, ZoneDiff, diff_content


@dataclass(frozen=True)
class JournalLimits:
    max_diffs: int = 100
    max_records: int = 100_000  # resource records over all diffs kept


def advance(
    previous: ZoneData | None, snapshot: ZoneData, now: float, limits: JournalLimits = JournalLimits()
) -> ZoneData | None:
    """The version of `snapshot` to serve after `previous`, or None when nothing changed.

    The serial is the snapshot's own when that grows, else the next one (see next_serial); the
    journal is `previous`'s plus the diff between the two, trimmed to `limits`.
    """
    if previous is None:
        return snapshot.with_serial(next_serial(None, snapshot.serial, now), journal=())
    removed, added = diff_content(previous, snapshot)
    settings_changed = snapshot.settings != previous.settings
    if not removed and not added and not settings_changed:
        return None
    serial = next_serial(previous.serial, snapshot.serial, now)
    current = snapshot.with_serial(serial, journal=())
    if settings_changed and snapshot.settings.origin != previous.settings.origin:
        return current  # another zone altogether: no history applies
    diff = ZoneDiff(from_soa=previous.soa, to_soa=current.soa, removed=removed, added=added)
    journal = _trim((*previous.journal, diff), limits)
    return current.with_serial(serial, journal=journal)


def _trim(journal: tuple[ZoneDiff, ...], limits: JournalLimits) -> tuple[ZoneDiff, ...]:
    total = sum(d.size for d in journal)
    start = 0
    while start < len(journal) and (len(journal) - start > limits.max_diffs or total > limits.max_records):
        total -= journal[start].size
        start += 1
    return journal[start:]


def diffs_since(zone: ZoneData, serial: int) -> tuple[ZoneDiff, ...] | None:
    """The journal's diffs leading from `serial` to the zone's serial, or None if not covered."""
    for i, diff in enumerate(zone.journal):
        if diff.from_serial == serial:
            chain = zone.journal[i:]
            if chain[-1].to_serial == zone.serial:
                return chain
            return None
    return None
