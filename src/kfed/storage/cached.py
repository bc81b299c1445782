"""CachedStore: the whole key space in memory, made durable by a journal with group commit.

Reads (get, range, watch) are served from memory on the event loop. A write is checked against
the latest state (committed plus pending) on the loop, given the next revision, and queued; one
flush at a time hands the queued batch to the journal (in a thread for a disk journal), and only
when the journal has committed are the writes applied to the readable state, sent to watchers and
acknowledged. So a reader never sees a write that a crash could still lose, and many concurrent
writes share one commit.
"""

from __future__ import annotations

import asyncio
import bisect
from collections import deque
from dataclasses import dataclass
from typing import Protocol

from kfed.storage.protocol import (
    CompactedError,
    ConflictError,
    Decoded,
    EventType,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    RangeResult,
    StoreError,
    WatchEvent,
)


@dataclass(frozen=True, slots=True)
class JournalState:
    """What a journal holds at start: every live key and the revisions."""

    kvs: dict[str, KeyValue]
    revision: int
    compacted_revision: int


class Journal(Protocol):
    """Durable storage under a CachedStore. `commit` must not return before the batch is durable."""

    #: commit runs in a worker thread when true (disk I/O); inline on the loop when false.
    blocking: bool

    def load(self) -> JournalState: ...

    def commit(self, events: list[WatchEvent], revision: int) -> None: ...

    def compact(self, revision: int) -> None: ...

    def close(self) -> None: ...


class MemoryJournal:
    """Keeps nothing: a store that lives as long as its process (simulated clusters, unit tests)."""

    blocking = False

    def load(self) -> JournalState:
        return JournalState({}, 0, 0)

    def commit(self, events: list[WatchEvent], revision: int) -> None:
        return None

    def compact(self, revision: int) -> None:
        return None

    def close(self) -> None:
        return None


MERGED_EVENTS = 1000  # events at most in one batch merged from several writes


class _Watcher:
    """Batches for one watch, in a deque with at most one waiting consumer.

    No asyncio.Queue and no task per batch: with a thousand watchers of one resource every write
    wakes a thousand of these, and `next_batch(timeout)` lets a consumer wait for a batch or a
    bookmark's timeout with one future and one timer handle.
    """

    def __init__(self, store: CachedStore, prefix: str, start_revision: int, max_backlog: int) -> None:
        self._store = store
        self.prefix = prefix
        # Complete up to here; a watch from a future revision counts as complete up to the present.
        self.revision = min(start_revision, store._revision)
        self._after = start_revision  # only changes after this revision are for this watcher
        self._batches: deque[list[WatchEvent] | None] = deque()  # None: the end
        self._waiter: asyncio.Future[None] | None = None
        self._max_backlog = max_backlog
        self._dropped = False
        self._closed = False

    def _put(self, batch: list[WatchEvent] | None) -> None:
        self._batches.append(batch)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def offer(self, events: list[WatchEvent], revision: int) -> None:
        if self._closed:
            return
        after, prefix = self._after, self.prefix
        mine = [e for e in events if e.kv.mod_revision > after and e.kv.key.startswith(prefix)]
        if mine:
            if len(self._batches) >= self._max_backlog:
                self._dropped = True
                self._closed = True
                self._put(None)
                self._store._watchers.discard(self)
                return
            self._put(mine)
        elif not self._batches:
            # Nothing pending for this watcher: it is complete up to the new revision.
            self.revision = max(self.revision, revision)

    def __aiter__(self) -> _Watcher:
        return self

    async def __anext__(self) -> list[WatchEvent]:
        while True:
            batch = await self.next_batch(None)
            if batch is not None:
                return batch

    async def next_batch(self, timeout: float | None) -> list[WatchEvent] | None:
        """The next batch, or None if `timeout` seconds pass first. Ends with StopAsyncIteration
        (closed) or StoreError (dropped). Cancelling a wait loses nothing."""
        if not self._batches:
            loop = asyncio.get_running_loop()
            waiter = self._waiter = loop.create_future()
            timer = loop.call_later(timeout, _wake, waiter) if timeout is not None else None
            try:
                await waiter
            finally:
                self._waiter = None
                if timer is not None:
                    timer.cancel()
            if not self._batches:
                return None
        batch = self._batches[0]
        if batch is None:  # stay ended for later calls
            if self._dropped:
                raise StoreError("watcher dropped: it fell too far behind")
            raise StopAsyncIteration
        self._batches.popleft()
        if self._batches and self._batches[0] is not None:
            # Several writes piled up while the watcher was busy: hand them over together (an
            # HTTP watch then sends them in one write), up to a bound.
            batch = list(batch)
            while self._batches and (more := self._batches[0]) is not None and len(batch) < MERGED_EVENTS:
                self._batches.popleft()
                batch.extend(more)
        self.revision = max(self.revision, batch[-1].revision)
        if not self._batches:
            self.revision = max(self.revision, self._store._revision_seen_by_watchers)
        return batch

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._put(None)
        self._store._watchers.discard(self)



def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


@dataclass(slots=True)
class _PendingWrite:
    event: WatchEvent
    future: asyncio.Future[None]


class CachedStore:
    """A Store over a journal. `history` bounds the events kept for watches that start in the past."""

    def __init__(self, journal: Journal | None = None, *, history: int = 50_000, max_watch_backlog: int = 10_000):
        self._journal: Journal = journal or MemoryJournal()
        self._history_limit = history
        self._max_watch_backlog = max_watch_backlog
        self._committed: dict[str, KeyValue] = {}
        self._keys: list[str] = []  # sorted keys of _committed, for prefix ranges
        # latest not-yet-committed write per key: (its revision, value or None for a delete)
        self._pending: dict[str, tuple[int, KeyValue | None]] = {}
        self._queue: list[_PendingWrite] = []
        self._next_revision = 0
        self._revision = 0
        self._revision_seen_by_watchers = 0
        self._compacted = 0
        self._history: deque[WatchEvent] = deque()
        self._watchers: set[_Watcher] = set()
        self._flushing = False
        self._flush_done: asyncio.Event | None = None
        # The one background flush of a disk journal. Held here because the loop keeps only a
        # weak reference to a task (a collected flush would leave its writers waiting forever),
        # and one at a time because a task per write made every write of a group wake them all.
        self._flush_task: asyncio.Task[None] | None = None
        self._closed = False

    async def start(self) -> None:
        state = await self._run_journal(self._journal.load)
        self._committed = dict(state.kvs)
        self._keys = sorted(self._committed)
        self._revision = self._next_revision = self._revision_seen_by_watchers = state.revision
        # History before this start is not kept in memory: watches must start from here.
        self._compacted = state.revision

    async def close(self) -> None:
        self._closed = True
        while self._queue or self._flushing:
            await self._flush()
        for w in list(self._watchers):
            await w.close()
        await self._run_journal(self._journal.close)

    @property
    def revision(self) -> int:
        return self._revision

    @property
    def compacted_revision(self) -> int:
        return self._compacted

    # -- reads ---------------------------------------------------------------------------

    async def get(self, key: str) -> KeyValue | None:
        return self._committed.get(key)

    async def range(self, prefix: str, *, start_after: str | None = None, limit: int = 0) -> RangeResult:
        return self.range_now(prefix, start_after=start_after, limit=limit)

    def range_now(self, prefix: str, *, start_after: str | None = None, limit: int = 0) -> RangeResult:
        """The same as range(), callable without awaiting (the state is in memory)."""
        keys = self._keys
        lo = bisect.bisect_left(keys, prefix)
        hi = bisect.bisect_left(keys, prefix + "\U0010ffff", lo)
        count = hi - lo
        start = lo if start_after is None else max(lo, bisect.bisect_right(keys, start_after, lo, hi))
        end = hi if limit <= 0 else min(hi, start + limit)
        committed = self._committed
        kvs = [committed[k] for k in keys[start:end]]
        return RangeResult(kvs=kvs, revision=self._revision, more=end < hi, count=count)

    def get_now(self, key: str) -> KeyValue | None:
        return self._committed.get(key)

    # -- writes --------------------------------------------------------------------------

    def _latest(self, key: str) -> KeyValue | None:
        pending = self._pending.get(key)
        if pending is not None:
            return pending[1]
        return self._committed.get(key)

    #: create and update take `decoded` (see kfed.storage.protocol.CARRIES_DECODED)
    carries_decoded = True

    async def create(self, key: str, value: bytes, *, decoded: Decoded | None = None) -> KeyValue:
        """`decoded(revision)`: the object `value` encodes, as readers see it at the revision this
        write gets; live watchers receive it with the event (history and the committed state keep
        only the value)."""
        if self._latest(key) is not None:
            raise KeyExistsError(key)
        rev = self._next_revision + 1
        kv = KeyValue(key, value, rev, rev)
        await self._write(WatchEvent(EventType.PUT, kv, None, None if decoded is None else decoded(rev)))
        return kv

    async def update(self, key: str, value: bytes, expected_mod_revision: int | None = None, *,
                     decoded: Decoded | None = None) -> KeyValue:
        prev = self._latest(key)
        if prev is None:
            raise KeyNotFoundError(key)
        if expected_mod_revision is not None and prev.mod_revision != expected_mod_revision:
            raise ConflictError(key, expected_mod_revision, prev.mod_revision)
        rev = self._next_revision + 1
        kv = KeyValue(key, value, prev.create_revision, rev)
        await self._write(WatchEvent(EventType.PUT, kv, prev, None if decoded is None else decoded(rev)))
        return kv

    async def delete(self, key: str, expected_mod_revision: int | None = None) -> tuple[KeyValue, int]:
        prev = self._latest(key)
        if prev is None:
            raise KeyNotFoundError(key)
        if expected_mod_revision is not None and prev.mod_revision != expected_mod_revision:
            raise ConflictError(key, expected_mod_revision, prev.mod_revision)
        rev = self._next_revision + 1
        tomb = KeyValue(key, prev.value, prev.create_revision, rev)
        await self._write(WatchEvent(EventType.DELETE, tomb, prev))
        return prev, rev

    async def _write(self, event: WatchEvent) -> None:
        if self._closed:
            raise StoreError("store is closed")
        self._next_revision = event.kv.mod_revision
        self._pending[event.kv.key] = (event.revision, event.kv if event.type is EventType.PUT else None)
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append(_PendingWrite(event, fut))
        if not self._journal.blocking:
            # In-memory journal: commit at once, no batching needed.
            await self._flush()
        elif self._flush_task is None or self._flush_task.done():
            self._flush_task = asyncio.get_running_loop().create_task(self._flush())
        await fut

    async def _flush(self) -> None:
        while self._flushing:
            assert self._flush_done is not None
            await self._flush_done.wait()
        if not self._queue:
            return
        self._flushing = True
        self._flush_done = asyncio.Event()
        try:
            while self._queue:
                batch, self._queue = self._queue, []
                events = [w.event for w in batch]
                revision = events[-1].revision
                try:
                    await self._run_journal(self._journal.commit, events, revision)
                except Exception as exc:  # the journal failed: nothing in this batch is durable
                    # The writers hear of it through their futures; raising here would only
                    # reach a background task nobody awaits.
                    self._fail_batch(batch, exc)
                    return
                except BaseException as exc:  # cancelled (loop shutting down): fail the writers too
                    self._fail_batch(batch, exc)
                    raise
                self._apply(events, revision)
                for w in batch:
                    if not w.future.done():
                        w.future.set_result(None)
        finally:
            self._flushing = False
            self._flush_done.set()

    def _fail_batch(self, batch: list[_PendingWrite], exc: BaseException) -> None:
        # Roll the overlay back to committed state so later writes are checked against truth.
        for w in batch:
            self._pending.pop(w.event.kv.key, None)
        for w in self._queue:
            self._pending.pop(w.event.kv.key, None)
        self._next_revision = self._revision
        err = StoreError(f"journal commit failed: {exc}")
        for w in batch + self._queue:
            if not w.future.done():
                w.future.set_exception(err)
        self._queue = []

    def _apply(self, events: list[WatchEvent], revision: int) -> None:
        committed, keys = self._committed, self._keys
        for ev in events:
            key = ev.kv.key
            if ev.type is EventType.PUT:
                if key not in committed:
                    bisect.insort(keys, key)
                committed[key] = ev.kv
            else:
                if committed.pop(key, None) is not None:
                    i = bisect.bisect_left(keys, key)
                    if i < len(keys) and keys[i] == key:
                        del keys[i]
            pending = self._pending.get(key)
            if pending is not None and pending[0] == ev.revision:
                del self._pending[key]  # nothing newer is pending for this key
        self._revision = revision
        # History keeps events without their decoded objects: those would hold thousands of
        # decoded objects alive (memory, garbage-collector work) for watches that rarely replay.
        self._history.extend(e if e.decoded is None else WatchEvent(e.type, e.kv, e.prev) for e in events)
        overflow = len(self._history) - self._history_limit
        if overflow > 0:
            for _ in range(overflow):
                self._compacted = self._history.popleft().revision
        self._revision_seen_by_watchers = revision
        for w in list(self._watchers):
            w.offer(events, revision)

    # -- watch ---------------------------------------------------------------------------

    async def watch(self, prefix: str, start_revision: int) -> _Watcher:
        if start_revision < self._compacted:
            raise CompactedError(start_revision, self._compacted)
        w = _Watcher(self, prefix, start_revision, self._max_watch_backlog)
        if start_revision < self._revision:
            backlog = [e for e in self._history if e.revision > start_revision and e.kv.key.startswith(prefix)]
            if backlog:
                w._put(backlog)
            else:
                w.revision = self._revision
        self._watchers.add(w)
        return w

    async def compact(self, revision: int) -> None:
        revision = min(revision, self._revision)
        while self._history and self._history[0].revision <= revision:
            self._history.popleft()
        self._compacted = max(self._compacted, revision)
        await self._run_journal(self._journal.compact, revision)

    async def _run_journal(self, fn, *args):  # type: ignore[no-untyped-def]
        if self._journal.blocking:
            return await asyncio.to_thread(fn, *args)
        return fn(*args)
