"""The reconcile loop every simulated controller runs: keys from a WorkQueue, retried with backoff."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from kfed.api import errors as E
from kfed.runtime.workqueue import WorkQueue

log = logging.getLogger("kfed.sim.controller")

_FIRST_RETRY = 0.01
_MAX_RETRY = 5.0


class Controller:
    #: also the field manager of the controller's writes
    name = "controller"

    def __init__(self, cluster: str) -> None:
        self.cluster = cluster
        self.queue = WorkQueue()
        self._retries: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._work(), name=f"{self.cluster}/{self.name}")

    async def stop(self) -> None:
        self.queue.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def reconcile(self, key: str) -> None:
        raise NotImplementedError

    async def _work(self) -> None:
        while True:
            key = await self.queue.get()
            if key is None:
                return
            try:
                await self.reconcile(key)
                self._retries.pop(key, None)
            except asyncio.CancelledError:
                raise
            except E.ApiError as e:
                if e.code == 404:
                    self._retries.pop(key, None)  # gone meanwhile: its deletion event follows
                else:
                    self._retry(key, f"{e.code} {e.message}")
            except Exception as e:  # a bug in one key must not stop the controller
                log.exception("reconcile failed cluster=%s controller=%s key=%s", self.cluster, self.name, key)
                self._retry(key, type(e).__name__)
            finally:
                self.queue.done(key)

    def _retry(self, key: str, why: str) -> None:
        n = self._retries.get(key, 0)
        self._retries[key] = n + 1
        delay = min(_FIRST_RETRY * (2 ** n), _MAX_RETRY)
        log.info("retrying cluster=%s controller=%s key=%s in %.2fs: %s", self.cluster, self.name, key, delay, why)
        self.queue.add_after(key, delay)
