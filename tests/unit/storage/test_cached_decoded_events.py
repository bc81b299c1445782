"""CachedStore writes that carry their decoded object to live watchers (CARRIES_DECODED)."""

from __future__ import annotations

import gc
import weakref
from typing import Any

from kfed.storage.cached import CachedStore
from kfed.storage.protocol import CARRIES_DECODED, EventType, WatchEvent


class Obj(dict[str, Any]):
    """A dict that a weak reference can follow (to see what the store still holds)."""


async def test_live_watchers_get_the_object_built_for_the_writes_revision() -> None:
    store = CachedStore()
    await store.start()
    try:
        assert getattr(store, CARRIES_DECODED) is True
        w = await store.watch("/a/", store.revision)
        seen: list[int] = []

        def decoded(revision: int) -> Obj:
            seen.append(revision)
            return Obj(value=1, revision=revision)

        kv = await store.create("/a/x", b'{"value":1}', decoded=decoded)
        kv2 = await store.update("/a/x", b'{"value":2}', kv.mod_revision, decoded=lambda r: Obj(value=2, revision=r))
        await store.update("/a/x", b'{"value":3}', kv2.mod_revision)  # a write without one
        batch: list[WatchEvent] = []
        while len(batch) < 3:
            more = await w.next_batch(1.0)
            assert more is not None
            batch += more
        assert [e.type for e in batch] == [EventType.PUT] * 3
        assert seen == [kv.mod_revision], "called once, with the revision the write got"
        assert [e.decoded for e in batch] == [{"value": 1, "revision": kv.mod_revision},
                                             {"value": 2, "revision": kv2.mod_revision}, None]
        assert batch[0].kv == kv and (await store.get("/a/x")) is not None
    finally:
        await store.close()


async def test_history_and_state_keep_no_decoded_object() -> None:
    store = CachedStore(history=100)
    await store.start()
    try:
        start = store.revision
        made = [Obj(value=1)]
        ref = weakref.ref(made[0])
        await store.create("/a/x", b'{"value":1}', decoded=lambda r: made.pop())
        gc.collect()
        assert ref() is None, "no live watcher: nothing keeps the object"
        replay = await store.watch("/a/", start)  # a watch from the past replays history: values only
        batch = await replay.next_batch(1.0)
        assert batch is not None and batch[0].decoded is None and batch[0].kv.value == b'{"value":1}'
    finally:
        await store.close()
