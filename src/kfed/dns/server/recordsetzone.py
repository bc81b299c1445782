"""What one zone serves from DNSRecordSet objects, kept up to date object by object (pure, no I/O).

Objects hold records at any number of names (kfed's own: every name of one federated Service);
several objects may hold the same name, and the oldest serves it (kfed.dns.recordsets). An
object's change becomes the names whose served records changed, found from that object's names
alone: O(its records), whatever the zone's size.
"""

from __future__ import annotations

from collections.abc import Iterator

from kfed.dns.names import absolute
from kfed.dns.records import DEFAULT_TTL
from kfed.dns.recordsets import NameHolders, Obj, rank_of, spec_records
from kfed.dns.server.zone import RecordSetSpec

Specs = tuple[RecordSetSpec, ...]


class RecordSetZone:
    """The zone `origin` (absolute, lowercase) as the objects put into it serve it."""

    def __init__(self, origin: str) -> None:
        self.origin = absolute(origin)
        self._objects: dict[str, dict[str, Specs]] = {}  # object key -> name -> its record sets
        self._holders = NameHolders()

    def __len__(self) -> int:
        """Names served."""
        return len(self._holders)

    def names_of(self, obj: Obj) -> dict[str, Specs]:
        """An object's record sets by name; none unless the object is of this zone."""
        zone = (obj.get("spec") or {}).get("zone")
        if not isinstance(zone, str) or absolute(zone) != self.origin:
            return {}
        out: dict[str, list[RecordSetSpec]] = {}
        for name, rtype, ttl, data in spec_records(obj):
            owner = absolute(name)
            out.setdefault(owner, []).append(RecordSetSpec(owner, rtype, DEFAULT_TTL if ttl is None else ttl,
                                                           tuple(str(d) for d in data)))
        return {name: tuple(specs) for name, specs in out.items()}

    def put(self, key: str, obj: Obj) -> set[str]:
        """Object `key` is now `obj`; returns the names whose served records may have changed."""
        new = self.names_of(obj)
        old = self._objects.get(key, {})
        affected = old.keys() | new.keys()
        before = {name: self.served(name) for name in affected}
        self._holders.release(key, [name for name in old if name not in new])
        if new:
            self._holders.hold(key, rank_of(obj), new)
            self._objects[key] = new
        else:
            self._objects.pop(key, None)
            self._holders.forget(key)
        return {name for name in affected if self.served(name) != before[name]}

    def remove(self, key: str) -> set[str]:
        """Object `key` is gone; returns the names whose served records changed."""
        old = self._objects.get(key)
        if old is None:
            return set()
        before = {name: self.served(name) for name in old}
        del self._objects[key]
        self._holders.release(key, old)
        self._holders.forget(key)
        return {name for name in old if self.served(name) != before[name]}

    def served(self, name: str) -> Specs:
        """The record sets `name` serves: those of the oldest object holding it."""
        key = self._holders.winner(name)
        return self._objects[key][name] if key is not None else ()

    def specs(self) -> Iterator[RecordSetSpec]:
        """Every record set served."""
        for name in self._holders:
            yield from self.served(name)
