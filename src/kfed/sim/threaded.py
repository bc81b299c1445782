"""Something with async start()/stop() (a SimFleet, the whole embedded federation) on its own event
loop in a background thread, for synchronous callers (tests that run the real kubectl, scripts).

    with FleetThread(seed_layout(), data_dir=tmp, kubeconfig=tmp / "kubeconfig") as sim:
        sim.call(lambda fleet: fleet.fault("us-central1-f", "down"))
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any, Generic, Protocol, TypeVar

from kfed.sim.fleet import SimFleet

T = TypeVar("T")


class Startable(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


S = TypeVar("S", bound=Startable)


class LoopThread(Generic[S]):
    """Runs `target.start()` on a new loop in a thread, keeps the loop alive until stop()."""

    def __init__(self, target: S, name: str = "kfed-loop") -> None:
        self.target = target
        self.name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._stop: asyncio.Event | None = None

    def start(self, timeout: float = 120.0) -> S:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        if not self._started.wait(timeout):
            raise TimeoutError(f"{self.name} did not start within {timeout}s")
        if self._error is not None:
            raise self._error
        return self.target

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        finally:
            loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        try:
            await self.target.start()
        except BaseException as e:  # reported to start()'s caller
            self._error = e
            self._started.set()
            return
        self._started.set()
        try:
            await self._stop.wait()
        finally:
            await self.target.stop()

    def call(self, fn: Callable[[S], Awaitable[T]], timeout: float = 60.0) -> T:
        """Run fn(target) on the target's loop and return its result."""
        assert self._loop is not None

        async def run() -> T:
            return await fn(self.target)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout)

    def stop(self, timeout: float = 60.0) -> None:
        if self._loop is not None and self._stop is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self) -> LoopThread[S]:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class FleetThread(LoopThread[SimFleet]):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(SimFleet(*args, **kwargs), name="kfed-sim")

    @property
    def fleet(self) -> SimFleet:
        return self.target
