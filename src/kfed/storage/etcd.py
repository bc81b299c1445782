"""EtcdStore: the Store protocol directly on etcd v3, for API servers that share their state.

Revisions are etcd's own: a create is a transaction on create_revision == 0, an update or a
delete with an expected revision one on mod_revision == expected, and a watch is an etcd watch
from start_revision + 1 with prev_kv, so DELETE events carry the last value.

We speak etcd's gRPC API through the generated messages and stubs that `aetcd` ships
(`aetcd.rpc`), not through its high-level `Client`: that client cannot send a range limit, and
its watcher drops the responses without events, which are the progress notifications a
watcher's `revision` advances by when nothing under its prefix changes.

Progress: etcd sends a watch progress notification to idle watchers every
`--experimental-watch-progress-notify-interval` (10 minutes unless configured; kfed's docs
suggest a few seconds). We do not send progress requests ourselves: on etcd before 3.4.25 and
3.5.8 their answer could overtake events not yet delivered.

Keys are stored as `prefix + key` (kfed's keys begin with "/"), so several federations can share
one etcd under different prefixes.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Sequence
from typing import Any

import grpc.aio
from aetcd import rpc

from kfed.storage.etcd_endpoints import DEFAULT_PREFIX, Endpoints, grpc_target, is_ip_address, parse_endpoints
from kfed.storage.protocol import (
    CompactedError,
    ConflictError,
    EventType,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    RangeResult,
    StoreError,
    WatchEvent,
)

_EOF = grpc.aio.EOF  # what a stream call's read() returns at the end of the stream

# etcd's kv.proto Event.EventType
_ETCD_DELETE = 1


# -- pure helpers --------------------------------------------------------------------------


def prefix_range_end(prefix: bytes) -> bytes:
    """The end of the key range of everything that begins with `prefix` (etcd's convention)."""
    end = bytearray(prefix)
    while end:
        if end[-1] < 0xFF:
            end[-1] += 1
            return bytes(end)
        end.pop()
    return b"\0"  # every key: the prefix was empty or all 0xff


def _store_error(exc: BaseException, what: str) -> StoreError:
    if isinstance(exc, rpc.AioRpcError):
        return StoreError(f"etcd {what}: {exc.code().name}: {exc.details()}")
    return StoreError(f"etcd {what}: {exc}")


def _is_compacted(exc: BaseException) -> bool:
    return (
        isinstance(exc, rpc.AioRpcError)
        and exc.code() == rpc.StatusCode.OUT_OF_RANGE
        and "compacted" in (exc.details() or "")
    )


def _is_future_revision(exc: BaseException) -> bool:
    return (
        isinstance(exc, rpc.AioRpcError)
        and exc.code() == rpc.StatusCode.OUT_OF_RANGE
        and "future revision" in (exc.details() or "")
    )


# -- the store -----------------------------------------------------------------------------


class EtcdStore:
    """A Store on an etcd v3 cluster. `endpoints`: "host:port[,host:port]" or a list of them."""

    def __init__(self, endpoints: Endpoints, prefix: str = DEFAULT_PREFIX, *,
                 timeout: float = 10.0, watch_queue: int = 256) -> None:
        self._addresses = parse_endpoints(endpoints)
        self.prefix = prefix
        self._root = prefix.encode()
        self._timeout = timeout
        self._watch_queue = watch_queue
        self._channel: Any = None
        self._kv: Any = None
        self._watch_stub: Any = None
        self._revision = 0
        self._compacted = 0
        self._watchers: set[EtcdWatcher] = set()

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        addresses = self._addresses
        if len(addresses) > 1 and not all(is_ip_address(h) for h, _ in addresses):
            addresses = await self._resolve(addresses)
        options = [
            ("grpc.max_receive_message_length", -1),  # a full list of a big prefix is one message
            # Notice a dead member while a watch waits (etcd allows pings every 5 s or more,
            # and only while a call is open).
            ("grpc.keepalive_time_ms", 30_000),
            ("grpc.keepalive_timeout_ms", 10_000),
        ]
        self._channel = rpc.insecure_channel(grpc_target(addresses), options=options)
        self._kv = rpc.KVStub(self._channel)
        self._watch_stub = rpc.WatchStub(self._channel)
        # One read proves etcd answers and gives the current revision.
        try:
            await self.range("", limit=1)
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        for w in list(self._watchers):
            await w.close()
        if self._channel is not None:
            channel, self._channel = self._channel, None
            self._kv = self._watch_stub = None
            await channel.close()

    @staticmethod
    async def _resolve(addresses: Sequence[tuple[str, int]]) -> list[tuple[str, int]]:
        loop = asyncio.get_running_loop()
        resolved: list[tuple[str, int]] = []
        for host, port in addresses:
            if is_ip_address(host):
                resolved.append((host, port))
                continue
            infos = await loop.getaddrinfo(host, port, family=socket.AF_INET, type=socket.SOCK_STREAM)
            resolved.extend((str(info[4][0]), port) for info in infos)
        return list(dict.fromkeys(resolved))

    @property
    def revision(self) -> int:
        """The latest revision this client has seen etcd at."""
        return self._revision

    @property
    def compacted_revision(self) -> int:
        """The highest compaction this client made or heard of (etcd does not report it)."""
        return self._compacted

    def _saw(self, header: Any) -> None:
        if header.revision > self._revision:
            self._revision = header.revision

    # -- keys ----------------------------------------------------------------------------

    def _etcd_key(self, key: str) -> bytes:
        return self._root + key.encode()

    def _key(self, etcd_key: bytes) -> str:
        return etcd_key[len(self._root):].decode()

    def _kv_of(self, pb: Any) -> KeyValue:
        return KeyValue(self._key(pb.key), bytes(pb.value), pb.create_revision, pb.mod_revision)

    def _stubs(self) -> tuple[Any, Any]:
        if self._kv is None:
            raise StoreError("etcd store is not started, or closed")
        return self._kv, self._watch_stub

    async def _txn(self, request: Any, what: str) -> Any:
        kv, _ = self._stubs()
        try:
            resp = await kv.Txn(request, timeout=self._timeout)
        except rpc.AioRpcError as exc:
            raise _store_error(exc, what) from exc
        self._saw(resp.header)
        return resp

    # -- reads ---------------------------------------------------------------------------

    async def get(self, key: str) -> KeyValue | None:
        kv, _ = self._stubs()
        try:
            resp = await kv.Range(rpc.RangeRequest(key=self._etcd_key(key)), timeout=self._timeout)
        except rpc.AioRpcError as exc:
            raise _store_error(exc, f"get {key}") from exc
        self._saw(resp.header)
        return self._kv_of(resp.kvs[0]) if resp.kvs else None

    async def range(self, prefix: str, *, start_after: str | None = None, limit: int = 0) -> RangeResult:
        lo = self._etcd_key(prefix)
        hi = prefix_range_end(lo)
        if start_after is None:
            kv, _ = self._stubs()
            try:
                resp = await kv.Range(rpc.RangeRequest(key=lo, range_end=hi, limit=max(limit, 0)),
                                      timeout=self._timeout)
            except rpc.AioRpcError as exc:
                raise _store_error(exc, f"range {prefix}") from exc
            self._saw(resp.header)
            return RangeResult([self._kv_of(x) for x in resp.kvs], resp.header.revision, resp.more, resp.count)
        # etcd counts only the keys of the requested range; the protocol wants the whole
        # prefix. Two ranges in one transaction read the same revision.
        start = max(lo, self._etcd_key(start_after) + b"\0")
        ops = [rpc.RequestOp(request_range=rpc.RangeRequest(key=lo, range_end=hi, count_only=True))]
        if start < hi:
            ops.append(rpc.RequestOp(request_range=rpc.RangeRequest(key=start, range_end=hi,
                                                                    limit=max(limit, 0))))
        resp = await self._txn(rpc.TxnRequest(success=ops), f"range {prefix}")
        count = resp.responses[0].response_range.count
        if len(resp.responses) < 2:
            return RangeResult([], resp.header.revision, False, count)
        page = resp.responses[1].response_range
        return RangeResult([self._kv_of(x) for x in page.kvs], resp.header.revision, page.more, count)

    # -- writes --------------------------------------------------------------------------

    def _exists_and_at(self, key: bytes, expected_mod_revision: int | None) -> list[Any]:
        compare = [rpc.Compare(key=key, target=rpc.Compare.CREATE, result=rpc.Compare.GREATER,
                               create_revision=0)]
        if expected_mod_revision is not None:
            compare.append(rpc.Compare(key=key, target=rpc.Compare.MOD, result=rpc.Compare.EQUAL,
                                       mod_revision=expected_mod_revision))
        return compare

    def _refusal(self, key: str, resp: Any, expected_mod_revision: int | None) -> StoreError:
        current = resp.responses[0].response_range.kvs
        if not current:
            return KeyNotFoundError(key)
        assert expected_mod_revision is not None  # only a stale revision fails on a live key
        return ConflictError(key, expected_mod_revision, current[0].mod_revision)

    async def create(self, key: str, value: bytes) -> KeyValue:
        k = self._etcd_key(key)
        resp = await self._txn(rpc.TxnRequest(
            compare=[rpc.Compare(key=k, target=rpc.Compare.CREATE, result=rpc.Compare.EQUAL,
                                 create_revision=0)],
            success=[rpc.RequestOp(request_put=rpc.PutRequest(key=k, value=value))],
        ), f"create {key}")
        if not resp.succeeded:
            raise KeyExistsError(key)
        rev = resp.header.revision
        return KeyValue(key, value, rev, rev)

    async def update(self, key: str, value: bytes, expected_mod_revision: int | None = None) -> KeyValue:
        k = self._etcd_key(key)
        resp = await self._txn(rpc.TxnRequest(
            compare=self._exists_and_at(k, expected_mod_revision),
            success=[rpc.RequestOp(request_put=rpc.PutRequest(key=k, value=value, prev_kv=True))],
            failure=[rpc.RequestOp(request_range=rpc.RangeRequest(key=k))],
        ), f"update {key}")
        if not resp.succeeded:
            raise self._refusal(key, resp, expected_mod_revision)
        prev = resp.responses[0].response_put.prev_kv
        return KeyValue(key, value, prev.create_revision, resp.header.revision)

    async def delete(self, key: str, expected_mod_revision: int | None = None) -> tuple[KeyValue, int]:
        k = self._etcd_key(key)
        resp = await self._txn(rpc.TxnRequest(
            compare=self._exists_and_at(k, expected_mod_revision),
            success=[rpc.RequestOp(request_delete_range=rpc.DeleteRangeRequest(key=k, prev_kv=True))],
            failure=[rpc.RequestOp(request_range=rpc.RangeRequest(key=k))],
        ), f"delete {key}")
        if not resp.succeeded:
            raise self._refusal(key, resp, expected_mod_revision)
        prev = resp.responses[0].response_delete_range.prev_kvs[0]
        return self._kv_of(prev), resp.header.revision

    async def compact(self, revision: int) -> None:
        kv, _ = self._stubs()
        if revision <= self._compacted or revision <= 0:
            return
        try:
            await kv.Compact(rpc.CompactionRequest(revision=revision), timeout=self._timeout)
        except rpc.AioRpcError as exc:
            if _is_compacted(exc):
                pass  # someone compacted further already
            elif _is_future_revision(exc):
                await self.range("", limit=1)  # learn the current revision and compact to it
                revision = min(revision, self._revision)
                if revision <= self._compacted:
                    return
                await self.compact(revision)
                return
            else:
                raise _store_error(exc, f"compact {revision}") from exc
        self._compacted = max(self._compacted, revision)

    def _heard_compacted(self, revision: int) -> None:
        self._compacted = max(self._compacted, revision)

    # -- watch ---------------------------------------------------------------------------

    async def watch(self, prefix: str, start_revision: int) -> EtcdWatcher:
        if start_revision < self._compacted:
            raise CompactedError(start_revision, self._compacted)
        w = EtcdWatcher(self, prefix, start_revision)
        await w._open()
        self._watchers.add(w)
        return w


class _Progress:
    """A progress notification queued behind events: the revision applies once they are out."""

    __slots__ = ("revision",)

    def __init__(self, revision: int) -> None:
        self.revision = revision


_END = object()


class EtcdWatcher:
    """One etcd watch stream. A reader task moves responses into a bounded queue; when the
    consumer falls behind, the queue fills and gRPC flow control makes etcd hold the events
    (etcd's own slow-watcher handling), so nothing here grows without bound."""

    def __init__(self, store: EtcdStore, prefix: str, start_revision: int) -> None:
        self._store = store
        self.prefix = prefix
        self._start = start_revision
        self.revision = start_revision
        self._queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=store._watch_queue)
        self._call: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._closed = False
        self._error: StoreError | None = None

    async def _open(self) -> None:
        store = self._store
        _, watch_stub = store._stubs()
        lo = store._etcd_key(self.prefix)
        self._call = call = watch_stub.Watch()
        try:
            await call.write(rpc.WatchRequest(create_request=rpc.WatchCreateRequest(
                key=lo, range_end=prefix_range_end(lo), start_revision=self._start + 1,
                progress_notify=True, prev_kv=True,
            )))
            created = await asyncio.wait_for(call.read(), store._timeout)
            if created is _EOF or not created.created:
                raise StoreError("etcd did not create the watch")
            store._saw(created.header)
            if created.compact_revision:
                raise self._compacted_error(created.compact_revision)
            current = created.header.revision
            if self._start + 1 <= current:
                await self._check_not_compacted(lo)
            self.revision = min(self._start, current)
        except BaseException as exc:
            call.cancel()
            if isinstance(exc, rpc.AioRpcError):
                raise _store_error(exc, f"watch {self.prefix}") from exc
            if isinstance(exc, TimeoutError):
                raise StoreError(f"etcd watch {self.prefix}: no answer in {store._timeout} s") from exc
            raise
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def _check_not_compacted(self, lo: bytes) -> None:
        """A watch from a compacted revision is refused only by a later message; a read at that
        revision tells now, and the refusal then names the compaction revision."""
        kv, _ = self._store._stubs()
        try:
            await kv.Range(rpc.RangeRequest(key=lo, revision=self._start + 1, count_only=True),
                           timeout=self._store._timeout)
            return
        except rpc.AioRpcError as exc:
            if not _is_compacted(exc):
                raise
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._store._timeout
        while True:
            try:
                resp = await asyncio.wait_for(self._call.read(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                # Compacted past start + 1, we know; by how much, etcd did not say in time.
                raise CompactedError(self._start, max(self._store._compacted, self._start + 2)) from None
            if resp is _EOF:
                raise StoreError(f"etcd watch {self.prefix}: stream ended")
            if resp.compact_revision:
                raise self._compacted_error(resp.compact_revision)

    def _compacted_error(self, etcd_compact_revision: int) -> CompactedError:
        self._store._heard_compacted(etcd_compact_revision)
        return CompactedError(self._start, etcd_compact_revision)

    async def _read(self) -> None:
        store, queue = self._store, self._queue
        try:
            while True:
                resp = await self._call.read()
                if resp is _EOF:
                    raise StoreError(f"etcd watch {self.prefix}: stream ended")
                store._saw(resp.header)
                if resp.compact_revision:
                    raise self._compacted_error(resp.compact_revision)
                if resp.canceled:
                    raise StoreError(f"etcd canceled watch {self.prefix}: {resp.cancel_reason or 'no reason'}")
                if resp.events:
                    await queue.put([self._event(e) for e in resp.events])
                elif not resp.created:
                    # A progress notification: nothing under the prefix up to this revision
                    # that has not been sent already.
                    if queue.empty():
                        self.revision = max(self.revision, resp.header.revision)
                    else:
                        await queue.put(_Progress(resp.header.revision))
        except asyncio.CancelledError:
            raise
        except StoreError as exc:
            await queue.put(exc)
        except Exception as exc:  # noqa: BLE001 - the stream broke: the consumer must re-watch
            if not self._closed:
                await queue.put(_store_error(exc, f"watch {self.prefix}"))

    def _event(self, pb: Any) -> WatchEvent:
        store = self._store
        prev = store._kv_of(pb.prev_kv) if pb.HasField("prev_kv") and pb.prev_kv.key else None
        if pb.type == _ETCD_DELETE:
            key = store._key(pb.kv.key)
            if prev is not None:
                kv = KeyValue(key, prev.value, prev.create_revision, pb.kv.mod_revision)
            else:  # the previous value is compacted away: all we know is that it is gone
                kv = KeyValue(key, b"", 0, pb.kv.mod_revision)
            return WatchEvent(EventType.DELETE, kv, prev)
        return WatchEvent(EventType.PUT, store._kv_of(pb.kv), prev)

    def __aiter__(self) -> EtcdWatcher:
        return self

    async def __anext__(self) -> list[WatchEvent]:
        while True:
            if self._error is not None:
                raise self._error
            if self._closed:
                raise StopAsyncIteration
            item = await self._queue.get()
            if item is _END:
                self._queue.put_nowait(_END)  # stay ended for later calls
                raise StopAsyncIteration
            if isinstance(item, StoreError):
                self._error = item
                raise item
            if isinstance(item, _Progress):
                self.revision = max(self.revision, item.revision)
                continue
            batch: list[WatchEvent] = item
            self.revision = max(self.revision, batch[-1].revision)
            return batch

    async def next_batch(self, timeout: float | None) -> list[WatchEvent] | None:
        """The next batch, or None after `timeout` seconds (Queue.get loses nothing when cancelled)."""
        if timeout is None:
            return await self.__anext__()
        try:
            return await asyncio.wait_for(self.__anext__(), timeout)
        except TimeoutError:
            return None

    async def close(self) -> None:
        self._store._watchers.discard(self)
        if self._closed:
            return
        self._closed = True
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):  # closing anyway
                await self._reader
        if self._call is not None:
            self._call.cancel()
        # Wake a consumer blocked on an empty queue; a full queue has no one waiting on it.
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(_END)
