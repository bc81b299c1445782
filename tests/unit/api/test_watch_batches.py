"""Watch batches: what one store wake-up has for a watcher, in order, never empty; the
item-by-item watch is the same events flattened."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from kfed.api import objects as objects_module
from kfed.api.objects import ObjectService, WatchItem, WriteOptions
from kfed.api.server import _managed_fields_hook
from kfed.model.registry import MEMBER_RESOURCES
from kfed.model.resource import ResourceType
from kfed.storage.cached import CachedStore

OPTS = WriteOptions(field_manager="test")


@pytest.fixture
async def pods() -> AsyncIterator[tuple[ObjectService, ResourceType]]:
    store = CachedStore(history=1000)
    await store.start()
    objects = ObjectService(store, list(MEMBER_RESOURCES), managed_fields=_managed_fields_hook)
    await objects.ensure_namespaces(["default"])
    yield objects, objects.require("", "v1", "pods")
    await store.close()


def pod(name: str) -> dict[str, object]:
    return {"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "nginx:1"}]}}


async def take(stream: AsyncIterator[list[WatchItem]], n: int) -> list[list[WatchItem]]:
    got: list[list[WatchItem]] = []
    async with asyncio.timeout(10):
        async for batch in stream:
            got.append(batch)
            if sum(len(b) for b in got) >= n:
                return got
    raise AssertionError("watch ended")


async def test_events_that_piled_up_arrive_together_in_order(pods: tuple[ObjectService, ResourceType]) -> None:
    objects, rt = pods
    start = objects.store.revision
    batches = await objects.watch_batches(rt, "default", resource_version=str(start))
    flat = await objects.watch(rt, "default", resource_version=str(start))
    try:
        await asyncio.gather(*(objects.create(rt, "default", pod(f"p{i}"), OPTS) for i in range(20)))
        got = await take(batches, 20)
        assert all(got), "no empty batch"
        items = [i for b in got for i in b]
        assert [i.type for i in items] == ["ADDED"] * 20
        revisions = [i.revision for i in items]
        assert revisions == sorted(revisions) and len(set(revisions)) == 20
        assert len(got) == 1, "what piled up while the watcher was busy comes as one batch"
        flat_items = [item async for item in _first(flat, 20)]
        assert [(i.type, i.revision) for i in flat_items] == [(i.type, i.revision) for i in items]
    finally:
        await batches.aclose()  # type: ignore[attr-defined]
        await flat.aclose()  # type: ignore[attr-defined]


async def _first(stream: AsyncIterator[WatchItem], n: int) -> AsyncIterator[WatchItem]:
    async with asyncio.timeout(10):
        async for item in stream:
            yield item
            n -= 1
            if n == 0:
                return


async def test_initial_objects_come_in_bounded_batches(pods: tuple[ObjectService, ResourceType],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    objects, rt = pods
    monkeypatch.setattr(objects_module, "INITIAL_BATCH", 7)
    for i in range(16):
        await objects.create(rt, "default", pod(f"p{i:02d}"), OPTS)
    batches = await objects.watch_batches(rt, "default", resource_version="0")
    try:
        got = await take(batches, 16)
        assert [len(b) for b in got] == [7, 7, 2]
        assert [i.object["metadata"]["name"] for b in got for i in b] == [f"p{i:02d}" for i in range(16)]
    finally:
        await batches.aclose()  # type: ignore[attr-defined]


async def test_closing_the_flat_watch_closes_the_store_watcher(pods: tuple[ObjectService, ResourceType]) -> None:
    objects, rt = pods
    store = objects.store
    assert isinstance(store, CachedStore)
    before = len(store._watchers)
    flat = await objects.watch(rt, "default", resource_version=str(store.revision))
    await objects.create(rt, "default", pod("x"), OPTS)
    first = [i async for i in _first(flat, 1)]
    assert first[0].object["metadata"]["name"] == "x"
    await flat.aclose()  # type: ignore[attr-defined]
    assert len(store._watchers) == before
