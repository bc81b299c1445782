"""CachedStore watchers: waiting with a timeout (bookmarks) loses nothing and makes no task."""

from __future__ import annotations

import asyncio

import pytest

from kfed.storage.cached import CachedStore
from kfed.storage.protocol import StoreError


async def test_timeout_returns_none_then_the_next_batch_arrives() -> None:
    store = CachedStore()
    await store.start()
    try:
        w = await store.watch("/a/", store.revision)
        assert await w.next_batch(0.01) is None
        before = w.revision
        await store.create("/a/x", b"1")
        batch = await w.next_batch(1.0)
        assert batch is not None and [e.kv.key for e in batch] == ["/a/x"]
        assert w.revision > before
        await store.create("/b/y", b"2")  # not under the prefix: the watcher is complete up to it
        assert await w.next_batch(0.01) is None
        assert w.revision == store.revision
    finally:
        await store.close()


async def test_cancelled_wait_loses_no_event_and_close_ends_iteration() -> None:
    store = CachedStore()
    await store.start()
    try:
        w = await store.watch("/a/", store.revision)
        waiting = asyncio.create_task(w.next_batch(None))
        await asyncio.sleep(0)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await store.create("/a/x", b"1")
        await store.create("/a/z", b"2")
        keys = [e.kv.key for b in (await w.next_batch(1.0), await w.next_batch(1.0)) if b for e in b]
        assert keys == ["/a/x", "/a/z"]
        await w.close()
        with pytest.raises(StopAsyncIteration):
            await w.next_batch(0.01)
        with pytest.raises(StopAsyncIteration):  # stays ended
            await w.__anext__()
    finally:
        await store.close()


async def test_a_watcher_too_far_behind_is_dropped() -> None:
    store = CachedStore(max_watch_backlog=3)
    await store.start()
    try:
        w = await store.watch("/a/", store.revision)
        for i in range(5):
            await store.create(f"/a/{i}", b"v")
        with pytest.raises(StoreError):
            for _ in range(10):
                await w.next_batch(0.01)
    finally:
        await store.close()
