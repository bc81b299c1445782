"""kfed in one process (EmbeddedFederation) on its own event loop in a thread, for tests that run
the real kubectl and dig against it while still reaching inside (controller counters, the fleet)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from kfed.cli.embedded import EmbeddedFederation, EmbeddedOptions
from kfed.controllers.manager import FederationSettings, ManagerOptions
from tests.support.kubectl import Kubectl

T = TypeVar("T")


class FederationThread:
    def __init__(self, options: EmbeddedOptions) -> None:
        self.federation = EmbeddedFederation(options)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._stop: asyncio.Event | None = None

    def start(self, timeout: float = 180.0) -> EmbeddedFederation:
        self._thread = threading.Thread(target=self._run, name="kfed-embedded", daemon=True)
        self._thread.start()
        if not self._started.wait(timeout):
            raise TimeoutError(f"kfed did not start within {timeout}s")
        if self._error is not None:
            raise self._error
        return self.federation

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
            await self.federation.start()
        except BaseException as e:  # reported to start()'s caller
            self._error = e
            self._started.set()
            return
        self._started.set()
        try:
            await self._stop.wait()
        finally:
            await self.federation.stop()

    def call(self, fn: Callable[[EmbeddedFederation], Awaitable[T]], timeout: float = 60.0) -> T:
        """Run fn(federation) on the federation's loop and wait for its result."""
        assert self._loop is not None
        future = asyncio.run_coroutine_threadsafe(_invoke(fn, self.federation), self._loop)
        return future.result(timeout)

    def stop(self, timeout: float = 60.0) -> None:
        if self._loop is not None and self._stop is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout)


async def _invoke(fn: Callable[[EmbeddedFederation], Awaitable[T]], fed: EmbeddedFederation) -> T:
    return await fn(fed)


@contextmanager
def running_federation(tmp_path: Path, *, sim_layout: str | None = None, sim_clusters: list[str] | None = None,
                       settings: FederationSettings | None = None, monitor_period: float = 0.5,
                       pod_ready_delay: float | None = 0.05, sim_lb_hostnames: list[str] | None = None,
                       **manager: Any) -> Iterator[tuple[FederationThread, Kubectl]]:
    """kfed up in a thread: federation API on a free port, DNS server on a free port, sim clusters."""
    kubeconfig = tmp_path / "kubeconfig"
    options = EmbeddedOptions(
        data_dir=tmp_path / "kfed", kubeconfig=kubeconfig, api_port=0, dns_listen=("127.0.0.1", 0),
        sim_layout=sim_layout, sim_clusters=sim_clusters or [], settings=settings or FederationSettings(),
        manager=ManagerOptions(monitor_period=monitor_period, probe_timeout=1.0, **manager),
        pod_ready_delay=pod_ready_delay, sim_lb_hostnames=sim_lb_hostnames or [])
    thread = FederationThread(options)
    thread.start()
    try:
        yield thread, Kubectl(kubeconfig)
    finally:
        thread.stop()
