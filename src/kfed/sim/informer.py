"""List+watch of one resource inside a simulated cluster, in process (through ObjectService).

Handlers get (event type, object) for every change, synchronously, in revision order. The
objects are shared with the API's decode cache: handlers must not mutate them. When the watch
ends (the store dropped a watcher that fell behind, say) the informer lists again and reports
what disappeared meanwhile as DELETED, so handlers never need to tell a relist from a change.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from kfed.api import errors as E
from kfed.api.objects import ObjectService
from kfed.model.resource import Obj, ResourceType
from kfed.sim.views import key_of

log = logging.getLogger("kfed.sim.informer")

Handler = Callable[[str, Obj], None]


def _key(obj: Obj) -> str:
    meta = obj.get("metadata", {})
    return key_of(meta.get("namespace", "") or "", meta.get("name", ""))


class Informer:
    def __init__(self, objects: ObjectService, rt: ResourceType, *, name: str = "") -> None:
        self.objects = objects
        self.rt = rt
        self.name = name or rt.plural
        self._handlers: list[Handler] = []
        self._known: set[str] = set()
        self.synced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def add_handler(self, handler: Handler) -> None:
        self._handlers.append(handler)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"informer-{self.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _dispatch(self, event: str, obj: Obj) -> None:
        for handler in self._handlers:
            try:
                handler(event, obj)
            except Exception:  # a handler bug must not stop the other handlers or the watch
                log.exception("informer handler failed resource=%s", self.name)

    async def _run(self) -> None:
        backoff = 0.05
        while True:
            try:
                await self._list_and_watch()
                backoff = 0.05
            except asyncio.CancelledError:
                raise
            except E.ApiError as e:
                log.info("watch ended resource=%s code=%s msg=%s; listing again", self.name, e.code, e.message)
            except Exception:
                log.exception("list+watch failed resource=%s; listing again", self.name)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)

    async def _list_and_watch(self) -> None:
        listed = await self.objects.list(self.rt, None, copy_items=False)
        present: set[str] = set()
        for obj in listed.items:
            key = _key(obj)
            present.add(key)
            self._dispatch("MODIFIED" if key in self._known else "ADDED", obj)
        for key in self._known - present:
            ns, _, name = key.rpartition("/")
            self._dispatch("DELETED", {"metadata": {"namespace": ns, "name": name}})
        self._known = present
        self.synced.set()
        stream = await self.objects.watch(self.rt, None, resource_version=listed.resource_version)
        try:
            async for item in stream:
                if item.type == "ERROR":
                    return  # too far behind: list again
                if item.type == "BOOKMARK":
                    continue
                key = _key(item.object)
                if item.type == "DELETED":
                    self._known.discard(key)
                else:
                    self._known.add(key)
                self._dispatch(item.type, item.object)
        finally:
            await stream.aclose()  # type: ignore[attr-defined]
