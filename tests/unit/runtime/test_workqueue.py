"""WorkQueue: the de-duplicating key queue of the simulated controllers and the service controller."""

from __future__ import annotations

import asyncio

from kfed.runtime.workqueue import WorkQueue


async def test_work_queue_deduplicates_and_requeues_keys_added_while_processing() -> None:
    q = WorkQueue()
    q.add("a")
    q.add("b")
    q.add("a")
    assert len(q) == 2
    key = await q.get()
    assert key == "a"
    q.add("a")  # changed again while being handled: handled again afterwards, not concurrently
    assert await q.get() == "b"
    q.done("b")
    assert len(q) == 0
    q.done("a")
    assert await q.get() == "a"
    q.done("a")


async def test_work_queue_add_after_and_close() -> None:
    q = WorkQueue()
    loop = asyncio.get_running_loop()
    start = loop.time()
    q.add_after("late", 0.05)
    q.add_after("late", 10)  # a later request does not delay an earlier one
    assert await asyncio.wait_for(q.get(), 5) == "late"
    assert loop.time() - start >= 0.04
    q.done("late")
    q.add_after("never", 10)
    q.close()
    assert await asyncio.wait_for(q.get(), 5) is None
