"""Plans: minimal, ownership-respecting, idempotent, ordered, and batched within limits."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kfed.dns.plan import (
    OWNER_TTL,
    Action,
    Owner,
    Plan,
    apply_to,
    owned_name,
    plan_changes,
    plan_zone,
    registry_name,
)
from kfed.dns.records import FederatedService, RecordSet, Shard, desired_records

ZONE = "example.com."
NGINX = Owner("myfederation", "mynamespace", "nginx")
P = "nginx.mynamespace.myfederation.svc"


def service(*shards: Shard, zones: frozenset[tuple[str, str]] = frozenset()) -> FederatedService:
    return FederatedService("nginx", "mynamespace", shards, all_zones=zones)


def healthy(cluster: str, region: str, zone: str, ip: str) -> Shard:
    return Shard(cluster, region, (zone,), (ip,), (), 1, True)


TWO_ZONES = frozenset({("us-central1", "us-central1-a"), ("us-central1", "us-central1-b")})


def base_desired() -> list[RecordSet]:
    return desired_records(service(healthy("a", "us-central1", "us-central1-a", "192.0.2.1"),
                                   healthy("b", "us-central1", "us-central1-b", "192.0.2.2"), zones=TWO_ZONES),
                           "myfederation", ZONE)


SOA = RecordSet(ZONE, "SOA", 3600, ("ns1.example.com. hostmaster.example.com. 1 7200 3600 1209600 300",))
NS = RecordSet(ZONE, "NS", 3600, ("ns1.example.com.",))


def test_owner_marker_round_trip() -> None:
    assert Owner.parse(NGINX.txt()) == NGINX
    assert Owner.parse("heritage=kfed,federation=f,owner=ns/svc") == Owner("f", "ns", "svc")
    assert Owner.parse('"heritage=external-dns,owner=x"') is None
    assert Owner.parse('"v=spf1 -all"') is None
    assert Owner.parse('"heritage=kfed,federation=f,owner=nosvc"') is None
    assert registry_name("a.example.com") == "_kfed-owner.a.example.com."
    assert owned_name("_kfed-owner.a.example.com.") == "a.example.com."
    assert owned_name("a.example.com.") is None


def test_first_plan_creates_records_with_markers_first() -> None:
    desired = base_desired()
    plan = plan_changes(desired, [SOA, NS], NGINX, zone=ZONE)
    assert not plan.updates and not plan.deletes and not plan.conflicts
    created = {c.record.key for c in plan.creates}
    assert {r.key for r in desired} <= created
    markers = [c.record for c in plan.creates if c.record.type == "TXT"]
    assert {owned_name(m.name) for m in markers} == {r.name for r in desired}
    assert all(m.data == (NGINX.txt(),) and m.ttl == OWNER_TTL for m in markers)
    # Within a name the marker comes before the records it speaks for.
    for group in plan.groups():
        assert group[0].record.type == "TXT"


def test_plan_after_apply_is_empty() -> None:
    desired = base_desired()
    after = apply_to([SOA, NS], plan_changes(desired, [SOA, NS], NGINX).changes)
    again = plan_changes(desired, after, NGINX)
    assert not again and again.changes == () and again.conflicts == ()


def test_minimal_changes_when_one_shard_goes_down() -> None:
    desired = base_desired()
    zone = apply_to([SOA], plan_changes(desired, [SOA], NGINX).changes)
    down = desired_records(service(healthy("a", "us-central1", "us-central1-a", "192.0.2.1"),
                                   Shard("b", "us-central1", (), ("192.0.2.2",), (), 0, True), zones=TWO_ZONES),
                           "myfederation", ZONE)
    plan = plan_changes(down, zone, NGINX)
    # global and region lose one address (updates); zone b turns from A into CNAME (delete + create)
    groups = [[(c.action, c.record.name, c.record.type) for c in g] for g in plan.groups()]
    assert sorted(groups) == sorted([
        [(Action.UPDATE, f"{P}.example.com.", "A")],
        [(Action.DELETE, f"{P}.us-central1-b.example.com.", "A"),
         (Action.CREATE, f"{P}.us-central1-b.example.com.", "CNAME")],
        [(Action.UPDATE, f"{P}.us-central1.example.com.", "A")],
    ])
    update = plan.updates[0]
    assert update.previous is not None and update.previous.data == ("192.0.2.1", "192.0.2.2")
    assert update.record.data == ("192.0.2.1",)
    assert plan_changes(down, apply_to(zone, plan.changes), NGINX).changes == ()


def test_ttl_change_is_an_update() -> None:
    desired = base_desired()
    zone = apply_to([], plan_changes(desired, [], NGINX).changes)
    longer = [RecordSet(r.name, r.type, 600, r.data) for r in desired]
    plan = plan_changes(longer, zone, NGINX)
    assert len(plan.updates) == len(desired) and not plan.creates and not plan.deletes


def test_unowned_and_foreign_names_are_conflicts_and_untouched() -> None:
    desired = base_desired()
    hand_made = RecordSet(f"{P}.example.com.", "A", 60, ("203.0.113.1",))
    other = Owner("myfederation", "other", "nginx")
    theirs = [RecordSet(f"{P}.us-central1.example.com.", "CNAME", 60, ("elsewhere.example.net.",)),
              other.marker(f"{P}.us-central1.example.com.")]
    spf = [RecordSet(f"{P}.us-central1-a.example.com.", "A", 60, ("203.0.113.5",)),
           RecordSet(registry_name(f"{P}.us-central1-a.example.com."), "TXT", 60, ('"v=spf1 -all"',))]
    current = [SOA, hand_made, *theirs, *spf]
    plan = plan_changes(desired, current, NGINX, zone=ZONE)
    conflict_names = {c.name for c in plan.conflicts}
    assert conflict_names == {f"{P}.example.com.", f"{P}.us-central1.example.com.", f"{P}.us-central1-a.example.com."}
    touched = {c.record.name for c in plan.changes} | {owned_name(c.record.name) for c in plan.changes}
    assert not conflict_names & touched
    assert {c.record.name for c in plan.creates if c.record.type != "TXT"} == {f"{P}.us-central1-b.example.com."}
    holder = next(c for c in plan.conflicts if c.name == f"{P}.us-central1.example.com.").holder
    assert holder == other.txt()


def test_records_outside_the_zone_are_conflicts() -> None:
    plan = plan_changes([RecordSet("x.example.org.", "A", 1, ("192.0.2.1",))], [], NGINX, zone=ZONE)
    assert [c.name for c in plan.conflicts] == ["x.example.org."] and not plan


def test_names_too_long_for_a_marker_are_conflicts() -> None:
    long_name = ("a" * 60 + ".") * 3 + "b" * 50 + "." + ZONE  # 245 characters: the marker would be 257
    plan = plan_changes([RecordSet(long_name, "A", 1, ("192.0.2.1",))], [], NGINX, zone=ZONE)
    assert [c.name for c in plan.conflicts] == [long_name] and not plan


def test_deleting_the_service_removes_everything_it_owns_and_nothing_else() -> None:
    desired = base_desired()
    other = Owner("myfederation", "mynamespace", "web")
    other_records = [RecordSet("web.mynamespace.myfederation.svc.example.com.", "A", 180, ("192.0.2.9",))]
    zone = apply_to([SOA, NS], plan_changes(desired, [SOA, NS], NGINX).changes)
    zone = apply_to(zone, plan_changes(other_records, zone, other).changes)
    plan = plan_changes([], zone, NGINX)
    assert not plan.creates and not plan.updates
    after = apply_to(zone, plan.changes)
    assert set(after) == {SOA, NS, *other_records, other.marker(other_records[0].name)}
    # Within a name the records go before the marker.
    for group in plan.groups():
        assert group[-1].record.type == "TXT"


def test_plan_zone_collects_garbage_of_its_federation_only() -> None:
    web = Owner("fed", "ns", "web")
    gone = Owner("fed", "ns", "gone")
    stranger = Owner("otherfed", "ns", "gone")
    rec = {o: [RecordSet(f"{o.service}.{o.namespace}.{o.federation}.svc.example.com.", "A", 60, ("192.0.2.1",))]
           for o in (web, gone, stranger)}
    zone: list[RecordSet] = []
    for owner, records in rec.items():
        zone = apply_to(zone, plan_changes(records, zone, owner).changes)
    plan = plan_zone({web: rec[web]}, zone, "fed")
    assert {c.record.name for c in plan.deletes} == {rec[gone][0].name, registry_name(rec[gone][0].name)}
    assert not plan.creates and not plan.updates
    assert not plan_zone({web: rec[web]}, zone, "fed", collect_garbage=False)


def test_two_owners_wanting_one_name_conflict() -> None:
    a, b = Owner("f", "n", "a"), Owner("f", "n", "b")
    record = RecordSet("same.example.com.", "A", 60, ("192.0.2.1",))
    plan = plan_zone({a: [record], b: [record]}, [], "f")
    assert len(plan.conflicts) == 1 and plan.conflicts[0].holder == str(b)
    assert {c.record.name for c in plan.creates} == {record.name, registry_name(record.name)}


def test_cname_beside_other_data_is_refused() -> None:
    bad = [RecordSet("x.example.com.", "A", 1, ("192.0.2.1",)), RecordSet("x.example.com.", "CNAME", 1, ("y.",))]
    with pytest.raises(ValueError):
        plan_changes(bad, [], NGINX)


def many_names(n: int, addresses: int = 1) -> list[RecordSet]:
    return [RecordSet(f"s{i}.example.com.", "A", 60, tuple(f"10.{i % 250}.{j}.{i % 200}" for j in range(addresses)))
            for i in range(n)]


def test_batches_respect_limits_and_keep_names_whole() -> None:
    desired = many_names(3000, addresses=3)
    plan = plan_changes(desired, [], NGINX)
    batches = plan.batches(max_records=1000, max_chars=32_000)
    assert [c for b in batches for c in b] == list(plan.changes)
    for batch in batches:
        assert sum(c.records_cost for c in batch) <= 1000
        assert sum(c.chars_cost for c in batch) <= 32_000
    for i, batch in enumerate(batches):
        names = {owned_name(c.record.name) or c.record.name for c in batch}
        for later in batches[i + 1:]:
            assert not names & {owned_name(c.record.name) or c.record.name for c in later}
    # 3000 names x (1 marker + 3 addresses): within a factor of the ideal packing
    assert len(batches) <= 13


def test_oversized_name_gets_a_batch_of_its_own() -> None:
    huge = RecordSet("huge.example.com.", "A", 60, tuple(f"10.0.{i // 250}.{i % 250}" for i in range(1200)))
    plan = plan_changes([*many_names(2), huge], [], NGINX)
    batches = plan.batches(max_records=1000, max_chars=32_000)
    assert any(len({c.record.name for c in b if c.record.type == "A"}) == 1 and
               b[-1].record.name == huge.name for b in batches)


def test_update_counts_twice() -> None:
    old = RecordSet("a.example.com.", "A", 60, ("192.0.2.1",))
    zone = apply_to([], plan_changes([old], [], NGINX).changes)
    new = RecordSet("a.example.com.", "A", 60, ("192.0.2.1", "192.0.2.2"))
    plan = plan_changes([new], zone, NGINX)
    assert plan.updates[0].records_cost == 4
    assert plan.updates[0].chars_cost == 2 * new.chars


shard_strategy = st.builds(
    Shard,
    cluster=st.sampled_from(["c1", "c2", "c3", "c4"]),
    region=st.sampled_from(["r1", "r2"]),
    zones=st.lists(st.sampled_from(["z1", "z2", "z3"]), max_size=2, unique=True).map(tuple),
    addresses=st.lists(st.sampled_from(["192.0.2.1", "192.0.2.2", "2001:db8::1", "192.0.2.3"]),
                       max_size=2, unique=True).map(tuple),
    hostnames=st.lists(st.sampled_from(["lb1.example.net", "lb2.example.net"]), max_size=1).map(tuple),
    ready_endpoints=st.integers(0, 2),
    cluster_ready=st.booleans(),
)


@settings(max_examples=150, deadline=None)
@given(before=st.lists(shard_strategy, max_size=4), after=st.lists(shard_strategy, max_size=4))
def test_any_transition_converges_in_one_plan(before: list[Shard], after: list[Shard]) -> None:
    zones = frozenset({("r1", "z1"), ("r1", "z2"), ("r2", "z3")})
    first = desired_records(FederatedService("s", "n", tuple(before), all_zones=zones), "fed", ZONE)
    second = desired_records(FederatedService("s", "n", tuple(after), all_zones=zones), "fed", ZONE)
    owner = Owner("fed", "n", "s")
    zone = apply_to([SOA], plan_changes(first, [SOA], owner).changes)
    plan = plan_changes(second, zone, owner)
    result = apply_to(zone, plan.changes)
    assert {r for r in result if r.type != "TXT" and r != SOA} == set(second)
    assert plan_changes(second, result, owner) == Plan()
    # Every change of a plan can be applied by a strict provider in order: no CNAME beside data.
    names: dict[str, set[str]] = {}
    for r in result:
        names.setdefault(r.name, set()).add(r.type)
    assert all(types == {"CNAME"} for types in names.values() if "CNAME" in types)


def test_marker_compared_by_meaning_not_quoting() -> None:
    record = RecordSet("a.example.com.", "A", 60, ("192.0.2.1",))
    unquoted = RecordSet(registry_name(record.name), "TXT", 60, (NGINX.txt().strip('"'),))
    assert not plan_changes([record], [record, unquoted], NGINX)
    doubled = RecordSet(registry_name(record.name), "TXT", 60, (NGINX.txt(), NGINX.txt().strip('"')))
    plan = plan_changes([record], [record, doubled], NGINX)
    assert [(c.action, c.record.data) for c in plan.changes] == [(Action.UPDATE, (NGINX.txt(),))]
