"""ObjectService semantics, in process on the in-memory store (the HTTP layer is tested with kubectl)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kfed.api import errors as E
from kfed.api.namespaces import NamespaceFinalizer
from kfed.api.objects import ObjectService, WatchItem, WriteOptions
from kfed.model.registry import MEMBER_RESOURCES
from kfed.storage.cached import CachedStore
from tests.support.waiting import async_wait_for


@pytest.fixture
async def svc() -> ObjectService:
    store = CachedStore(history=50)
    await store.start()
    objects = ObjectService(store, MEMBER_RESOURCES, bookmark_interval=0.05)
    await objects.ensure_namespaces(["default", "other"])
    return objects


def rt(objects: ObjectService, plural: str, group: str = "", version: str = "v1") -> Any:
    return objects.require(group, version, plural)


def service(name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "labels": labels},
            "spec": {"ports": [{"port": 80}], "selector": {"app": name}}}


def deployment(name: str, replicas: int = 1) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}


async def next_items(stream: Any, n: int) -> list[WatchItem]:
    out: list[WatchItem] = []
    async for item in stream:
        if item.type != "BOOKMARK":
            out.append(item)
        if len(out) == n:
            break
    return out


async def test_create_defaults_and_metadata(svc: ObjectService) -> None:
    created = await svc.create(rt(svc, "services"), "default", service("web"))
    meta = created["metadata"]
    assert meta["uid"] and meta["creationTimestamp"] and int(meta["resourceVersion"]) > 0
    assert created["spec"]["ports"][0] == {"port": 80, "protocol": "TCP", "targetPort": 80}
    with pytest.raises(E.ApiError) as err:
        await svc.create(rt(svc, "services"), "default", service("web"))
    assert err.value.code == 409 and err.value.reason == "AlreadyExists"
    with pytest.raises(E.ApiError) as err:
        await svc.create(rt(svc, "services"), "missing-ns", service("web"))
    assert err.value.code == 404


async def test_generation_counts_spec_changes_only(svc: ObjectService) -> None:
    d = rt(svc, "deployments", "apps")
    obj = await svc.create(d, "default", deployment("web"))
    assert obj["metadata"]["generation"] == 1

    def scale(o: dict[str, Any]) -> None:
        o["spec"]["replicas"] = 3

    obj = await svc.modify(d, "default", "web", scale)
    assert obj["metadata"]["generation"] == 2

    def label(o: dict[str, Any]) -> None:
        o["metadata"]["labels"] = {"x": "y"}

    obj = await svc.modify(d, "default", "web", label)
    assert obj["metadata"]["generation"] == 2


async def test_noop_update_keeps_resource_version(svc: ObjectService) -> None:
    s = rt(svc, "services")
    obj = await svc.create(s, "default", service("web"))
    again = await svc.update(s, "default", "web", dict(obj))
    assert again["metadata"]["resourceVersion"] == obj["metadata"]["resourceVersion"]


async def test_stale_resource_version_conflicts(svc: ObjectService) -> None:
    s = rt(svc, "services")
    obj = await svc.create(s, "default", service("web"))
    fresh = dict(obj, metadata=dict(obj["metadata"], labels={"a": "1"}))
    await svc.update(s, "default", "web", fresh)
    stale = dict(obj, metadata=dict(obj["metadata"], labels={"b": "2"}))
    with pytest.raises(E.ApiError) as err:
        await svc.update(s, "default", "web", stale)
    assert err.value.code == 409 and "has been modified" in err.value.message


async def test_finalizers_hold_deletion(svc: ObjectService) -> None:
    s = rt(svc, "services")
    body = service("web")
    body["metadata"]["finalizers"] = ["example.com/hold"]
    await svc.create(s, "default", body)
    obj, gone = await svc.delete(s, "default", "web")
    assert not gone and obj["metadata"]["deletionTimestamp"]

    def add(o: dict[str, Any]) -> None:
        o["metadata"]["finalizers"].append("example.com/another")

    with pytest.raises(E.ApiError) as err:
        await svc.modify(s, "default", "web", add)
    assert err.value.code == 422

    def release(o: dict[str, Any]) -> None:
        o["metadata"]["finalizers"] = []

    await svc.modify(s, "default", "web", release)
    assert await svc.get_or_none(s, "default", "web") is None


async def test_dry_run_writes_nothing(svc: ObjectService) -> None:
    s = rt(svc, "services")
    rv = svc.store.revision
    out = await svc.create(s, "default", service("web"), WriteOptions(dry_run=True))
    assert out["metadata"]["name"] == "web" and svc.store.revision == rv
    assert await svc.get_or_none(s, "default", "web") is None


async def test_list_paging_and_selectors(svc: ObjectService) -> None:
    s = rt(svc, "services")
    for i in range(5):
        await svc.create(s, "default", service(f"web{i}", tier="front" if i % 2 else "back"))
    page = await svc.list(s, "default", limit=2)
    assert [o["metadata"]["name"] for o in page.items] == ["web0", "web1"] and page.continue_token
    rest = await svc.list(s, "default", limit=10, continue_token=page.continue_token)
    assert [o["metadata"]["name"] for o in rest.items] == ["web2", "web3", "web4"] and not rest.continue_token
    front = await svc.list(s, "default", label_selector="tier in (front)")
    assert [o["metadata"]["name"] for o in front.items] == ["web1", "web3"]
    named = await svc.list(s, None, field_selector="metadata.name=web4,metadata.namespace=default")
    assert [o["metadata"]["name"] for o in named.items] == ["web4"]
    with pytest.raises(E.ApiError) as err:
        await svc.list(s, None, field_selector="spec.bogus=1")
    assert err.value.code == 400


async def test_watch_with_selector_turns_relabels_into_added_and_deleted(svc: ObjectService) -> None:
    s = rt(svc, "services")
    await svc.create(s, "default", service("web", tier="front"))
    stream = await svc.watch(s, "default", resource_version="0", label_selector="tier=front")
    first = await next_items(stream, 1)
    assert first[0].type == "ADDED"

    def relabel(value: str) -> Any:
        def f(o: dict[str, Any]) -> None:
            o["metadata"]["labels"]["tier"] = value
        return f

    await svc.modify(s, "default", "web", relabel("back"))
    await svc.modify(s, "default", "web", relabel("front"))
    items = await next_items(stream, 2)
    assert [i.type for i in items] == ["DELETED", "ADDED"]
    await stream.aclose()


async def test_watch_bookmarks_and_410(svc: ObjectService) -> None:
    s = rt(svc, "services")
    await svc.create(s, "default", service("web"))
    stream = await svc.watch(s, "default", resource_version=str(svc.store.revision), allow_bookmarks=True)
    item = await stream.__anext__()
    assert item.type == "BOOKMARK" and int(item.object["metadata"]["resourceVersion"]) >= 1
    await stream.aclose()
    for i in range(60):  # history holds 50 events: the first revisions are compacted
        await svc.create(s, "default", service(f"x{i}"))
    with pytest.raises(E.ApiError) as err:
        await svc.watch(s, "default", resource_version="1")
    assert err.value.code == 410


async def test_namespace_deletion_removes_content(svc: ObjectService) -> None:
    finalizer = NamespaceFinalizer(svc)
    finalizer.start()
    try:
        await svc.create(rt(svc, "services"), "other", service("web"))
        obj, gone = await svc.delete(svc.namespaces, None, "other")
        assert not gone and obj["status"]["phase"] == "Terminating"
        with pytest.raises(E.ApiError) as err:
            await svc.create(rt(svc, "services"), "other", service("late"))
        assert err.value.code == 403
        await async_wait_for(lambda: _gone(svc, "other"), timeout=10, what="namespace gone")
        assert (await svc.list(rt(svc, "services"), "other")).items == []
    finally:
        await finalizer.stop()


async def _gone(svc: ObjectService, ns: str) -> bool:
    assert svc.namespaces is not None
    return await svc.get_or_none(svc.namespaces, None, ns) is None


async def test_owner_references_are_garbage_collected(svc: ObjectService) -> None:
    d = await svc.create(rt(svc, "deployments", "apps"), "default", deployment("web"))
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "child", "ownerReferences": [
        {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": d["metadata"]["uid"]}]}}
    await svc.create(rt(svc, "configmaps"), "default", cm)
    await svc.delete(rt(svc, "deployments", "apps"), "default", "web")
    await svc.drain_background()
    assert await svc.get_or_none(rt(svc, "configmaps"), "default", "child") is None


async def test_concurrent_unconditional_updates_all_apply(svc: ObjectService) -> None:
    s = rt(svc, "services")
    await svc.create(s, "default", service("web"))

    def add(i: int) -> Any:
        def f(o: dict[str, Any]) -> None:
            o["metadata"].setdefault("annotations", {})[f"k{i}"] = "v"
        return f

    await asyncio.gather(*(svc.modify(s, "default", "web", add(i)) for i in range(20)))
    obj = await svc.get(s, "default", "web")
    assert len(obj["metadata"]["annotations"]) == 20
