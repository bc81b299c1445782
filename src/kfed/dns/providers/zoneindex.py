"""What the applier knows a zone holds, indexed by name and by owner (pure, no I/O).

A plan for a few Services needs only the records at the names they want, the names their markers
give them, and those names' markers; looking those up here keeps a pass over k Services at
O(records of k) however large the zone is. Applied batches are folded in change by change.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from kfed.dns.plan import Action, Change, Owner, owned_name_of
from kfed.dns.records import RecordSet


class ZoneIndex:
    """The record sets of one zone: by name, the ownership markers by the name they speak for,
    and the names each kfed owner's markers give it."""

    def __init__(self, records: Iterable[RecordSet] = ()) -> None:
        # name -> its record set, or type -> record set when it holds several (markers excepted).
        # Nearly every name holds one set (A or CNAME): no dict of its own saves ~200 bytes a name.
        self._sets: dict[str, RecordSet | dict[str, RecordSet]] = {}
        self._markers: dict[str, RecordSet] = {}  # owned name -> the TXT set at its marker name
        self._owner: dict[str, Owner] = {}  # owned name -> the one kfed owner its marker names
        self._names: dict[Owner, set[str]] = {}  # owner -> names its markers give it
        for record in records:
            self._put(record)

    def __len__(self) -> int:
        return sum(1 if isinstance(s, RecordSet) else len(s) for s in self._sets.values()) + len(self._markers)

    def __iter__(self) -> Iterator[RecordSet]:
        for sets in self._sets.values():
            if isinstance(sets, RecordSet):
                yield sets
            else:
                yield from sets.values()
        yield from self._markers.values()

    def records(self) -> list[RecordSet]:
        """Everything, sorted by (name, type)."""
        return sorted(self, key=lambda r: r.key)

    def owners(self) -> frozenset[Owner]:
        """Every kfed owner some marker of the zone names."""
        return frozenset(self._names)

    def owned_by(self, owner: Owner) -> frozenset[str]:
        return frozenset(self._names.get(owner, ()))

    def around(self, names: Iterable[str], owners: Iterable[Owner]) -> list[RecordSet]:
        """What a plan for `owners` wanting `names` must see: the records at those names and at
        every name the owners' markers give them, with the markers of all of them."""
        wanted = set(names)
        for owner in owners:
            wanted |= self._names.get(owner, set())
        out: list[RecordSet] = []
        for name in wanted:
            sets = self._sets.get(name)
            if isinstance(sets, RecordSet):
                out.append(sets)
            elif sets:
                out.extend(sets.values())
            marker = self._markers.get(name)
            if marker is not None:
                out.append(marker)
        return out

    def apply(self, changes: Iterable[Change]) -> None:
        for change in changes:
            if change.action is Action.DELETE:
                self._drop(change.record)
            else:
                self._put(change.record)

    # -- bookkeeping -----------------------------------------------------------------------

    def _put(self, record: RecordSet) -> None:
        base = owned_name_of(record)
        if base is None:
            sets = self._sets.get(record.name)
            if sets is None or (isinstance(sets, RecordSet) and sets.type == record.type):
                self._sets[record.name] = record
            elif isinstance(sets, RecordSet):
                self._sets[record.name] = {sets.type: sets, record.type: record}
            else:
                sets[record.type] = record
            return
        self._unown(base)
        self._markers[base] = record
        owners = {Owner.parse(v) for v in record.data}
        if len(owners) == 1 and None not in owners:
            owner = next(iter(owners))
            assert owner is not None
            self._owner[base] = owner
            self._names.setdefault(owner, set()).add(base)

    def _drop(self, record: RecordSet) -> None:
        base = owned_name_of(record)
        if base is None:
            sets = self._sets.get(record.name)
            if isinstance(sets, RecordSet):
                if sets.type == record.type:
                    del self._sets[record.name]
            elif sets is not None:
                sets.pop(record.type, None)
                if len(sets) == 1:
                    self._sets[record.name] = next(iter(sets.values()))
            return
        self._unown(base)
        self._markers.pop(base, None)

    def _unown(self, base: str) -> None:
        owner = self._owner.pop(base, None)
        if owner is not None:
            names = self._names[owner]
            names.discard(base)
            if not names:
                del self._names[owner]
