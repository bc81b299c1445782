"""The service controller's two queues: member writes and statuses never wait on each other."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from kfed.controllers.service import ServiceController

Obj = dict[str, Any]


class _Pool:
    def __init__(self) -> None:
        self.handlers: dict[str, list[Any]] = {}
        self.members: dict[str, Any] = {}
        self.on_change: list[Any] = []

    def on(self, kind: str, handler: Any) -> None:
        self.handlers.setdefault(kind, []).append(handler)


class _Clusters:
    def __init__(self) -> None:
        self.on_ready_change: list[Any] = []
        self.on_cluster_deleting: Any = None


def _controller() -> ServiceController:
    ctl = ServiceController(cast(Any, None), cast(Any, _Pool()), cast(Any, _Clusters()), cast(Any, None), "fed",
                            workers=1, status_workers=1)
    for name in ("a", "b", "c"):
        ctl.services.cache[f"ns/{name}"] = {"metadata": {"name": name, "namespace": "ns"}}
    return ctl


def _slice(service: str) -> Obj:
    return {"metadata": {"name": f"{service}-x", "namespace": "ns", "labels": {"kubernetes.io/service-name": service}}}


def test_events_go_to_the_queue_that_acts_on_them() -> None:
    ctl = _controller()
    ctl._on_member_slice("c1", "ADDED", _slice("a"), None)
    assert (len(ctl._writes), len(ctl._statuses)) == (0, 1), "a slice only changes what the status reports"
    ctl._on_member_service("c1", "MODIFIED", {"metadata": {"name": "b", "namespace": "ns"}}, None)
    assert (len(ctl._writes), len(ctl._statuses)) == (1, 2), "a member Service may drift and changes the status"
    ctl._on_fed_service("MODIFIED", {"metadata": {"name": "c", "namespace": "ns"}}, None)
    assert (len(ctl._writes), len(ctl._statuses)) == (2, 2), "a federated change is written first, status after"


async def test_status_passes_run_while_member_writes_are_stuck() -> None:
    ctl = _controller()
    stuck = asyncio.Event()
    written: list[str] = []

    async def write_pass(key: str) -> None:
        await stuck.wait()  # a member that takes its time

    async def status_pass(key: str) -> None:
        written.append(key)

    workers = [asyncio.create_task(ctl._worker(ctl._writes, write_pass)),
               asyncio.create_task(ctl._worker(ctl._statuses, status_pass))]
    try:
        for key in ("ns/a", "ns/b", "ns/c"):
            ctl.enqueue(key)
        ctl.enqueue_status("ns/c")
        async with asyncio.timeout(5):
            while written != ["ns/c"]:
                await asyncio.sleep(0.01)
        assert len(ctl._writes) == 2 and not ctl.idle(), "the write queue is still held up"
        stuck.set()
        async with asyncio.timeout(5):
            while not ctl.idle():
                await asyncio.sleep(0.01)
    finally:
        ctl._writes.close()
        ctl._statuses.close()
        await asyncio.gather(*workers)


async def test_a_busy_controller_writes_a_status_at_most_once_per_interval() -> None:
    ctl = _controller()
    ctl.busy_status_interval = 0.2
    loop = asyncio.get_running_loop()
    assert ctl._defer_status("ns/a") is False, "never written: written now"
    ctl._status_written["ns/a"] = loop.time()
    assert ctl._defer_status("ns/a") is False, "idle: written at once"
    for key in ("ns/a", "ns/b", "ns/c"):
        ctl.enqueue(key)
    ctl.workers = 1  # three Services wait for one worker: busy
    assert ctl.busy()
    assert ctl._defer_status("ns/a") is True
    async with asyncio.timeout(5):
        key = await ctl._statuses.get()  # queued again once the interval is over
    assert key == "ns/a" and loop.time() - ctl._status_written["ns/a"] >= 0.15
