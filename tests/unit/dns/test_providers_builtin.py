"""The builtin provider against an in-memory twin of the federation API's DNSRecordSet objects."""

from __future__ import annotations

import asyncio
import copy
import re
from typing import Any

import pytest

from kfed.dns.plan import Owner, plan_changes, registry_name
from kfed.dns.providers.applier import ProviderApplier
from kfed.dns.providers.builtin import (
    FEDERATION_LABEL,
    MANAGED_BY_LABEL,
    OWNER_ANNOTATION,
    BuiltinProvider,
    RecordSetConflict,
    object_name,
)
from kfed.dns.providers.factory import make_provider
from kfed.dns.records import FederatedService, RecordSet, Shard, desired_records
from kfed.model.strategies.federation import DNSRecordSetStrategy

Obj = dict[str, Any]
ZONE = "example.com."
FED = "myfederation"
OWNER = Owner(FED, "mynamespace", "nginx")
P = "nginx.mynamespace.myfederation.svc"
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


class StatusError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class MemoryRecordSets:
    """DNSRecordSet objects as the API server keeps them: validated, versioned, 409 on stale writes."""

    def __init__(self) -> None:
        self.objects: dict[str, Obj] = {}
        self.version = 0
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
        self.objects[name] = self._admit(obj)
        self.writes.append(("create", name))
        return copy.deepcopy(self.objects[name])

    async def update(self, obj: Obj) -> Obj:
        name = obj["metadata"]["name"]
        if name not in self.objects:
            raise StatusError(404, f"dnsrecordsets {name!r} not found")
        if obj["metadata"].get("resourceVersion") != self.objects[name]["metadata"]["resourceVersion"]:
            raise RecordSetConflict(f"dnsrecordsets {name!r}: the object has been modified")
        self.objects[name] = self._admit(obj)
        self.writes.append(("update", name))
        return copy.deepcopy(self.objects[name])

    async def delete(self, name: str) -> None:
        if name not in self.objects:
            raise StatusError(404, f"dnsrecordsets {name!r} not found")
        del self.objects[name]
        self.writes.append(("delete", name))


def guide_service(b_ready: bool = True) -> FederatedService:
    return FederatedService("nginx", "mynamespace", (
        Shard("a", "us-central1", ("us-central1-a",), ("104.197.247.191",), (), 1, True),
        Shard("b", "us-central1", ("us-central1-b",) if b_ready else (), ("104.197.244.180",), (), int(b_ready), True),
        Shard("f", "us-central1", (), ("104.197.240.10",), (), 0, True),
    ), all_zones=frozenset({("us-central1", "us-central1-a"), ("us-central1", "us-central1-b"),
                            ("us-central1", "us-central1-f"), ("europe-west1", "europe-west1-d")}))


def make() -> tuple[MemoryRecordSets, BuiltinProvider, ProviderApplier]:
    store = MemoryRecordSets()
    provider = make_provider("builtin", {"store": store})
    assert isinstance(provider, BuiltinProvider)
    return store, provider, ProviderApplier(provider)


async def test_one_object_per_name_with_ownership_labels() -> None:
    store, provider, applier = make()
    desired = desired_records(guide_service(), FED, ZONE)
    result = await applier.sync_service(ZONE, OWNER, desired)
    assert not result.conflicts
    assert set(store.objects) == {r.name.rstrip(".") for r in desired}
    obj = store.objects[f"{P}.us-central1-f.example.com"]
    assert obj["apiVersion"] == "federation.kfed.io/v1beta1" and obj["kind"] == "DNSRecordSet"
    assert obj["spec"] == {"zone": ZONE, "name": f"{P}.us-central1-f.example.com.",
                           "records": [{"type": "CNAME", "ttl": 180, "data": [f"{P}.us-central1.example.com."]}]}
    assert obj["metadata"]["labels"] == {MANAGED_BY_LABEL: "kfed", FEDERATION_LABEL: FED}
    assert obj["metadata"]["annotations"][OWNER_ANNOTATION] == OWNER.txt().strip('"')
    # Listing shows the ownership as the plan's markers: nothing left to do.
    listed = await provider.list_records(ZONE)
    assert RecordSet(registry_name(f"{P}.example.com."), "TXT", 300, (OWNER.txt(),)) in listed
    assert not plan_changes(desired, listed, OWNER)
    writes = len(store.writes)
    assert not (await applier.sync_service(ZONE, OWNER, desired)).plan
    assert len(store.writes) == writes


async def test_a_to_cname_is_one_write_and_deletion_removes_objects() -> None:
    store, provider, applier = make()
    await applier.sync_service(ZONE, OWNER, desired_records(guide_service(), FED, ZONE))
    store.writes.clear()
    down = desired_records(guide_service(b_ready=False), FED, ZONE)
    await applier.sync_service(ZONE, OWNER, down)
    assert sorted(store.writes) == sorted([("update", f"{P}.example.com"), ("update", f"{P}.us-central1.example.com"),
                                           ("update", f"{P}.us-central1-b.example.com")])
    assert store.objects[f"{P}.us-central1-b.example.com"]["spec"]["records"] == [
        {"type": "CNAME", "ttl": 180, "data": [f"{P}.us-central1.example.com."]}]
    await applier.sync_service(ZONE, OWNER, [])
    assert store.objects == {}


async def test_objects_kfed_does_not_own_are_conflicts() -> None:
    store, provider, applier = make()
    theirs = {"apiVersion": "federation.kfed.io/v1beta1", "kind": "DNSRecordSet",
              "metadata": {"name": f"{P}.example.com"},
              "spec": {"zone": ZONE, "name": f"{P}.example.com.",
                       "records": [{"type": "A", "ttl": 30, "data": ["203.0.113.1"]}]}}
    await store.create(theirs)
    before = copy.deepcopy(store.objects[f"{P}.example.com"])
    result = await applier.sync_service(ZONE, OWNER, desired_records(guide_service(), FED, ZONE))
    assert [c.name for c in result.conflicts] == [f"{P}.example.com."]
    assert store.objects[f"{P}.example.com"] == before
    await applier.sync_service(ZONE, OWNER, [])
    assert list(store.objects) == [f"{P}.example.com"]


async def test_object_changed_behind_kfed_is_replanned() -> None:
    store, provider, applier = make()
    record = RecordSet(f"{P}.example.com.", "A", 60, ("192.0.2.1",))
    await applier.sync_service(ZONE, OWNER, [record])
    obj = copy.deepcopy(store.objects[f"{P}.example.com"])
    obj["metadata"]["annotations"]["note"] = "touched by hand"
    await store.update(obj)
    moved = RecordSet(record.name, "A", 60, ("192.0.2.2",))
    result = await applier.sync_service(ZONE, OWNER, [moved])
    assert applier.stats.replans == 1 and result.applied == 1
    kept = store.objects[f"{P}.example.com"]
    assert kept["spec"]["records"][0]["data"] == ["192.0.2.2"]
    assert kept["metadata"]["annotations"]["note"] == "touched by hand"


async def test_only_the_zone_asked_for_is_listed() -> None:
    store, provider, applier = make()
    await applier.sync_service(ZONE, OWNER, [RecordSet(f"{P}.example.com.", "A", 60, ("192.0.2.1",))])
    await applier.sync_service("example.org.", OWNER, [RecordSet("x.example.org.", "A", 60, ("192.0.2.9",))])
    assert {r.name for r in await provider.list_records("example.org.")} == {"x.example.org.",
                                                                             "_kfed-owner.x.example.org."}


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
    assert f"{P}.example.com" in store.objects


@pytest.mark.parametrize(("dns_name", "expected"), [
    ("nginx.mynamespace.myfederation.svc.us-central1-a.example.com.",
     "nginx.mynamespace.myfederation.svc.us-central1-a.example.com"),
    ("Host.Example.COM", "host.example.com"),
])
def test_object_name_is_the_dns_name_when_valid(dns_name: str, expected: str) -> None:
    assert object_name(dns_name) == expected


@pytest.mark.parametrize("dns_name", ["_srv._tcp.example.com.", "*.example.com.", "-bad.example.com.",
                                      ("a" * 63 + ".") * 4])
def test_object_name_falls_back_to_a_hash(dns_name: str) -> None:
    name = object_name(dns_name)
    assert name.startswith("dnsrecordset-") and DNS1123.match(name) and len(name) <= 253
    assert name == object_name(dns_name) and name != object_name("x" + dns_name)


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
    return {Owner(FED, "ns", f"s{i}"): [RecordSet(f"s{i}.ns.{FED}.svc.example.com.", "A", 60, ("192.0.2.1",))]
            for i in range(n)}


@pytest.mark.parametrize("max_in_flight", [1, 8])
async def test_names_are_written_concurrently_up_to_the_bound(max_in_flight: int) -> None:
    store = SlowRecordSets()
    provider = make_provider("builtin", {"store": store, "max_in_flight": max_in_flight})
    applier = ProviderApplier(provider)
    result = await applier.sync(ZONE, many_services(40), FED)
    assert result.applied == 80 and len(store.objects) == 40
    assert store.most_in_flight == max_in_flight


async def test_a_batch_retried_after_a_server_error_writes_each_name_once() -> None:
    store = SlowRecordSets()
    provider = make_provider("builtin", {"store": store, "max_in_flight": 4})
    applier = ProviderApplier(provider)
    applier.backoff = type(applier.backoff)(base=0.001, cap=0.002)
    original = store.create
    calls = 0

    async def failing_once(obj: Obj) -> Obj:
        nonlocal calls
        calls += 1
        if calls == 10:  # after several names went in
            raise StatusError(503, "etcdserver: request timed out")
        return await original(obj)

    store.create = failing_once  # type: ignore[method-assign]
    result = await applier.sync(ZONE, many_services(30), FED)
    assert applier.stats.retries == 1 and applier.stats.replans == 0 and result.applied == 60
    creates = [name for kind, name in store.writes if kind == "create"]
    assert len(creates) == len(set(creates)) == 30  # the retry wrote only what was missing


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
            return {**body, "metadata": {**body["metadata"], "resourceVersion": "7"}}

        async def get(self, path: str, **query: Any) -> Obj:
            return {"items": [], "metadata": {}}

    api = FlakyApi()
    provider = make_provider("builtin", {"store": FederationRecordSets(api)})  # type: ignore[arg-type]
    applier = ProviderApplier(provider)
    applier.backoff = type(applier.backoff)(base=0.001, cap=0.002)
    await applier.sync_service(ZONE, OWNER, [RecordSet(f"{P}.example.com.", "A", 60, ("192.0.2.1",))])
    assert applier.stats.retries == 1 and [o["metadata"]["name"] for o in api.created] == [f"{P}.example.com"]

