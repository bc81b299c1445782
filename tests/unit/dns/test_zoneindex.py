"""ZoneIndex: a plan over a few Services' surroundings equals the plan over the whole zone."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kfed.dns.plan import Action, Change, Owner, apply_to, plan_zone, registry_name
from kfed.dns.providers.zoneindex import ZoneIndex
from kfed.dns.records import RecordSet

ZONE = "example.com."
FED = "fed"
OWNERS = [Owner(FED, "ns", f"s{i}") for i in range(4)] + [Owner("other", "ns", "s0")]
NAMES = [f"n{i}.example.com." for i in range(6)] + ["x.example.org."]


def records_at(name: str, variant: int) -> list[RecordSet]:
    if variant == 0:
        return [RecordSet(name, "CNAME", 60, ("target.example.com.",))]
    if variant == 1:
        return [RecordSet(name, "A", 60, ("192.0.2.1",)), RecordSet(name, "AAAA", 60, ("2001:db8::1",))]
    return [RecordSet(name, "A", 120, (f"192.0.2.{variant}",))]


# What a name may hold: nothing, kfed records with an owner's marker, records without a marker,
# a foreign TXT marker, or a marker naming two owners.
name_states = st.tuples(st.integers(0, 4), st.integers(0, len(OWNERS) - 1), st.integers(0, 3))


def zone_of(states: list[tuple[int, int, int]]) -> list[RecordSet]:
    out: list[RecordSet] = []
    for name, (kind, who, variant) in zip(NAMES, states, strict=True):
        if kind == 1:
            out += records_at(name, variant) + [OWNERS[who].marker(name)]
        elif kind == 2:
            out += records_at(name, variant)
        elif kind == 3:
            out.append(RecordSet(registry_name(name), "TXT", 300, ('"someone else"',)))
        elif kind == 4:
            out += [RecordSet(registry_name(name), "TXT", 300, (OWNERS[0].txt(), OWNERS[1].txt()))]
    out.append(RecordSet(ZONE, "NS", 3600, ("ns1.example.com.",)))
    return out


@settings(max_examples=300, deadline=None)
@given(states=st.lists(name_states, min_size=len(NAMES), max_size=len(NAMES)),
       wants=st.dictionaries(st.sampled_from(OWNERS[:4]),
                             st.lists(st.tuples(st.sampled_from(NAMES), st.integers(0, 3)), max_size=3),
                             max_size=3))
def test_a_plan_over_the_surroundings_is_the_plan_over_the_zone(
        states: list[tuple[int, int, int]], wants: dict[Owner, list[tuple[str, int]]]) -> None:
    zone = zone_of(states)
    desired: dict[Owner, list[RecordSet]] = {}
    for owner, picks in wants.items():
        by_name = {name: records_at(name, variant) for name, variant in picks}
        desired[owner] = [r for records in by_name.values() for r in records]
    index = ZoneIndex(zone)
    names = {r.name for records in desired.values() for r in records}
    around = index.around(names, desired)
    assert set(around) <= set(zone)
    full = plan_zone(desired, zone, FED, zone=ZONE, collect_garbage=False)
    assert plan_zone(desired, around, FED, zone=ZONE, collect_garbage=False) == full
    # Folding the plan in keeps the index what the zone becomes.
    index.apply(full.changes)
    assert index.records() == apply_to(zone, full.changes)
    assert len(index) == len(apply_to(zone, full.changes))


def test_the_owner_index_follows_markers() -> None:
    a, b = OWNERS[0], OWNERS[1]
    name = NAMES[0]
    index = ZoneIndex([*records_at(name, 2), a.marker(name)])
    assert index.owned_by(a) == {name} and index.owned_by(b) == frozenset()
    index.apply([Change(Action.UPDATE, b.marker(name), a.marker(name))])
    assert index.owned_by(a) == frozenset() and index.owned_by(b) == {name}
    # b's plan sees the name it owns though it no longer wants it, and only that.
    assert set(index.around([], [b])) == {*records_at(name, 2), b.marker(name)}
    index.apply([Change(Action.DELETE, r) for r in records_at(name, 2)] + [Change(Action.DELETE, b.marker(name))])
    assert index.owned_by(b) == frozenset() and len(index) == 0 and index.around([name], [a, b]) == []
