"""What only the etcd backend has: other clients, other prefixes, several endpoints, outages."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from etcd_process import EtcdServer, free_port, running_etcd

from kfed.storage import CompactedError, StoreError, open_store
from kfed.storage.etcd import EtcdStore, prefix_range_end
from kfed.storage.etcd_endpoints import grpc_target, parse_endpoints


def test_prefix_range_end() -> None:
    assert prefix_range_end(b"/kfed/a") == b"/kfed/b"
    assert prefix_range_end(b"a\xff\xff") == b"b"
    assert prefix_range_end(b"\xff") == b"\0"
    assert prefix_range_end(b"") == b"\0"


def test_endpoints_and_targets() -> None:
    assert parse_endpoints("127.0.0.1:2379, http://10.0.0.2:22379/") == [("127.0.0.1", 2379), ("10.0.0.2", 22379)]
    assert parse_endpoints(["[::1]:2380", "etcd.local"]) == [("::1", 2380), ("etcd.local", 2379)]
    assert parse_endpoints([("h", 1)]) == [("h", 1)]
    with pytest.raises(ValueError):
        parse_endpoints(" , ")
    assert grpc_target([("etcd.local", 2379)]) == "etcd.local:2379"
    assert grpc_target([("::1", 2379)]) == "[::1]:2379"
    assert grpc_target([("10.0.0.1", 1), ("10.0.0.2", 2)]) == "ipv4:10.0.0.1:1,10.0.0.2:2"
    assert grpc_target([("::1", 1), ("::2", 2)]) == "ipv6:[::1]:1,[::2]:2"
    with pytest.raises(ValueError):
        grpc_target([("::1", 1), ("10.0.0.1", 2)])


@pytest.fixture
async def pair(etcd_server: EtcdServer) -> AsyncIterator[tuple[EtcdStore, EtcdStore]]:
    """Two clients of one etcd under one prefix, as two API servers would be."""
    prefix = f"/kfed-test-{uuid.uuid4().hex[:12]}"
    a, b = EtcdStore(etcd_server.endpoint, prefix=prefix), EtcdStore(etcd_server.endpoint, prefix=prefix)
    await a.start()
    await b.start()
    try:
        yield a, b
    finally:
        await a.close()
        await b.close()


async def test_two_clients_see_each_others_writes(pair: tuple[EtcdStore, EtcdStore]) -> None:
    a, b = pair
    w = await b.watch("/x/", b.revision)
    try:
        kv = await a.create("/x/k", b"v")
        batch = await asyncio.wait_for(w.__aiter__().__anext__(), 10)
        assert [e.kv for e in batch] == [kv]
        assert (await b.get("/x/k")) == kv
        assert b.revision >= kv.mod_revision
    finally:
        await w.close()


async def test_compaction_by_another_client_is_discovered(pair: tuple[EtcdStore, EtcdStore]) -> None:
    a, b = pair
    first = await a.create("/c/k", b"0")
    for i in range(3):
        await a.update("/c/k", str(i).encode())
    rev = a.revision
    await a.compact(rev)
    assert b.compacted_revision < rev  # b has not heard yet
    with pytest.raises(CompactedError) as exc:
        await b.watch("/c/", first.mod_revision)
    assert exc.value.compacted == rev
    assert b.compacted_revision == rev  # now it has, and checks locally
    with pytest.raises(CompactedError):
        await b.watch("/c/", rev - 1)


async def test_prefixes_keep_stores_apart(etcd_server: EtcdServer) -> None:
    tag = uuid.uuid4().hex[:8]
    one = EtcdStore(etcd_server.endpoint, prefix=f"/one-{tag}")
    two = open_store(f"etcd://{etcd_server.endpoint}/two-{tag}")
    assert isinstance(two, EtcdStore) and two.prefix == f"/two-{tag}"
    await one.start()
    await two.start()
    try:
        await one.create("/registry/a", b"1")
        assert await two.get("/registry/a") is None
        assert (await two.range("")).count == 0
        await two.create("/registry/a", b"2")
        got = await one.get("/registry/a")
        assert got is not None and got.value == b"1"
    finally:
        await one.close()
        await two.close()


async def test_several_endpoints_fail_over_to_a_live_one(etcd_server: EtcdServer) -> None:
    dead = free_port()  # nothing listens here
    store = EtcdStore(f"127.0.0.1:{dead},{etcd_server.endpoint}", prefix=f"/fo-{uuid.uuid4().hex[:8]}")
    await store.start()
    try:
        kv = await store.create("/a", b"1")
        assert (await store.get("/a")) == kv
    finally:
        await store.close()


async def test_etcd_going_away_ends_watches_with_an_error(tmp_path: Path) -> None:
    with running_etcd(tmp_path / "etcd") as server:
        store = EtcdStore(server.endpoint, timeout=2.0)
        await store.start()
        w = await store.watch("/", store.revision)
        pending = asyncio.ensure_future(w.__aiter__().__anext__())
        await store.create("/a", b"1")
        assert [e.kv.key for e in await asyncio.wait_for(pending, 10)] == ["/a"]
        pending = asyncio.ensure_future(w.__aiter__().__anext__())
    # etcd is stopped now: the watch ends with a StoreError, and so do requests.
    try:
        with pytest.raises(StoreError):
            await asyncio.wait_for(pending, 10)
        with pytest.raises(StoreError):
            await store.create("/b", b"2")
    finally:
        await w.close()
        await store.close()
