"""The changes that take a DNS zone from what it holds to what kfed wants (pure, no I/O).

Ownership. kfed marks every name it owns with a TXT record at `_kfed-owner.<name>` holding
`"heritage=kfed,federation=<fed>,owner=<ns>/<svc>"`. The marker lives at a child name because a
CNAME may have no other data beside it (RFC 1034 3.6.2), and kfed's names are often CNAMEs; the
leading underscore (RFC 8552 style) keeps it clear of every name a Service could produce. Names
are owned whole: kfed manages the A, AAAA and CNAME sets at a name it owns and nothing at a name
it does not. A wanted name that holds records without kfed's marker, or with another owner's, is a
conflict: reported, never changed.

The plan is minimal (an RRset that already matches costs nothing) and deterministic: names in
order, and within one name deletes before updates before creates, so a name turning from A into
CNAME loses its A first. The marker is created before the records and deleted after them, so an
interrupted apply never leaves kfed's records without their marker. `Plan.batches` keeps every
name's changes (with its marker's) in one batch, so no provider request leaves a name half-changed.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from kfed.dns.names import MAX_NAME_LENGTH, absolute, is_subdomain
from kfed.dns.records import RecordSet, RecordType

OWNER_LABEL = "_kfed-owner"
HERITAGE = "kfed"
OWNER_TTL = 300  # the marker's own TTL: nobody resolves it, so it never needs to follow the Service's
MANAGED_TYPES = frozenset({RecordType.A.value, RecordType.AAAA.value, RecordType.CNAME.value})


def registry_name(name: str) -> str:
    """Where the ownership marker of `name` lives."""
    return f"{OWNER_LABEL}.{absolute(name)}"


_PREFIX = OWNER_LABEL + "."


def owned_name(name: str) -> str | None:
    """The name a marker at `name` speaks for, or None if `name` is no marker name."""
    name = absolute(name)
    return name[len(_PREFIX):] if name.startswith(_PREFIX) else None


def owned_name_of(rrset: RecordSet) -> str | None:
    """The name a marker set speaks for, None if `rrset` is no marker (no TXT at a marker name).
    Cheaper than `owned_name`: a RecordSet's name is already absolute."""
    if rrset.type != RecordType.TXT or not rrset.name.startswith(_PREFIX):
        return None
    return rrset.name[len(_PREFIX):]


@dataclass(frozen=True, order=True)
class Owner:
    """Who in kfed owns a name: one Service of one federation."""

    federation: str
    namespace: str
    service: str

    def txt(self) -> str:
        """The marker's TXT data, quoted as zone files and provider APIs show it."""
        # Interned: every name of a Service carries this same text, in plans and in the applier's zone.
        return sys.intern(f'"heritage={HERITAGE},federation={self.federation},owner={self.namespace}/{self.service}"')

    def marker(self, name: str) -> RecordSet:
        return RecordSet(registry_name(name), RecordType.TXT, OWNER_TTL, (self.txt(),))

    @classmethod
    def parse(cls, txt: str) -> Owner | None:
        """The Owner in one TXT value (quoted or not), None if it is not a kfed marker."""
        if cls is Owner:
            return _parse_owner(txt)  # every name of a Service carries the same text: parse it once
        return cls._parse(txt)

    @classmethod
    def _parse(cls, txt: str) -> Owner | None:
        text = txt.strip()
        if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
            text = text[1:-1]
        fields: dict[str, str] = {}
        for part in text.split(","):
            key, sep, value = part.partition("=")
            if not sep:
                return None
            fields[key.strip()] = value.strip()
        if fields.get("heritage") != HERITAGE or set(fields) != {"heritage", "federation", "owner"}:
            return None
        namespace, sep, service = fields["owner"].partition("/")
        if not (sep and namespace and service and fields["federation"]):
            return None
        return cls(fields["federation"], namespace, service)

    def __str__(self) -> str:
        return f"{self.federation}:{self.namespace}/{self.service}"


@lru_cache(maxsize=4096)
def _parse_owner(txt: str) -> Owner | None:
    return Owner._parse(txt)


_OwnerFilter = Callable[[Owner], bool]


class Action(StrEnum):
    CREATE = "CREATE"
    UPDATE = "UPDATE"
    DELETE = "DELETE"


@dataclass(frozen=True)
class Change:
    """One RRset change. `record` is the new set (CREATE, UPDATE) or the one to remove (DELETE);
    `previous` is what an UPDATE replaces, which providers that delete by exact value need."""

    action: Action
    record: RecordSet
    previous: RecordSet | None = None

    @property
    def records_cost(self) -> int:
        """Resource records this change counts for in a request (an update counts twice, as in Route 53)."""
        if self.action is Action.UPDATE:
            return 2 * max(len(self.record.data), len(self.previous.data) if self.previous else 0)
        return len(self.record.data)

    @property
    def chars_cost(self) -> int:
        if self.action is Action.UPDATE:
            return 2 * max(self.record.chars, self.previous.chars if self.previous else 0)
        return self.record.chars

    def __str__(self) -> str:
        return f"{self.action} {self.record}"


@dataclass(frozen=True)
class Conflict:
    """A name kfed wants but may not touch. `holder` is the marker found there (None: no marker);
    `owner` is the Service of the plan that wanted it, so a plan for many Services can tell whose."""

    name: str
    reason: str
    holder: str | None = None
    owner: Owner | None = None


Batch = tuple[Change, ...]


def _group_name(change: Change) -> str:
    return owned_name_of(change.record) or change.record.name


@dataclass(frozen=True)
class Plan:
    """An ordered list of changes, plus the names kfed left alone."""

    changes: tuple[Change, ...] = ()
    conflicts: tuple[Conflict, ...] = ()

    @property
    def creates(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.action is Action.CREATE)

    @property
    def updates(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.action is Action.UPDATE)

    @property
    def deletes(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.action is Action.DELETE)

    def __bool__(self) -> bool:
        return bool(self.changes)

    def __len__(self) -> int:
        return len(self.changes)

    def groups(self) -> list[Batch]:
        """The changes of each owned name (its records and its marker), in plan order."""
        out: list[list[Change]] = []
        last: str | None = None
        for change in self.changes:
            group = _group_name(change)
            if group != last:
                out.append([])
                last = group
            out[-1].append(change)
        return [tuple(g) for g in out]

    def batches(self, max_records: int, max_chars: int) -> list[Batch]:
        """Split into requests of at most `max_records` records and `max_chars` value characters.

        A name's changes never straddle two requests. A name that alone exceeds a limit (say an A
        set of more addresses than one request may carry) goes alone in its batch, and the
        provider decides.
        """
        out: list[Batch] = []
        current: list[Change] = []
        records = chars = 0
        for group in self.groups():
            g_records = sum(c.records_cost for c in group)
            g_chars = sum(c.chars_cost for c in group)
            if current and (records + g_records > max_records or chars + g_chars > max_chars):
                out.append(tuple(current))
                current, records, chars = [], 0, 0
            current.extend(group)
            records += g_records
            chars += g_chars
        if current:
            out.append(tuple(current))
        return out


@dataclass(frozen=True)
class _Foreign:
    """A marker that names no single kfed owner: someone else's TXT, or several owners."""

    text: str


def _holder(marker: RecordSet) -> Owner | _Foreign:
    """Who a marker set names: one kfed owner, or (several owners, foreign text) nobody kfed may follow."""
    if len(marker.data) == 1:
        owner = Owner.parse(marker.data[0])
        if owner is not None:
            return owner
    owners = {Owner.parse(v) for v in marker.data}
    if len(owners) == 1 and None not in owners:
        return next(iter(owners))  # type: ignore[return-value]
    return _Foreign(", ".join(marker.data))


def _check_desired(name: str, sets: Mapping[str, RecordSet]) -> None:
    if RecordType.CNAME in sets and len(sets) > 1:
        raise ValueError(f"{name}: a CNAME cannot share its name with {sorted(set(sets) - {'CNAME'})}")
    stray = set(sets) - MANAGED_TYPES
    if stray:
        raise ValueError(f"{name}: kfed only manages {sorted(MANAGED_TYPES)}, not {sorted(stray)}")


def _name_changes(name: str, owner: Owner, want: Mapping[str, RecordSet], have: Mapping[str, RecordSet],
                  marker: RecordSet | None) -> list[Change]:
    """Changes for one name kfed owns (or may take): deletes, updates, creates, marker around them."""
    deletes = [Change(Action.DELETE, have[t]) for t in sorted(have) if t in MANAGED_TYPES and t not in want]
    updates = [Change(Action.UPDATE, want[t], have[t]) for t in sorted(want) if t in have and have[t] != want[t]]
    creates = [Change(Action.CREATE, want[t]) for t in sorted(want) if t not in have]
    out = deletes + updates
    if want and marker is None:
        out.append(Change(Action.CREATE, owner.marker(name)))
    elif want and marker is not None and (len(marker.data) != 1 or Owner.parse(marker.data[0]) != owner):
        # Compared by meaning: a provider that hands TXT back quoted differently is still in sync.
        out.append(Change(Action.UPDATE, owner.marker(name), marker))
    out += creates
    if not want and marker is not None:
        out.append(Change(Action.DELETE, marker))
    return out


def plan_zone(
    desired: Mapping[Owner, Sequence[RecordSet]],
    current: Sequence[RecordSet],
    federation: str,
    *,
    zone: str | None = None,
    collect_garbage: bool = True,
) -> Plan:
    """Plan a whole federation's records in one zone.

    `desired` maps every live Service of `federation` to its record sets; `current` is everything
    the zone holds. With `collect_garbage`, names that `federation`'s markers give to Services
    absent from `desired` are deleted (a deleted Service, or one kfed missed deleting): pass every
    live Service then, or the others' records go. Names owned by other federations, or by nobody
    in kfed, are never touched. With `zone`, wanted names outside it are conflicts.
    """
    scope = None if collect_garbage else set(desired)
    return _plan(desired, current, lambda o: o.federation == federation and (scope is None or o in scope), zone)


def plan_changes(
    desired: Sequence[RecordSet],
    current: Sequence[RecordSet],
    owner: Owner,
    *,
    zone: str | None = None,
) -> Plan:
    """Plan one Service's records: create or fix what it wants, delete what it owns and no longer wants."""
    return _plan({owner: desired}, current, lambda o: o == owner, zone)


def _plan(desired: Mapping[Owner, Sequence[RecordSet]], current: Sequence[RecordSet],
          in_scope: _OwnerFilter, zone: str | None) -> Plan:
    have: dict[str, dict[str, RecordSet]] = defaultdict(dict)
    marker_sets: dict[str, RecordSet] = {}
    for rrset in current:
        base = owned_name_of(rrset)
        if base is not None:
            marker_sets[base] = rrset
        else:
            have[rrset.name][rrset.type] = rrset
    markers = {base: _holder(marker) for base, marker in marker_sets.items()}
    zone_suffix = "." + absolute(zone) if zone is not None else ""

    want: dict[str, tuple[Owner, dict[str, RecordSet]]] = {}
    conflicts: list[Conflict] = []
    for owner in sorted(desired):
        for rrset in desired[owner]:
            if rrset.name in want and want[rrset.name][0] != owner:
                conflicts.append(Conflict(rrset.name, f"also wanted by {want[rrset.name][0]}", str(owner), owner))
                continue
            want.setdefault(rrset.name, (owner, {}))[1][rrset.type] = rrset

    per_name: dict[str, list[Change]] = {}
    for name, (owner, sets) in want.items():
        _check_desired(name, sets)
        holder = markers.get(name)
        present = have.get(name, {})
        if zone is not None and not (name.endswith(zone_suffix) or is_subdomain(name, zone)):
            conflicts.append(Conflict(name, f"outside zone {absolute(zone)}", owner=owner))
        elif len(_PREFIX) + len(name) - 1 > MAX_NAME_LENGTH:  # the marker's name, without its final dot
            conflicts.append(Conflict(name, "too long to carry kfed's ownership marker beneath it", owner=owner))
        elif isinstance(holder, _Foreign):
            conflicts.append(Conflict(name, "ownership marker is not kfed's", holder.text, owner))
        elif isinstance(holder, Owner) and holder != owner:
            conflicts.append(Conflict(name, f"owned by {holder}", holder.txt(), owner))
        elif holder is None and present:
            conflicts.append(Conflict(name, f"holds {'/'.join(sorted(present))} records kfed does not own",
                                      owner=owner))
        elif "CNAME" in sets and set(present) - MANAGED_TYPES:
            conflicts.append(Conflict(name, f"CNAME wanted but {'/'.join(sorted(present))} records are there",
                                      owner=owner))
        else:
            changes = _name_changes(name, owner, sets, present, marker_sets.get(name))
            if changes:
                per_name[name] = changes

    # Names this plan's owners hold but no longer want: everything kfed put there goes.
    for name, holder in markers.items():
        if name in want or not isinstance(holder, Owner) or not in_scope(holder):
            continue
        changes = _name_changes(name, holder, {}, have.get(name, {}), marker_sets[name])
        per_name[name] = changes

    ordered = tuple(c for name in sorted(per_name) for c in per_name[name])
    return Plan(ordered, tuple(sorted(conflicts, key=lambda c: (c.name, c.reason))))


def apply_to(current: Sequence[RecordSet], changes: Iterable[Change]) -> list[RecordSet]:
    """What a zone holds after `changes`: for in-memory twins and for keeping a cached zone state."""
    sets = {r.key: r for r in current}
    for change in changes:
        if change.action is Action.DELETE:
            sets.pop(change.record.key, None)
        else:
            sets[change.record.key] = change.record
    return sorted(sets.values(), key=lambda r: r.key)
