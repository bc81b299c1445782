"""Watch events that carry the written object: no decode of the stored value per event.

A write with `shared_result` on an in-process store hands its watchers the object it stored (with
its own top level and metadata, resourceVersion = the mod revision); a default write's result
stays the caller's own, and stores without the feature (etcd) decode as before.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from typing import Any

import pytest

from kfed.api import codec
from kfed.api import objects as objects_module
from kfed.api.objects import ObjectService, WatchItem, WriteOptions
from kfed.api.server import _managed_fields_hook
from kfed.model.registry import MEMBER_RESOURCES
from kfed.model.resource import ResourceType
from kfed.storage.cached import CachedStore
from kfed.storage.protocol import KeyValue, RangeResult, Watcher

Obj = dict[str, Any]
SHARED = WriteOptions(field_manager="kubelet", shared_result=True)


class PlainStore:
    """A CachedStore seen only through the Store protocol, as an etcd store is (no `decoded`)."""

    def __init__(self) -> None:
        self.inner = CachedStore()

    async def start(self) -> None:
        await self.inner.start()

    async def close(self) -> None:
        await self.inner.close()

    @property
    def revision(self) -> int:
        return self.inner.revision

    @property
    def compacted_revision(self) -> int:
        return self.inner.compacted_revision

    async def get(self, key: str) -> KeyValue | None:
        return await self.inner.get(key)

    async def range(self, prefix: str, *, start_after: str | None = None, limit: int = 0) -> RangeResult:
        return await self.inner.range(prefix, start_after=start_after, limit=limit)

    async def create(self, key: str, value: bytes) -> KeyValue:
        return await self.inner.create(key, value)

    async def update(self, key: str, value: bytes, expected_mod_revision: int | None = None) -> KeyValue:
        return await self.inner.update(key, value, expected_mod_revision)

    async def delete(self, key: str, expected_mod_revision: int | None = None) -> tuple[KeyValue, int]:
        return await self.inner.delete(key, expected_mod_revision)

    async def watch(self, prefix: str, start_revision: int) -> Watcher:
        return await self.inner.watch(prefix, start_revision)

    async def compact(self, revision: int) -> None:
        await self.inner.compact(revision)


async def _service(store: Any) -> tuple[ObjectService, ResourceType]:
    await store.start()
    objects = ObjectService(store, list(MEMBER_RESOURCES), managed_fields=_managed_fields_hook, decode_cache_size=4)
    await objects.ensure_namespaces(["default"])
    return objects, objects.require("", "v1", "pods")


@pytest.fixture
async def pods() -> AsyncIterator[tuple[ObjectService, ResourceType]]:
    store = CachedStore(history=100)
    yield await _service(store)
    await store.close()


def pod(name: str) -> Obj:
    return {"metadata": {"name": name, "labels": {"app": name}},
            "spec": {"containers": [{"name": "c", "image": "nginx:1"}]}}


async def events(objects: ObjectService, rt: ResourceType, since: int, n: int) -> list[WatchItem]:
    stream = await objects.watch(rt, "default", resource_version=str(since))
    got: list[WatchItem] = []
    try:
        async for item in stream:
            if item.type != "BOOKMARK":
                got.append(item)
            if len(got) == n:
                return got
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
    raise AssertionError("watch ended")


async def stored_as_decoded(objects: ObjectService, rt: ResourceType, name: str) -> Obj:
    kv = await objects.store.get(rt.storage_key("default", name))
    assert kv is not None
    obj: Obj = codec.loads(kv.value)
    obj["metadata"]["resourceVersion"] = str(kv.mod_revision)
    return obj


async def test_events_of_shared_writes_are_the_written_objects_not_decoded(
        pods: tuple[ObjectService, ResourceType], monkeypatch: pytest.MonkeyPatch) -> None:
    objects, rt = pods
    start = objects.store.revision
    stream = await objects.watch(rt, "default", resource_version=str(start))
    created = await objects.create(rt, "default", pod("a"), SHARED)

    def set_status(o: Obj) -> None:
        o["status"] = {"phase": "Running"}

    updated = await objects.modify(rt, "default", "a", set_status, SHARED, subresource="status")
    decodes: list[bytes] = []
    real_loads = codec.loads

    def counting_loads(data: bytes | str) -> Any:
        decodes.append(data if isinstance(data, bytes) else data.encode())
        return real_loads(data)

    monkeypatch.setattr(objects_module.codec, "loads", counting_loads)
    added = modified = None
    async for item in stream:
        if item.type == "ADDED":
            added = item
        elif item.type == "MODIFIED":
            modified = item
            break
    await stream.aclose()  # type: ignore[attr-defined]
    monkeypatch.undo()
    assert decodes == [], "the events carried their objects: nothing was decoded"
    assert added is not None and modified is not None
    assert added.object["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert modified.object["metadata"]["resourceVersion"] == updated["metadata"]["resourceVersion"]
    assert modified.revision == int(updated["metadata"]["resourceVersion"])
    assert modified.object == await stored_as_decoded(objects, rt, "a")
    # The update built its object afresh: the first event's object still shows the created pod.
    assert added.object["status"] == created["status"] and added.object["status"]["phase"] == "Pending"
    assert modified.object["status"] == {"phase": "Running"}


async def test_every_watcher_gets_the_one_object(pods: tuple[ObjectService, ResourceType]) -> None:
    objects, rt = pods
    start = objects.store.revision
    first = await objects.watch(rt, "default", resource_version=str(start))
    second = await objects.watch(rt, "default", resource_version=str(start))
    await objects.create(rt, "default", pod("a"), SHARED)
    a, b = await anext(aiter(first)), await anext(aiter(second))
    assert a.object is b.object
    for s in (first, second):
        await s.aclose()  # type: ignore[attr-defined]


async def test_the_write_path_leaves_what_watchers_got_alone(pods: tuple[ObjectService, ResourceType]) -> None:
    """The writer stamps resourceVersion on its result after the write: not on the watchers' object."""
    objects, rt = pods
    start = objects.store.revision
    stream = await objects.watch(rt, "default", resource_version=str(start))
    created = await objects.create(rt, "default", pod("a"), SHARED)
    event = await anext(aiter(stream))
    assert event.object is not created and event.object["metadata"] is not created["metadata"]
    expected = copy.deepcopy(event.object)
    created["metadata"]["resourceVersion"] = "scribbled"
    created["metadata"]["labels"] = {"scribbled": "yes"}
    created["status"] = {"phase": "Scribbled"}
    assert event.object == expected == await stored_as_decoded(objects, rt, "a")
    await stream.aclose()  # type: ignore[attr-defined]


async def test_a_default_create_result_stays_the_callers_own(pods: tuple[ObjectService, ResourceType]) -> None:
    objects, rt = pods
    start = objects.store.revision
    created = await objects.create(rt, "default", pod("a"), WriteOptions(field_manager="kubectl"))
    (event,) = await events(objects, rt, start, 1)
    expected = copy.deepcopy(event.object)
    # Scribble over every level of the response: the watcher's object does not change.
    created["spec"]["containers"][0]["image"] = "scribbled"
    created["metadata"]["labels"]["app"] = "scribbled"
    created["metadata"]["managedFields"][0]["fieldsV1"]["f:scribbled"] = {}
    created["metadata"]["resourceVersion"] = "1"
    assert event.object == expected == await stored_as_decoded(objects, rt, "a")
    (again,) = await events(objects, rt, start, 1)  # a later watch decodes the stored value
    assert again.object == expected


async def test_watchers_of_a_store_without_decoded_objects_decode_as_before() -> None:
    store = PlainStore()
    objects, rt = await _service(store)
    start = objects.store.revision
    created = await objects.create(rt, "default", pod("a"), SHARED)
    await objects.create(rt, "default", pod("b"), SHARED)
    first, second = await events(objects, rt, start, 2)
    assert first.object == await stored_as_decoded(objects, rt, "a")
    assert first.object["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert second.object["metadata"]["name"] == "b"
    await store.close()
