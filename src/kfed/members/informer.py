"""Informer: list+watch of one resource through a KubeClient, with a local cache. Never polls.

The loop is client-go's reflector: LIST (paged), then WATCH from the list's resourceVersion with
bookmarks; when the stream ends, watch again from the last resourceVersion seen; on 410 Gone,
LIST again and deliver the difference as events; on connection errors, back off and retry.

Cached objects go through a transform first; the default drops `metadata.managedFields`, as
client-go's informers are commonly set up to do: no controller reads them, and at 50 clusters x
1,000 Services they were about half of the controller-manager's memory.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from typing import Any

from kfed.members.client import ApiCallError, KubeClient, Unreachable

log = logging.getLogger("kfed.informer")

Obj = dict[str, Any]
#: handler(event_type, new_or_last_object, previous_object_or_None)
EventHandler = Callable[[str, Obj, Obj | None], None]
Transform = Callable[[Obj], Obj]


def strip_managed_fields(obj: Obj) -> Obj:
    """The object without metadata.managedFields (changed in place: it was just decoded for us)."""
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        meta.pop("managedFields", None)
    return obj


def object_key(obj: Obj) -> str:
    meta = obj.get("metadata", {})
    ns = meta.get("namespace")
    return f"{ns}/{meta.get('name')}" if ns else str(meta.get("name"))


def _is_older(obj: Obj, than: Obj) -> bool:
    """Whether obj's resourceVersion is below than's. Kubernetes says resourceVersions are opaque,
    but every API server (etcd's revision, ours too) writes them as increasing integers; anything
    else is treated as not older, so our own answer wins as before."""
    try:
        return int(obj["metadata"]["resourceVersion"]) < int(than["metadata"]["resourceVersion"])
    except (KeyError, TypeError, ValueError):
        return False


class Informer:
    def __init__(self, client: KubeClient, path: str, handler: EventHandler | None = None, *,
                 label_selector: str | None = None, field_selector: str | None = None,
                 watch_timeout: int = 290, page_size: int = 500, name: str = "",
                 transform: Transform | None = strip_managed_fields) -> None:
        self.client = client
        self.path = path
        self.handlers: list[EventHandler] = [handler] if handler else []
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.watch_timeout = watch_timeout
        self.page_size = page_size
        self.name = name or path
        self.transform = transform
        self.cache: dict[str, Obj] = {}
        self.synced = asyncio.Event()
        self.resource_version = ""
        self.last_error: str | None = None
        self.lists = 0  # how many LISTs this informer made (relists after 410 included)
        self._task: asyncio.Task[None] | None = None

    def remember(self, obj: Obj) -> Obj:
        """Put the server's answer to our own write in the cache (transformed), so the next pass
        sees it without waiting for the watch event. Returns what the cache then holds.

        The watch may already have delivered a newer version (the member's controllers wrote the
        object again before our response was read): that one is kept. Replacing it with our older
        answer would leave the cache stale until the object changes again, as no event would come.
        """
        if self.transform is not None:
            obj = self.transform(obj)
        key = object_key(obj)
        current = self.cache.get(key)
        if current is not None and _is_older(obj, current):
            return current
        self.cache[key] = obj
        return obj

    def add_handler(self, handler: EventHandler) -> None:
        self.handlers.append(handler)

    def start(self) -> asyncio.Task[None]:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self.run(), name=f"informer {self.name}")
        return self._task

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def _emit(self, kind: str, obj: Obj, old: Obj | None) -> None:
        for h in self.handlers:
            try:
                h(kind, obj, old)
            except Exception:  # noqa: BLE001 - one broken handler must not stop the informer
                log.exception("informer handler failed informer=%s", self.name)

    async def _list(self) -> None:
        items: list[Obj] = []
        cont: str | None = None
        rv = ""
        while True:
            body = await self.client.request("GET", self.path, query={
                "limit": self.page_size, "continue": cont, "labelSelector": self.label_selector,
                "fieldSelector": self.field_selector})
            items.extend(body.get("items") or [])
            rv = body.get("metadata", {}).get("resourceVersion", "")
            cont = body.get("metadata", {}).get("continue") or None
            if not cont:
                break
        self.lists += 1
        if self.transform is not None:
            items = [self.transform(o) for o in items]
        fresh = {object_key(o): o for o in items}
        old_cache, self.cache = self.cache, fresh
        for key, obj in fresh.items():
            prev = old_cache.get(key)
            if prev is None:
                self._emit("ADDED", obj, None)
            elif prev.get("metadata", {}).get("resourceVersion") != obj.get("metadata", {}).get("resourceVersion"):
                self._emit("MODIFIED", obj, prev)
        for key, prev in old_cache.items():
            if key not in fresh:
                self._emit("DELETED", prev, prev)
        self.resource_version = rv
        self.synced.set()

    async def _watch(self) -> bool:
        """One watch request. Returns False when a relist is needed (410 Gone)."""
        query = {"resourceVersion": self.resource_version, "allowWatchBookmarks": "true",
                 "timeoutSeconds": self.watch_timeout, "labelSelector": self.label_selector,
                 "fieldSelector": self.field_selector}
        async for event in self.client.watch_stream(self.path, query, timeout=self.watch_timeout + 30):
            kind, obj = event.get("type"), event.get("object") or {}
            if kind == "ERROR":
                if obj.get("code") == 410:
                    return False
                raise ApiCallError(int(obj.get("code") or 500), obj.get("reason", ""), obj.get("message", ""), obj)
            rv = obj.get("metadata", {}).get("resourceVersion")
            if rv:
                self.resource_version = rv
            if kind == "BOOKMARK":
                continue
            if self.transform is not None:
                obj = self.transform(obj)
            key = object_key(obj)
            prev = self.cache.get(key)
            if kind == "DELETED":
                self.cache.pop(key, None)
                self._emit("DELETED", obj, prev)
            elif kind in ("ADDED", "MODIFIED"):
                self.cache[key] = obj
                self._emit("ADDED" if prev is None else "MODIFIED", obj, prev)
        return True

    async def run(self) -> None:
        backoff = 0.1
        need_list = True
        while True:
            try:
                if need_list:
                    await self._list()
                    need_list = False
                if not await self._watch():
                    need_list = True
                self.last_error = None
                backoff = 0.1
            except asyncio.CancelledError:
                raise
            except ApiCallError as e:
                self.last_error = f"{e.status} {e.reason}: {e.message}"
                if e.status == 410:
                    need_list = True
                    continue
                need_list = True
                await asyncio.sleep(backoff * (1 + random.random() / 2))
                backoff = min(backoff * 2, 5.0)
            except Unreachable as e:
                self.last_error = str(e)
                await asyncio.sleep(backoff * (1 + random.random() / 2))
                backoff = min(backoff * 2, 5.0)
            except Exception as e:  # noqa: BLE001 - keep informing; log the surprise
                self.last_error = f"{type(e).__name__}: {e}"
                log.exception("informer failed informer=%s", self.name)
                need_list = True
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
