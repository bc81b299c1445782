"""Cluster IPs and node ports assigned inside the simulated API's writes (ObjectService + ServiceAllocator).

What kube-apiserver guarantees: the create's response and its first watch event carry the values,
a write that fails keeps nothing, a delete frees them at once.
"""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from typing import Any

import pytest

from kfed.api import errors as E
from kfed.api.objects import ObjectService, WatchItem, WriteOptions
from kfed.api.server import _managed_fields_hook
from kfed.model.resource import ResourceType
from kfed.sim.cluster import sim_resources
from kfed.sim.service_allocator import ServiceAllocator
from kfed.storage.cached import CachedStore, MemoryJournal
from kfed.storage.protocol import ConflictError, KeyValue, StoreError, WatchEvent

CIDR = ipaddress.IPv4Network("10.96.16.0/20")
Obj = dict[str, Any]


class FlakyJournal(MemoryJournal):
    """A journal whose commits fail while `failing` is set (a disk error, say)."""

    failing = False

    def commit(self, events: list[WatchEvent], revision: int) -> None:
        if self.failing:
            raise OSError("disk full")


class ConflictingStore(CachedStore):
    """Answers the next `conflicts` updates with a conflict, as when another writer got there first."""

    conflicts = 0

    async def update(self, key: str, value: bytes, expected_mod_revision: int | None = None, **kw: Any) -> KeyValue:
        if self.conflicts:
            self.conflicts -= 1
            raise ConflictError(key, expected_mod_revision or 0, (expected_mod_revision or 0) + 1)
        return await super().update(key, value, expected_mod_revision, **kw)


async def _objects(store: CachedStore) -> tuple[ObjectService, ResourceType, ServiceAllocator]:
    await store.start()
    objects = ObjectService(store, sim_resources(), managed_fields=_managed_fields_hook)
    await objects.ensure_namespaces(["default"])
    rt = objects.require("", "v1", "services")
    allocator = ServiceAllocator(rt, CIDR)
    objects.set_allocator(rt, allocator)
    return objects, rt, allocator


@pytest.fixture
async def env() -> AsyncIterator[tuple[ObjectService, ResourceType, ServiceAllocator]]:
    store = CachedStore(history=100)
    yield await _objects(store)
    await store.close()


def service(name: str, **spec: Any) -> Obj:
    spec.setdefault("ports", [{"name": "http", "port": 80}])
    spec.setdefault("selector", {"app": name})
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}


def pinned(name: str, ip: str, node_port: int, **spec: Any) -> Obj:
    return service(name, type="NodePort", clusterIP=ip, ports=[{"name": "http", "port": 80, "nodePort": node_port}],
                   **spec)


async def next_event(stream: AsyncIterator[WatchItem]) -> WatchItem:
    async for item in stream:
        if item.type != "BOOKMARK":
            return item
    raise AssertionError("watch ended")


async def test_create_response_and_first_watch_event_carry_the_allocation(env: Any) -> None:
    objects, rt, _ = env
    stream = await objects.watch(rt, "default", resource_version=str(objects.store.revision))
    created = await objects.create(rt, "default", service("web", type="LoadBalancer", externalTrafficPolicy="Local"),
                                   WriteOptions(field_manager="kubectl"))
    spec = created["spec"]
    assert ipaddress.IPv4Address(spec["clusterIP"]) in CIDR and spec["clusterIPs"] == [spec["clusterIP"]]
    assert 30000 <= spec["ports"][0]["nodePort"] <= 32767 and 30000 <= spec["healthCheckNodePort"] <= 32767
    event = await next_event(stream)
    assert event.type == "ADDED"
    assert event.object["spec"] == spec
    assert event.object["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert objects.store.revision == int(created["metadata"]["resourceVersion"]), "one write, not two"
    await stream.aclose()  # type: ignore[attr-defined]


async def test_already_exists_gives_back_what_the_create_took(env: Any) -> None:
    objects, rt, _ = env
    await objects.create(rt, "default", service("web"))
    with pytest.raises(E.ApiError) as exists:
        await objects.create(rt, "default", pinned("web", "10.96.16.50", 30050))
    assert exists.value.code == 409
    other = await objects.create(rt, "default", pinned("other", "10.96.16.50", 30050))
    assert other["spec"]["clusterIP"] == "10.96.16.50" and other["spec"]["ports"][0]["nodePort"] == 30050


async def test_invalid_or_refused_creates_keep_nothing(env: Any) -> None:
    objects, rt, _ = env
    with pytest.raises(E.ApiError) as invalid:  # refused by validation: nothing was taken
        await objects.create(rt, "default", pinned("bad", "10.96.16.60", 30060, sessionAffinity="Sometimes"))
    assert invalid.value.code == 422 and "spec.sessionAffinity" in invalid.value.message
    await objects.create(rt, "default", service("holder", type="NodePort",
                                                ports=[{"name": "http", "port": 80, "nodePort": 30061}]))
    with pytest.raises(E.ApiError) as refused:  # the cluster IP is taken first, then the node port is refused
        await objects.create(rt, "default", pinned("late", "10.96.16.60", 30061))
    assert "provided port is already allocated" in refused.value.message
    ok = await objects.create(rt, "default", pinned("ok", "10.96.16.60", 30060))
    assert ok["spec"]["clusterIP"] == "10.96.16.60"
    with pytest.raises(E.ApiError) as taken:
        await objects.create(rt, "default", service("dup", clusterIP="10.96.16.60"))
    assert taken.value.message == ('Service "dup" is invalid: spec.clusterIPs: Invalid value: '
                                   '[]string{"10.96.16.60"}: failed to allocate IP 10.96.16.60: '
                                   'provided IP is already allocated')


async def test_a_store_error_gives_back_what_the_create_took() -> None:
    journal = FlakyJournal()
    store = CachedStore(journal)
    objects, rt, _ = await _objects(store)
    journal.failing = True
    with pytest.raises(StoreError):
        await objects.create(rt, "default", pinned("web", "10.96.16.70", 30070))
    journal.failing = False
    web = await objects.create(rt, "default", pinned("web", "10.96.16.70", 30070))
    assert web["spec"]["clusterIP"] == "10.96.16.70"
    await store.close()


async def test_a_conflicting_update_gives_back_what_it_took() -> None:
    store = ConflictingStore()
    objects, rt, allocator = await _objects(store)
    await objects.create(rt, "default", service("web"))
    store.conflicts = 1  # the first attempt loses the race; update() tries again on the newer object

    def to_node_port(o: Obj) -> None:
        o["spec"]["type"] = "NodePort"

    updated = await objects.modify(rt, "default", "web", to_node_port)
    node_port = updated["spec"]["ports"][0]["nodePort"]
    assert node_port == 30001, "the first attempt took 30000 (ports go round robin)"
    assert allocator.node_ports.claim(30000), "what the failed attempt took is free again"
    assert not allocator.node_ports.claim(node_port)
    await store.close()


async def test_dry_run_and_no_op_writes_keep_nothing(env: Any) -> None:
    objects, rt, _ = env
    dry = await objects.create(rt, "default", pinned("web", "10.96.16.80", 30080), WriteOptions(dry_run=True))
    assert dry["spec"]["clusterIP"] == "10.96.16.80"
    web = await objects.create(rt, "default", pinned("web", "10.96.16.80", 30080))
    with pytest.raises(E.ApiError):  # a dry run is refused as the write would be
        await objects.create(rt, "default", pinned("x", "10.96.16.80", 30081), WriteOptions(dry_run=True))
    same = await objects.modify(rt, "default", "web", lambda o: None)
    assert same["metadata"]["resourceVersion"] == web["metadata"]["resourceVersion"]


async def test_delete_frees_the_values_at_once(env: Any) -> None:
    objects, rt, _ = env
    await objects.create(rt, "default", pinned("web", "10.96.16.90", 30090))
    await objects.delete(rt, "default", "web")
    again = await objects.create(rt, "default", pinned("again", "10.96.16.90", 30090))
    assert again["spec"]["clusterIP"] == "10.96.16.90"
    # With a finalizer, the values stay held until the last finalizer goes.
    body = pinned("held", "10.96.16.91", 30091)
    body["metadata"]["finalizers"] = ["example.com/hold"]
    await objects.create(rt, "default", body)
    _, gone = await objects.delete(rt, "default", "held")
    assert not gone
    with pytest.raises(E.ApiError):
        await objects.create(rt, "default", pinned("waiting", "10.96.16.91", 30091))

    def drop_finalizers(o: Obj) -> None:
        o["metadata"]["finalizers"] = []

    await objects.modify(rt, "default", "held", drop_finalizers)
    assert await objects.get_or_none(rt, "default", "held") is None
    after = await objects.create(rt, "default", pinned("waiting", "10.96.16.91", 30091))
    assert after["spec"]["ports"][0]["nodePort"] == 30091


async def test_an_update_fills_in_what_a_service_was_stored_without(env: Any) -> None:
    """The repair path: a Service written before the allocator was in place gets its values from
    the next update of its spec, even one that changes nothing else."""
    objects, rt, allocator = env
    objects.set_allocator(rt, None)
    bare = await objects.create(rt, "default", service("old", type="NodePort"))
    assert "clusterIP" not in bare["spec"] and "nodePort" not in bare["spec"]["ports"][0]
    objects.set_allocator(rt, allocator)
    repaired = await objects.modify(rt, "default", "old", lambda o: None)
    assert ipaddress.IPv4Address(repaired["spec"]["clusterIP"]) in CIDR
    assert repaired["spec"]["ports"][0]["nodePort"] >= 30000
    assert int(repaired["metadata"]["resourceVersion"]) > int(bare["metadata"]["resourceVersion"])
