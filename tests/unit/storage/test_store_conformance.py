"""The Store protocol, checked the same way on every backend: memory, SQLite and a real etcd."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from kfed.storage import (
    CompactedError,
    ConflictError,
    EventType,
    KeyExistsError,
    KeyNotFoundError,
    Store,
    Watcher,
    WatchEvent,
)

DEADLINE = 10.0


async def collect(watcher: Watcher, done: Callable[[list[WatchEvent]], bool],
                  timeout: float = DEADLINE) -> list[WatchEvent]:
    """Events from the watcher until `done(events)` holds; fails after `timeout`."""
    events: list[WatchEvent] = []

    async def run() -> None:
        async for batch in watcher:
            events.extend(batch)
            if done(events):
                return

    try:
        await asyncio.wait_for(run(), timeout)
    except TimeoutError:
        pytest.fail(f"watch did not deliver in {timeout}s; got {[(e.type, e.kv.key) for e in events]}")
    return events


async def wait_until(check: Callable[[], bool], timeout: float = DEADLINE) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            pytest.fail("condition not met in time")
        await asyncio.sleep(0.01)


# -- keys ------------------------------------------------------------------------------------


async def test_create_get(store: Store) -> None:
    before = store.revision
    value = bytes(range(256)) + "é\u2603".encode()
    kv = await store.create("/registry/a/one", value)
    assert kv.key == "/registry/a/one"
    assert kv.value == value
    assert kv.create_revision == kv.mod_revision > before
    assert store.revision >= kv.mod_revision
    assert await store.get("/registry/a/one") == kv
    assert await store.get("/registry/a/missing") is None
    with pytest.raises(KeyExistsError) as exc:
        await store.create("/registry/a/one", b"again")
    assert exc.value.key == "/registry/a/one"
    assert (await store.get("/registry/a/one")) == kv


async def test_update_and_cas(store: Store) -> None:
    first = await store.create("/k", b"1")
    second = await store.update("/k", b"2")
    assert second.value == b"2"
    assert second.create_revision == first.create_revision
    assert second.mod_revision > first.mod_revision

    third = await store.update("/k", b"3", expected_mod_revision=second.mod_revision)
    assert third.mod_revision > second.mod_revision
    with pytest.raises(ConflictError) as exc:
        await store.update("/k", b"stale", expected_mod_revision=second.mod_revision)
    assert (exc.value.expected, exc.value.actual) == (second.mod_revision, third.mod_revision)
    assert (await store.get("/k")) == third

    with pytest.raises(KeyNotFoundError):
        await store.update("/nope", b"x")
    with pytest.raises(KeyNotFoundError):
        await store.update("/nope", b"x", expected_mod_revision=third.mod_revision)
    assert await store.get("/nope") is None


async def test_delete(store: Store) -> None:
    kv = await store.create("/d", b"v")
    with pytest.raises(ConflictError):
        await store.delete("/d", expected_mod_revision=kv.mod_revision + 1000)
    prev, rev = await store.delete("/d", expected_mod_revision=kv.mod_revision)
    assert prev == kv
    assert rev > kv.mod_revision
    assert store.revision >= rev
    assert await store.get("/d") is None
    with pytest.raises(KeyNotFoundError):
        await store.delete("/d")
    # A key created again is a new key: a new create revision.
    again = await store.create("/d", b"w")
    assert again.create_revision > rev
    prev2, _ = await store.delete("/d")
    assert prev2 == again


async def test_range(store: Store) -> None:
    keys = [f"/registry/pods/ns/p{i:02d}" for i in range(12)]
    for k in reversed(keys):
        await store.create(k, k.encode())
    await store.create("/registry/pods/nsx/other", b"x")  # shares the text prefix "ns" but not "ns/"
    await store.create("/registry/podsx", b"x")

    res = await store.range("/registry/pods/ns/")
    assert [kv.key for kv in res.kvs] == keys
    assert [kv.value for kv in res.kvs] == [k.encode() for k in keys]
    assert (res.count, res.more) == (12, False)
    assert res.revision >= max(kv.mod_revision for kv in res.kvs)

    page = await store.range("/registry/pods/ns/", limit=5)
    assert [kv.key for kv in page.kvs] == keys[:5]
    assert (page.count, page.more) == (12, True)

    # Paging with start_after visits every key once; count stays the size of the whole prefix.
    seen: list[str] = []
    after: str | None = None
    while True:
        page = await store.range("/registry/pods/ns/", start_after=after, limit=5)
        assert page.count == 12
        seen.extend(kv.key for kv in page.kvs)
        if not page.more:
            break
        after = page.kvs[-1].key
    assert seen == keys

    tail = await store.range("/registry/pods/ns/", start_after=keys[-1])
    assert (tail.kvs, tail.more, tail.count) == ([], False, 12)
    between = await store.range("/registry/pods/ns/", start_after="/registry/pods/ns/p05x", limit=2)
    assert [kv.key for kv in between.kvs] == keys[6:8]
    assert between.more

    everything = await store.range("/registry/")
    assert everything.count == 14
    assert (await store.range("/nothing/")).count == 0


# -- watch -----------------------------------------------------------------------------------


async def test_watch_from_now(store: Store) -> None:
    w = await store.watch("/w/", store.revision)
    try:
        created = await store.create("/w/a", b"1")
        await store.create("/elsewhere/a", b"not for the watcher")
        updated = await store.update("/w/a", b"2")
        deleted, del_rev = await store.delete("/w/a")
        await store.create("/w/b", b"3")
        events = await collect(w, lambda evs: len(evs) >= 4)
    finally:
        await w.close()
    assert [(e.type, e.kv.key) for e in events] == [
        (EventType.PUT, "/w/a"), (EventType.PUT, "/w/a"), (EventType.DELETE, "/w/a"), (EventType.PUT, "/w/b"),
    ]
    revisions = [e.revision for e in events]
    assert revisions == sorted(set(revisions))
    put, upd, dele, _ = events
    assert put.kv == created and put.prev is None
    assert upd.kv == updated and upd.prev == created
    assert dele.prev == updated == deleted
    assert dele.kv.mod_revision == dele.revision == del_rev
    assert dele.kv.value == b"2"  # DELETE carries the last value
    assert w.revision >= events[-1].revision


async def test_watch_from_past_revision(store: Store) -> None:
    start = store.revision
    written = [await store.create(f"/h/{i}", str(i).encode()) for i in range(20)]
    await store.create("/other/x", b"x")
    mid = written[9].mod_revision
    await store.update("/h/0", b"changed")
    await store.delete("/h/1")

    w = await store.watch("/h/", start)
    try:
        events = await collect(w, lambda evs: len(evs) >= 22)
    finally:
        await w.close()
    assert [e.kv.key for e in events[:20]] == [kv.key for kv in written]
    assert [e.kv for e in events[:20]] == written
    assert (events[20].type, events[20].kv.key, events[20].kv.value) == (EventType.PUT, "/h/0", b"changed")
    assert events[20].prev == written[0]
    assert (events[21].type, events[21].kv.key, events[21].prev) == (EventType.DELETE, "/h/1", written[1])
    assert [e.revision for e in events] == sorted({e.revision for e in events})

    w2 = await store.watch("/h/", mid)
    try:
        later = await collect(w2, lambda evs: len(evs) >= 12)
    finally:
        await w2.close()
    assert later[0].kv == written[10]
    assert all(e.revision > mid for e in later)


async def test_watch_many_watchers_and_close(store: Store) -> None:
    watchers = [await store.watch(f"/m/{i}/", store.revision) for i in range(5)]
    for i in range(5):
        await store.create(f"/m/{i}/k", str(i).encode())
    for i, w in enumerate(watchers):
        events = await collect(w, lambda evs: len(evs) >= 1)
        assert [(e.kv.key, e.kv.value) for e in events] == [(f"/m/{i}/k", str(i).encode())]
    # Closing ends the iteration of a consumer that waits for more.
    w = watchers[0]
    waiting = asyncio.ensure_future(w.__aiter__().__anext__())
    await asyncio.sleep(0.05)
    await w.close()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(waiting, DEADLINE)
    for w in watchers[1:]:
        await w.close()


async def test_watch_next_survives_cancellation(store: Store) -> None:
    """A consumer may cancel a pending __anext__ (to send a bookmark) and ask again."""
    w = await store.watch("/c/", store.revision)
    try:
        it = w.__aiter__()
        pending = asyncio.ensure_future(it.__anext__())
        await asyncio.sleep(0.05)
        pending.cancel()
        with pytest.raises(asyncio.CancelledError):
            await pending
        kv = await store.create("/c/x", b"1")
        batch = await asyncio.wait_for(it.__anext__(), DEADLINE)
        assert [e.kv for e in batch] == [kv]
    finally:
        await w.close()


async def test_watcher_revision_progresses_without_events(store: Store) -> None:
    w = await store.watch("/quiet/", store.revision)
    seen: list[WatchEvent] = []

    async def consume() -> None:
        async for batch in w:
            seen.extend(batch)

    consumer = asyncio.ensure_future(consume())
    try:
        kv = await store.create("/noisy/x", b"x")
        await wait_until(lambda: w.revision >= kv.mod_revision)
        assert seen == []
        inside = await store.create("/quiet/y", b"y")
        await wait_until(lambda: len(seen) == 1)
        assert seen[0].kv == inside
        assert w.revision >= inside.mod_revision
    finally:
        await w.close()
        await asyncio.wait_for(consumer, DEADLINE)


async def test_watch_from_future_revision_skips_earlier_changes(store: Store) -> None:
    now = store.revision
    w = await store.watch("/f/", now + 2)
    try:
        await store.create("/f/1", b"1")  # now + 1: before the watch's start
        await store.create("/f/2", b"2")  # now + 2: still not after it
        third = await store.create("/f/3", b"3")
        events = await collect(w, lambda evs: len(evs) >= 1)
    finally:
        await w.close()
    assert [e.kv for e in events] == [third]


# -- compaction ------------------------------------------------------------------------------


async def test_compaction(store: Store) -> None:
    first = await store.create("/cp/k", b"0")
    for i in range(1, 5):
        await store.update("/cp/k", str(i).encode())
    rev = store.revision
    await store.compact(rev)
    assert store.compacted_revision >= rev
    with pytest.raises(CompactedError) as exc:
        await store.watch("/cp/", first.mod_revision)
    assert exc.value.requested == first.mod_revision
    assert exc.value.compacted >= rev - 1
    # From the compaction revision on, watches work; the data itself is untouched.
    w = await store.watch("/cp/", rev)
    try:
        later = await store.update("/cp/k", b"after")
        events = await collect(w, lambda evs: len(evs) >= 1)
        assert [e.kv for e in events] == [later]
    finally:
        await w.close()
    assert (await store.get("/cp/k")) == later
    # Compacting again to an older revision changes nothing.
    await store.compact(first.mod_revision)
    assert store.compacted_revision >= rev


# -- concurrency -----------------------------------------------------------------------------


async def test_many_concurrent_creates(store: Store) -> None:
    n = 2000
    start = store.revision
    w = await store.watch("/many/", start)
    try:
        kvs = await asyncio.gather(*(store.create(f"/many/{i:05d}", f"v{i}".encode()) for i in range(n)))
        revisions = sorted(kv.mod_revision for kv in kvs)
        assert len(set(revisions)) == n
        assert revisions[0] > start
        assert revisions[-1] - revisions[0] == n - 1  # nothing else wrote: one revision each
        assert store.revision >= revisions[-1]
        res = await store.range("/many/", limit=10)
        assert res.count == n
        for i in (0, n // 2, n - 1):
            got = await store.get(f"/many/{i:05d}")
            assert got is not None and got.value == f"v{i}".encode()
        events = await collect(w, lambda evs: len(evs) >= n, timeout=30)
        assert [e.revision for e in events] == revisions
        assert {e.kv.key for e in events} == {kv.key for kv in kvs}
    finally:
        await w.close()


async def test_concurrent_conflicting_updates(store: Store) -> None:
    """Of many writers racing on one mod revision, exactly one wins."""
    kv = await store.create("/race", b"0")
    results = await asyncio.gather(
        *(store.update("/race", str(i).encode(), expected_mod_revision=kv.mod_revision) for i in range(20)),
        return_exceptions=True,
    )
    winners = [r for r in results if not isinstance(r, BaseException)]
    assert len(winners) == 1
    assert all(isinstance(r, ConflictError) for r in results if isinstance(r, BaseException))
    assert (await store.get("/race")) == winners[0]
