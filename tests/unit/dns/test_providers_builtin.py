"""The builtin provider against an in-memory twin of the federation API's DNSRecordSet objects:
one object per owner holding all of its names."""

from __future__ import annotations

import asyncio
import copy
import re
from typing import Any

import pytest

from kfed.dns.plan import Action, Change, Owner, plan_changes, registry_name
from kfed.dns.providers.applier import ProviderApplier
from kfed.dns.providers.builtin import (
    FEDERATION_LABEL,
    MANAGED_BY_LABEL,
    OWNER_ANNOTATION,
    BuiltinProvider,
    RecordSetConflict,
    object_names,
)
from kfed.dns.providers.factory import make_provider
from kfed.dns.providers.ratelimit import TokenBucket
from kfed.dns.records import FederatedService, RecordSet, Shard, desired_records
from kfed.model.strategies.federation import DNSRecordSetStrategy

Obj = dict[str, Any]
ZONE = "example.com."
FED = "myfederation"
OWNER = Owner(FED, "mynamespace", "nginx")
OBJECT = "nginx.mynamespace.myfederation"
P = "nginx.mynamespace.myfederation.svc"
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


class StatusError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class MemoryRecordSets:
    """DNSRecordSet objects as the API server keeps them: validated, versioned, 409 on stale writes,
    a creationTimestamp a second apart per object created (unless `same_second`)."""

    def __init__(self, *, same_second: bool = False) -> None:
        self.objects: dict[str, Obj] = {}
        self.version = 0
        self.created = 0
        self.same_second = same_second
        self.writes: list[tuple[str, str]] = []
        self.strategy = DNSRecordSetStrategy()

    def _admit(self, obj: Obj) -> Obj:
        obj = copy.deepcopy(obj)
        self.strategy.default(obj)
        causes = self.strategy.validate(obj)
        assert not causes, [c.render() for c in causes]
        name = obj["metadata"]["name"]
        assert len(name) <= 253 and DNS1123.match(name), name
        for key, value in (obj["metadata"].get("labels") or {}).items():
            assert len(value) <= 63 and LABEL_VALUE.match(value), (key, value)
        self.version += 1
        obj["metadata"]["resourceVersion"] = str(self.version)
        return obj

    async def list(self) -> list[Obj]:
        return [copy.deepcopy(o) for o in self.objects.values()]

    async def create(self, obj: Obj) -> Obj:
        name = obj["metadata"]["name"]
        if name in self.objects:
            raise StatusError(409, f"dnsrecordsets {name!r} already exists")
        admitted = self._admit(obj)
        self.created += 0 if self.same_second else 1
        admitted["metadata"]["creationTimestamp"] = f"2026-01-01T{self.created // 3600:02d}:" \
                                                    f"{self.created // 60 % 60:02d}:{self.created % 60:02d}Z"
        self.objects[name] = admitted
        self.writes.append(("create", name))
        return copy.deepcopy(admitted)

    async def update(self, obj: Obj) -> Obj:
        name = obj["metadata"]["name"]
        if name not in self.objects:
            raise StatusError(404, f"dnsrecordsets {name!r} not found")
        before = self.objects[name]["metadata"]
        if obj["metadata"].get("resourceVersion") != before["resourceVersion"]:
            raise RecordSetConflict(f"dnsrecordsets {name!r}: the object has been modified")
        admitted = self._admit(obj)
        admitted["metadata"]["creationTimestamp"] = before["creationTimestamp"]
        self.objects[name] = admitted
        self.writes.append(("update", name))
        return copy.deepcopy(admitted)

    async def delete(self, name: str) -> None:
        if name not in self.objects:
            raise StatusError(404, f"dnsrecordsets {name!r} not found")
        del self.objects[name]
        self.writes.append(("delete", name))

    def names(self, key: str) -> set[str]:
        return {r["name"] for r in self.objects[key]["spec"]["records"]}


def hand_made(name: str, *records: tuple[str, str, str]) -> Obj:
    """Someone else's object: no kfed label, any number of names."""
    return {"apiVersion": "federation.kfed.io/v1beta1", "kind": "DNSRecordSet", "metadata": {"name": name},
            "spec": {"zone": ZONE, "records": [{"name": n, "type": t, "ttl": 30, "data": [d]} for n, t, d in records]}}


def guide_service(b_ready: bool = True) -> FederatedService:
    return FederatedService("nginx", "mynamespace", (
        Shard("a", "us-central1", ("us-central1-a",), ("104.197.247.191",), (), 1, True),
        Shard("b", "us-central1", ("us-central1-b",) if b_ready else (), ("104.197.244.180",), (), int(b_ready), True),
        Shard("f", "us-central1", (), ("104.197.240.10",), (), 0, True),
    ), all_zones=frozenset({("us-central1", "us-central1-a"), ("us-central1", "us-central1-b"),
                            ("us-central1", "us-central1-f"), ("europe-west1", "europe-west1-d")}))


def fifty_clusters(name: str, last_octet: int = 1) -> FederatedService:
    """A Service in 50 clusters, 10 in each of 5 regions, one zone each: 1 + 5 + 50 = 56 names."""
    shards = [Shard(f"c{i}", f"region-{i % 5}", (f"region-{i % 5}-z{i}",),
                    (f"10.{i}.0.{last_octet if i == 0 else 1}",), (), 1, True) for i in range(50)]
    return FederatedService(name, "ns", tuple(shards),
                            all_zones=frozenset((s.region, s.zones[0]) for s in shards))


def make(store: MemoryRecordSets | None = None, **config: Any) -> tuple[MemoryRecordSets, BuiltinProvider,
                                                                        ProviderApplier]:
    store = store or MemoryRecordSets()
    provider = make_provider("builtin", {"store": store, **config})
    assert isinstance(provider, BuiltinProvider)
    return store, provider, ProviderApplier(provider)


async def test_one_object_per_service_with_ownership_labels() -> None:
    store, provider, applier = make()
    desired = desired_records(guide_service(), FED, ZONE)
    result = await applier.sync_service(ZONE, OWNER, desired)
    assert not result.conflicts
    assert store.writes == [("create", OBJECT)]
    obj = store.objects[OBJECT]
    assert obj["apiVersion"] == "federation.kfed.io/v1beta1" and obj["kind"] == "DNSRecordSet"
    assert obj["spec"]["zone"] == ZONE
    records = obj["spec"]["records"]
    assert [(r["name"], r["type"]) for r in records] == sorted((r.name, r.type) for r in desired)
    assert {"name": f"{P}.us-central1-f.example.com.", "type": "CNAME", "ttl": 180,
            "data": [f"{P}.us-central1.example.com."]} in records
    assert obj["metadata"]["labels"] == {MANAGED_BY_LABEL: "kfed", FEDERATION_LABEL: FED}
    assert obj["metadata"]["annotations"][OWNER_ANNOTATION] == OWNER.txt().strip('"')
    # Listing shows the ownership as the plan's markers, one per name: nothing left to do.
    listed = await provider.list_records(ZONE)
    markers = [r for r in listed if r.type == "TXT"]
    assert len(markers) == len({r.name for r in desired})
    assert RecordSet(registry_name(f"{P}.example.com."), "TXT", 300, (OWNER.txt(),)) in markers
    assert not plan_changes(desired, listed, OWNER)
    assert not (await applier.sync_service(ZONE, OWNER, desired)).plan
    assert len(store.writes) == 1


async def test_a_services_56_names_are_one_object_written_once() -> None:
    store, provider, applier = make()
    owners = {Owner(FED, "ns", f"s{i}"): desired_records(fifty_clusters(f"s{i}"), FED, ZONE) for i in range(3)}
    assert {len({r.name for r in records}) for records in owners.values()} == {56}
    result = await applier.sync(ZONE, owners, FED, collect_garbage=False)
    assert result.applied == 3 * 56 * 2 and result.requests == 1  # records and markers, in one batch
    assert sorted(store.writes) == [("create", f"s{i}.ns.{FED}") for i in range(3)]
    assert all(len(store.names(f"s{i}.ns.{FED}")) == 56 for i in range(3))
    assert provider.writes.total == 3


async def test_a_shard_change_rewrites_only_that_object() -> None:
    store, provider, applier = make()
    owners = {Owner(FED, "ns", f"s{i}"): desired_records(fifty_clusters(f"s{i}"), FED, ZONE) for i in range(3)}
    await applier.sync(ZONE, owners, FED, collect_garbage=False)
    store.writes.clear()
    owners[Owner(FED, "ns", "s1")] = desired_records(fifty_clusters("s1", last_octet=9), FED, ZONE)
    result = await applier.sync(ZONE, owners, FED, collect_garbage=False)
    assert result.applied == 3  # the global, region and zone A records with the moved address
    assert store.writes == [("update", f"s1.ns.{FED}")]
    global_a = next(r for r in store.objects[f"s1.ns.{FED}"]["spec"]["records"]
                    if r["name"] == f"s1.ns.{FED}.svc.example.com.")
    assert "10.0.0.9" in global_a["data"]


async def test_a_to_cname_is_one_write_and_deletion_removes_the_object() -> None:
    store, provider, applier = make()
    await applier.sync_service(ZONE, OWNER, desired_records(guide_service(), FED, ZONE))
    store.writes.clear()
    down = desired_records(guide_service(b_ready=False), FED, ZONE)
    result = await applier.sync_service(ZONE, OWNER, down)
    assert result.applied > 1 and store.writes == [("update", OBJECT)]
    zone_b = [r for r in store.objects[OBJECT]["spec"]["records"] if r["name"] == f"{P}.us-central1-b.example.com."]
    assert zone_b == [{"name": f"{P}.us-central1-b.example.com.", "type": "CNAME", "ttl": 180,
                       "data": [f"{P}.us-central1.example.com."]}]
    await applier.sync_service(ZONE, OWNER, [])
    assert store.objects == {} and store.writes[-1] == ("delete", OBJECT)
    assert await provider.list_records(ZONE) == []


async def test_a_hand_made_object_with_several_names_blocks_them_and_is_never_changed() -> None:
    store, provider, applier = make()
    await store.create(hand_made("theirs", (f"{P}.example.com.", "A", "203.0.113.1"),
                                 (f"{P}.us-central1.example.com.", "A", "203.0.113.2"),
                                 ("www.example.com.", "CNAME", "elsewhere.example.net.")))
    before = copy.deepcopy(store.objects["theirs"])
    desired = desired_records(guide_service(), FED, ZONE)
    result = await applier.sync_service(ZONE, OWNER, desired)
    assert sorted(c.name for c in result.conflicts) == [f"{P}.example.com.", f"{P}.us-central1.example.com."]
    assert all("does not own" in c.reason for c in result.conflicts)
    # kfed's other names went into its own object; theirs is as it was.
    assert store.names(OBJECT) == {r.name for r in desired} - {f"{P}.example.com.", f"{P}.us-central1.example.com."}
    assert store.objects["theirs"] == before
    # Listed as taken, with no marker of kfed's.
    listed = await provider.list_records(ZONE)
    assert RecordSet(f"{P}.example.com.", "A", 30, ("203.0.113.1",)) in listed
    assert registry_name(f"{P}.example.com.") not in {r.name for r in listed}
    await applier.sync_service(ZONE, OWNER, [])
    assert list(store.objects) == ["theirs"] and store.objects["theirs"] == before
    assert ("update", "theirs") not in store.writes and ("delete", "theirs") not in store.writes


async def test_a_hand_made_object_under_the_readable_name_sends_kfed_to_the_hashed_one() -> None:
    store, provider, applier = make()
    await store.create(hand_made(OBJECT, ("other.example.com.", "A", "203.0.113.1")))
    record = RecordSet(f"{P}.example.com.", "A", 60, ("192.0.2.1",))
    result = await applier.sync_service(ZONE, OWNER, [record])
    assert not result.conflicts
    hashed = object_names(OWNER, ZONE)[1]
    assert hashed.startswith("dnsrecordset-") and store.names(hashed) == {record.name}
    assert store.names(OBJECT) == {"other.example.com."}
    # It stays there: changes go to the object kfed already has.
    await applier.sync_service(ZONE, OWNER, [RecordSet(record.name, "A", 60, ("192.0.2.2",))])
    assert store.writes[-1] == ("update", hashed)


async def test_the_oldest_of_two_objects_holding_a_name_serves_it() -> None:
    store, provider, applier = make()
    name = f"{P}.example.com."
    # kfed's object first, then a hand-made one repeating its name: kfed's is older, and serves.
    await applier.sync_service(ZONE, OWNER, [RecordSet(name, "A", 60, ("192.0.2.1",))])
    await store.create(hand_made("late", (name, "A", "203.0.113.9"), ("late.example.com.", "A", "203.0.113.8")))
    listed = await provider.list_records(ZONE)
    assert [r for r in listed if r.name == name] == [RecordSet(name, "A", 60, ("192.0.2.1",))]
    assert RecordSet("late.example.com.", "A", 30, ("203.0.113.8",)) in listed
    assert not (await applier.sync_service(ZONE, OWNER, [RecordSet(name, "A", 60, ("192.0.2.1",))])).conflicts

    # A hand-made object older than kfed's holding a name kfed's object holds (written in a race):
    # the hand-made one serves it; kfed's plan sees the name taken, and kfed's object drops it the
    # next time kfed writes it.
    store2 = MemoryRecordSets()
    await store2.create(hand_made("early", (name, "A", "203.0.113.1")))
    kfed_obj = {"apiVersion": "federation.kfed.io/v1beta1", "kind": "DNSRecordSet",
                "metadata": {"name": OBJECT, "labels": {MANAGED_BY_LABEL: "kfed", FEDERATION_LABEL: FED},
                             "annotations": {OWNER_ANNOTATION: OWNER.txt().strip('"')}},
                "spec": {"zone": ZONE, "records": [{"name": name, "type": "A", "ttl": 60, "data": ["192.0.2.1"]},
                                                   {"name": f"{P}.r.example.com.", "type": "A", "ttl": 60,
                                                    "data": ["192.0.2.1"]}]}}
    await store2.create(kfed_obj)
    _, provider2, applier2 = make(store2)
    listed = await provider2.list_records(ZONE)
    assert [r for r in listed if r.name == name] == [RecordSet(name, "A", 30, ("203.0.113.1",))]
    wanted = [RecordSet(name, "A", 60, ("192.0.2.1",)), RecordSet(f"{P}.r.example.com.", "A", 60, ("192.0.2.7",))]
    result = await applier2.sync_service(ZONE, OWNER, wanted)
    assert [c.name for c in result.conflicts] == [name]
    assert store2.names(OBJECT) == {f"{P}.r.example.com."}  # the name it did not serve is gone from it


async def test_objects_created_in_one_second_serve_by_name() -> None:
    store, provider, _ = make(MemoryRecordSets(same_second=True))
    await store.create(hand_made("b", ("www.example.com.", "A", "192.0.2.2")))
    await store.create(hand_made("a", ("www.example.com.", "CNAME", "a.example.net.")))
    listed = await provider.list_records(ZONE)
    assert listed == [RecordSet("www.example.com.", "CNAME", 30, ("a.example.net.",))]  # never a mix


async def test_a_name_changing_owner_is_written_to_its_new_object_before_leaving_the_old() -> None:
    store, provider, applier = make()
    other = Owner(FED, "mynamespace", "web")
    shared = RecordSet(f"{P}.example.com.", "A", 60, ("192.0.2.1",))
    await applier.sync_service(ZONE, OWNER, [shared, RecordSet(f"{P}.r.example.com.", "A", 60, ("192.0.2.1",))])
    store.writes.clear()
    # What a plan moving one name between owners would send (markers say whose a name is).
    await provider.apply(ZONE, [Change(Action.UPDATE, other.marker(shared.name), OWNER.marker(shared.name))])
    assert store.writes == [("create", "web.mynamespace.myfederation"), ("update", OBJECT)]
    assert store.names("web.mynamespace.myfederation") == {shared.name}
    assert store.names(OBJECT) == {f"{P}.r.example.com."}
    listed = await provider.list_records(ZONE)
    assert other.marker(shared.name) in listed and OWNER.marker(f"{P}.r.example.com.") in listed


async def test_object_changed_behind_kfed_is_replanned() -> None:
    store, provider, applier = make()
    record = RecordSet(f"{P}.example.com.", "A", 60, ("192.0.2.1",))
    await applier.sync_service(ZONE, OWNER, [record])
    obj = copy.deepcopy(store.objects[OBJECT])
    obj["metadata"]["annotations"]["note"] = "touched by hand"
    obj["metadata"]["labels"]["team"] = "dns"
    await store.update(obj)
    moved = RecordSet(record.name, "A", 60, ("192.0.2.2",))
    result = await applier.sync_service(ZONE, OWNER, [moved])
    assert applier.stats.replans == 1 and result.applied == 1
    kept = store.objects[OBJECT]
    assert kept["spec"]["records"][0]["data"] == ["192.0.2.2"]
    assert kept["metadata"]["annotations"]["note"] == "touched by hand"
    assert kept["metadata"]["labels"] == {MANAGED_BY_LABEL: "kfed", FEDERATION_LABEL: FED, "team": "dns"}


async def test_only_the_zone_asked_for_is_listed() -> None:
    store, provider, applier = make()
    await applier.sync_service(ZONE, OWNER, [RecordSet(f"{P}.example.com.", "A", 60, ("192.0.2.1",))])
    await applier.sync_service("example.org.", OWNER, [RecordSet("x.example.org.", "A", 60, ("192.0.2.9",))])
    assert {r.name for r in await provider.list_records("example.org.")} == {"x.example.org.",
                                                                             "_kfed-owner.x.example.org."}
    # One object per owner and zone: the second zone's takes the hashed name.
    assert sorted(store.objects) == sorted([OBJECT, object_names(OWNER, "example.org.")[1]])


async def test_server_errors_are_retried() -> None:
    store, provider, applier = make()
    applier.backoff = type(applier.backoff)(base=0.001, cap=0.002)
    original = store.create
    failures = [StatusError(503, "etcdserver: leader changed"), StatusError(429, "too many requests")]

    async def flaky(obj: Obj) -> Obj:
        if failures:
            raise failures.pop(0)
        return await original(obj)

    store.create = flaky  # type: ignore[method-assign]
    await applier.sync_service(ZONE, OWNER, [RecordSet(f"{P}.example.com.", "A", 60, ("192.0.2.1",))])
    assert applier.stats.retries == 2 and applier.stats.throttled == 1
    assert OBJECT in store.objects


def test_object_names_are_readable_when_they_can_be() -> None:
    assert object_names(OWNER, ZONE)[0] == OBJECT
    hashed = object_names(OWNER, ZONE)[1]
    assert hashed.startswith("dnsrecordset-") and DNS1123.match(hashed)
    assert hashed != object_names(OWNER, "example.org.")[1] != object_names(Owner(FED, "ns", "x"), ZONE)[1]


@pytest.mark.parametrize("owner", [Owner("My_Federation", "ns", "svc"), Owner("fed", "ns", "a" * 64),
                                   Owner("fed", "ns", "dnsrecordset-x")])
def test_object_names_fall_back_to_a_hash(owner: Owner) -> None:
    names = object_names(owner, ZONE)
    assert len(names) == 1 and names[0].startswith("dnsrecordset-") and DNS1123.match(names[0])
    assert names == object_names(owner, ZONE)


class SlowRecordSets(MemoryRecordSets):
    """Writes that take a few loop turns, counting how many are in flight at once."""

    def __init__(self) -> None:
        super().__init__()
        self.in_flight = 0
        self.most_in_flight = 0

    async def _slowly(self, write: Any, arg: Any) -> Any:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            for _ in range(3):
                await asyncio.sleep(0)
            return await write(arg)
        finally:
            self.in_flight -= 1

    async def create(self, obj: Obj) -> Obj:
        return await self._slowly(super().create, obj)  # type: ignore[no-any-return]

    async def update(self, obj: Obj) -> Obj:
        return await self._slowly(super().update, obj)  # type: ignore[no-any-return]


def many_services(n: int) -> dict[Owner, list[RecordSet]]:
    return {Owner(FED, "ns", f"s{i}"): [RecordSet(f"s{i}.ns.{FED}.svc.example.com.", "A", 60, ("192.0.2.1",)),
                                        RecordSet(f"s{i}.ns.{FED}.svc.r.example.com.", "A", 60, ("192.0.2.1",))]
            for i in range(n)}


@pytest.mark.parametrize("max_in_flight", [1, 8])
async def test_objects_are_written_concurrently_up_to_the_bound(max_in_flight: int) -> None:
    store = SlowRecordSets()
    _, provider, applier = make(store, max_in_flight=max_in_flight)
    result = await applier.sync(ZONE, many_services(40), FED)
    assert result.applied == 160 and len(store.objects) == 40 and len(store.writes) == 40
    assert store.most_in_flight == max_in_flight


async def test_a_batch_retried_after_a_server_error_writes_each_object_once() -> None:
    store = SlowRecordSets()
    _, provider, applier = make(store, max_in_flight=4)
    applier.backoff = type(applier.backoff)(base=0.001, cap=0.002)
    original = store.create
    calls = 0

    async def failing_once(obj: Obj) -> Obj:
        nonlocal calls
        calls += 1
        if calls == 10:  # after several objects went in
            raise StatusError(503, "etcdserver: request timed out")
        return await original(obj)

    store.create = failing_once  # type: ignore[method-assign]
    result = await applier.sync(ZONE, many_services(30), FED)
    assert applier.stats.retries == 1 and applier.stats.replans == 0 and result.applied == 120
    creates = [name for kind, name in store.writes if kind == "create"]
    assert len(creates) == len(set(creates)) == 30  # the retry wrote only what was missing


async def test_requests_per_second_paces_object_writes() -> None:
    store, provider, applier = make(requests_per_second=4)
    now = [0.0]
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    assert isinstance(provider._pace, TokenBucket) and provider._pace.rate == 4
    provider._pace = TokenBucket(4, clock=lambda: now[0], sleep=sleep)
    await applier.sync(ZONE, many_services(9), FED)
    assert len(store.writes) == 9 and len(sleeps) == 8 and now[0] == pytest.approx(2.0)  # 9 writes at 4/s


async def test_an_unreachable_api_is_retried() -> None:
    from kfed.controllers.dns import FederationRecordSets
    from kfed.members.client import Unreachable

    class FlakyApi:
        def __init__(self) -> None:
            self.failures = 1
            self.created: list[Obj] = []

        async def request(self, method: str, path: str, *, body: Obj | None = None) -> Obj:
            if self.failures:
                self.failures -= 1
                raise Unreachable("https://127.0.0.1:6443: ServerDisconnectedError")
            assert method == "POST" and body is not None
            self.created.append(body)
            return {**body, "metadata": {**body["metadata"], "resourceVersion": "7",
                                         "creationTimestamp": "2026-01-01T00:00:00Z"}}

        async def get(self, path: str, **query: Any) -> Obj:
            return {"items": [], "metadata": {}}

    api = FlakyApi()
    provider = make_provider("builtin", {"store": FederationRecordSets(api)})  # type: ignore[arg-type]
    applier = ProviderApplier(provider)
    applier.backoff = type(applier.backoff)(base=0.001, cap=0.002)
    await applier.sync_service(ZONE, OWNER, [RecordSet(f"{P}.example.com.", "A", 60, ("192.0.2.1",))])
    assert applier.stats.retries == 1 and [o["metadata"]["name"] for o in api.created] == [OBJECT]
