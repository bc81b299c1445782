"""Recording core/v1 Events in the federation API, with kubectl describe in mind.

Repeats of the same event (object, reason, message) within a short window update one Event's
count and lastTimestamp instead of creating new ones, as client-go's event correlator does.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from datetime import UTC, datetime
from typing import Any

from kfed.members.client import ApiCallError, KubeClient, Unreachable

log = logging.getLogger("kfed.events")

Obj = dict[str, Any]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class EventRecorder:
    def __init__(self, client: KubeClient, component: str = "kfed-controller-manager") -> None:
        self.client = client
        self.component = component
        self._recent: dict[str, tuple[str, int, float]] = {}  # key -> (event name, count, when)
        self._tasks: set[asyncio.Task[None]] = set()

    def record(self, obj: Obj, type_: str, reason: str, message: str) -> None:
        """Fire and forget: a failed Event write is logged, never raised into a controller."""
        task = asyncio.get_running_loop().create_task(self._record(obj, type_, reason, message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def flush(self) -> None:
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _record(self, obj: Obj, type_: str, reason: str, message: str) -> None:
        meta = obj.get("metadata", {})
        ns = meta.get("namespace") or "default"
        involved = {"kind": obj.get("kind", ""), "apiVersion": obj.get("apiVersion", ""), "name": meta.get("name", ""),
                    "uid": meta.get("uid", "")}
        if meta.get("namespace"):
            involved["namespace"] = meta["namespace"]
        key = hashlib.sha1(f"{involved}|{reason}|{message}".encode()).hexdigest()[:10]
        path = f"/api/v1/namespaces/{ns}/events"
        now = _now()
        recent = self._recent.get(key)
        try:
            if recent is not None and time.monotonic() - recent[2] < 600:
                name, count, _ = recent
                body = {"count": count + 1, "lastTimestamp": now}
                await self.client.request("PATCH", f"{path}/{name}", body=body,
                                          content_type="application/merge-patch+json")
                self._recent[key] = (name, count + 1, time.monotonic())
                return
            name = f"{meta.get('name', 'object')}.{key}{int(time.time() * 1000) % 100000:05d}"
            event = {
                "apiVersion": "v1", "kind": "Event",
                "metadata": {"name": name, "namespace": ns},
                "involvedObject": involved, "reason": reason, "message": message, "type": type_,
                "source": {"component": self.component}, "reportingComponent": self.component,
                "reportingInstance": self.component,
                "firstTimestamp": now, "lastTimestamp": now, "count": 1,
            }
            await self.client.request("POST", path, body=event)
            self._recent[key] = (name, 1, time.monotonic())
            if len(self._recent) > 5000:
                oldest = sorted(self._recent.items(), key=lambda kv: kv[1][2])[:1000]
                for k, _ in oldest:
                    self._recent.pop(k, None)
        except (ApiCallError, Unreachable) as e:
            self._recent.pop(key, None)
            log.info("event not recorded reason=%s: %s", reason, e)
