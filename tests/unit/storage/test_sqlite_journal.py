"""SqliteJournal on its own and under a CachedStore: what survives a restart, and what does not."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from kfed.storage import (
    CachedStore,
    CompactedError,
    EventType,
    JournalState,
    KeyValue,
    SqliteJournal,
    StoreError,
    WatchEvent,
)
from kfed.storage.sqlite import final_writes


def read_journal(path: Path) -> JournalState:
    journal = SqliteJournal(path)
    try:
        return journal.load()
    finally:
        journal.close()


def put(key: str, value: bytes, create: int, mod: int, prev: KeyValue | None = None) -> WatchEvent:
    return WatchEvent(EventType.PUT, KeyValue(key, value, create, mod), prev)


def delete(prev: KeyValue, rev: int) -> WatchEvent:
    return WatchEvent(EventType.DELETE, KeyValue(prev.key, prev.value, prev.create_revision, rev), prev)


def test_final_writes_keeps_the_last_event_of_each_key() -> None:
    a1 = put("/a", b"1", 1, 1)
    b2 = put("/b", b"2", 2, 2)
    a3 = put("/a", b"3", 1, 3, a1.kv)
    b4 = delete(b2.kv, 4)
    c5 = put("/c", b"5", 5, 5)
    puts, deletes = final_writes([a1, b2, a3, b4, c5])
    assert puts == [a3.kv, c5.kv]
    assert deletes == ["/b"]


def test_commit_and_load_roundtrip(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "kfed.db"  # the directory is created
    j = SqliteJournal(path)
    state = j.load()
    assert (state.kvs, state.revision, state.compacted_revision) == ({}, 0, 0)
    blob = bytes(range(256)) * 4
    a1, b2 = put("/a", blob, 1, 1), put("/b", b"", 2, 2)
    j.commit([a1, b2], 2)
    j.commit([put("/a", b"new", 1, 3, a1.kv), delete(b2.kv, 4)], 4)
    j.compact(3)
    j.close()
    j.close()  # closing twice is harmless

    again = SqliteJournal(path)
    state = again.load()
    assert state.revision == 4
    assert state.compacted_revision == 3
    assert state.kvs == {"/a": KeyValue("/a", b"new", 1, 3)}
    assert isinstance(state.kvs["/a"].value, bytes)
    again.close()
    # close() folds the log back: nothing is left to replay.
    wal = Path(str(path) + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0


def test_wal_mode_and_full_sync(tmp_path: Path) -> None:
    j = SqliteJournal(tmp_path / "kfed.db")
    j.load()
    conn = j._connection()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    j.commit([put("/a", b"1", 1, 1)], 1)
    busy, log_pages, done = j.checkpoint()
    assert busy == 0 and done == log_pages
    j.close()


def test_wal_stays_short_under_steady_writes(tmp_path: Path) -> None:
    """Checkpoints fold the log back into the database as it goes, so the log (and the
    recovery after a crash) stays bounded however much is written."""
    path = tmp_path / "kfed.db"
    j = SqliteJournal(path, checkpoint_pages=100)
    j.load()
    wal = Path(str(path) + "-wal")
    largest = 0
    rev = 0
    for batch in range(300):
        events = []
        for i in range(10):
            rev += 1
            events.append(put(f"/k/{batch % 20}/{i}", bytes([batch % 256]) * 4096, rev, rev))
        j.commit(events, rev)
        largest = max(largest, wal.stat().st_size)
    written = 300 * 10 * 4096
    assert largest < 2 * 1024 * 1024 < written
    j.close()
    state = read_journal(path)
    assert state.revision == rev and len(state.kvs) == 200


def test_second_opener_is_refused(tmp_path: Path) -> None:
    first = SqliteJournal(tmp_path / "kfed.db", busy_timeout=0.1)
    first.load()
    second = SqliteJournal(tmp_path / "kfed.db", busy_timeout=0.1)
    with pytest.raises(StoreError, match="in use"):
        second.load()
    first.close()
    assert second.load().revision == 0  # free once the first lets go
    second.close()


def test_commit_is_all_or_nothing(tmp_path: Path) -> None:
    j = SqliteJournal(tmp_path / "kfed.db")
    j.load()
    j.commit([put("/a", b"1", 1, 1)], 1)
    bad = put("/b", None, 2, 2)  # type: ignore[arg-type]  # NOT NULL fails mid-batch
    with pytest.raises(sqlite3.IntegrityError):
        j.commit([put("/c", b"3", 2, 2), bad], 3)
    j.close()
    state = read_journal(tmp_path / "kfed.db")
    assert set(state.kvs) == {"/a"} and state.revision == 1


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "kfed.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(StoreError, match="schema version 99"):
        SqliteJournal(path).load()


async def test_store_restart_keeps_data_and_refuses_old_watches(tmp_path: Path) -> None:
    path = tmp_path / "kfed.db"
    store = CachedStore(SqliteJournal(path))
    await store.start()
    kvs = await asyncio.gather(*(store.create(f"/k/{i}", f"{i}".encode()) for i in range(50)))
    updated = await store.update("/k/3", b"three")
    await store.delete("/k/4")
    rev = store.revision
    await store.close()
    with pytest.raises(StoreError):
        await store.create("/k/late", b"x")

    store = CachedStore(SqliteJournal(path))
    await store.start()
    try:
        assert store.revision == rev
        res = await store.range("/k/")
        assert res.count == 49
        assert (await store.get("/k/3")) == updated
        assert (await store.get("/k/0")) == kvs[0]
        assert await store.get("/k/4") is None
        # History did not survive the restart: watches must start from now.
        with pytest.raises(CompactedError):
            await store.watch("/k/", kvs[0].mod_revision)
        w = await store.watch("/k/", rev)
        nxt = await store.create("/k/new", b"n")
        batch = await asyncio.wait_for(w.__aiter__().__anext__(), 5)
        assert [e.kv for e in batch] == [nxt]
        assert nxt.mod_revision == rev + 1
        await w.close()
    finally:
        await store.close()


class FlakyJournal(SqliteJournal):
    """Fails the next commit when told to."""

    fail_next = False

    def commit(self, events: list[WatchEvent], revision: int) -> None:
        if self.fail_next:
            self.fail_next = False
            raise OSError("disk full")
        super().commit(events, revision)


async def test_failed_commit_fails_its_writers_and_the_store_goes_on(tmp_path: Path) -> None:
    journal = FlakyJournal(tmp_path / "kfed.db")
    store = CachedStore(journal)
    await store.start()
    try:
        ok = await store.create("/a", b"1")
        journal.fail_next = True
        results = await asyncio.gather(store.update("/a", b"2"), store.create("/b", b"2"),
                                       return_exceptions=True)
        assert all(isinstance(r, StoreError) and "disk full" in str(r) for r in results)
        # Nothing of the failed batch is visible, and the next write reuses its revision.
        assert (await store.get("/a")) == ok
        assert await store.get("/b") is None
        assert store.revision == ok.mod_revision
        again = await store.create("/b", b"3")
        assert again.mod_revision == ok.mod_revision + 1
    finally:
        await store.close()
    state = read_journal(tmp_path / "kfed.db")
    assert state.kvs == {"/a": ok, "/b": again}


async def test_slow_watcher_is_dropped(tmp_path: Path) -> None:
    store = CachedStore(SqliteJournal(tmp_path / "kfed.db"), max_watch_backlog=3)
    await store.start()
    try:
        w = await store.watch("/s/", store.revision)
        for i in range(5):  # one batch each: the fourth overflows the backlog
            await store.create(f"/s/{i}", b"x")
        got = []
        with pytest.raises(StoreError, match="behind"):
            async for batch in w:
                got.extend(batch)
        assert len(got) == 3
    finally:
        await store.close()
