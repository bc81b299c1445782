"""ZoneSet: every zone the server answers for at one moment, plus the answers already rendered.

The set is immutable like the snapshots in it: an update makes a new ZoneSet, which starts with
empty answer caches, so a cached answer can never outlive the data it was rendered from.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import dns.name

from kfed.dns.server.zone import ZoneData

# Rendered answers kept per cache; a flood of distinct names empties it rather than growing it.
MAX_CACHED_ANSWERS = 100_000

# cache key (see answer.py) -> (response bytes 2..12, response bytes after the question)
AnswerCache = dict[bytes, tuple[bytes, bytes]]


class ZoneSet:
    __slots__ = ("_zones", "_caches")

    def __init__(self, zones: Iterable[ZoneData] = ()) -> None:
        self._zones: dict[dns.name.Name, ZoneData] = {z.origin: z for z in zones}
        # One cache per answer size limit: 0 for TCP, else the UDP limit in force.
        self._caches: dict[int, AnswerCache] = {}

    def get(self, origin: dns.name.Name) -> ZoneData | None:
        return self._zones.get(origin)

    def find(self, qname: dns.name.Name) -> ZoneData | None:
        """The most specific zone containing `qname`."""
        name = qname
        while True:
            zone = self._zones.get(name)
            if zone is not None:
                return zone
            if len(name.labels) <= 1:
                return None
            name = name.parent()

    def replace(self, zone: ZoneData) -> ZoneSet:
        return ZoneSet([*(z for o, z in self._zones.items() if o != zone.origin), zone])

    def remove(self, origin: dns.name.Name) -> ZoneSet:
        return ZoneSet(z for o, z in self._zones.items() if o != origin)

    def cache(self, limit: int) -> AnswerCache:
        cache = self._caches.get(limit)
        if cache is None:
            cache = self._caches[limit] = {}
        return cache

    def __iter__(self) -> Iterator[ZoneData]:
        return iter(self._zones.values())

    def __len__(self) -> int:
        return len(self._zones)

    def __contains__(self, origin: object) -> bool:
        return origin in self._zones
