"""The namespace lifecycle controller that lives inside every API server.

A deleted namespace goes Terminating; this controller deletes everything in it, waits for
what finalizers still hold, then clears the namespace's `kubernetes` finalizer so it goes.
"""

from __future__ import annotations

import asyncio
import logging

from kfed.api import errors as E
from kfed.api.objects import ObjectService, WriteOptions
from kfed.model.resource import Obj

log = logging.getLogger("kfed.api.namespaces")


class NamespaceFinalizer:
    def __init__(self, objects: ObjectService) -> None:
        self.objects = objects
        self._task: asyncio.Task[None] | None = None
        self._working: dict[str, asyncio.Task[None]] = {}

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        tasks = [t for t in [self._task, *self._working.values()] if t is not None]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self) -> None:
        rt = self.objects.namespaces
        if rt is None:
            return
        while True:
            try:
                stream = await self.objects.watch(rt, None, resource_version="0")
                async for item in stream:
                    if item.type in ("ADDED", "MODIFIED") and item.object["metadata"].get("deletionTimestamp"):
                        self._finalize_soon(item.object["metadata"]["name"])
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - keep the controller alive; the next watch relists
                log.exception("namespace watch failed; restarting")
                await asyncio.sleep(0.5)

    def _finalize_soon(self, name: str) -> None:
        if name in self._working and not self._working[name].done():
            return
        self._working[name] = asyncio.get_running_loop().create_task(self._finalize(name))

    async def _finalize(self, name: str) -> None:
        delay = 0.05
        while True:
            remaining = 0
            for rt in self.objects.resources:
                if not rt.namespaced:
                    continue
                res = await self.objects.list(rt, name, copy_items=False)
                for obj in res.items:
                    remaining += 1
                    if obj["metadata"].get("deletionTimestamp"):
                        continue  # its finalizers are some controller's to clear
                    try:
                        await self.objects.delete(rt, name, obj["metadata"]["name"])
                    except E.ApiError as e:
                        if e.code != 404:
                            log.warning("deleting %s/%s in terminating namespace: %s", rt.plural,
                                        obj["metadata"]["name"], e.message)
            if remaining == 0:
                break
            await asyncio.sleep(delay)  # objects with finalizers: give their controllers time
            delay = min(delay * 2, 1.0)
        ns_rt = self.objects.namespaces
        assert ns_rt is not None

        def clear(ns: Obj) -> None:
            ns.setdefault("spec", {})["finalizers"] = [f for f in ns.get("spec", {}).get("finalizers", [])
                                                       if f != "kubernetes"]

        try:
            await self.objects.modify(ns_rt, None, name, clear, WriteOptions(), subresource="finalize")
        except E.ApiError as e:
            if e.code != 404:
                raise
