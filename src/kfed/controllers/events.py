"""Recording core/v1 Events in the federation API, with kubectl describe in mind.

It follows client-go's event correlator, so `kubectl describe` reads as it does in one cluster:

- a repeat of the same event (object, type, reason, message) updates one Event's `count` and
  `lastTimestamp` instead of creating another;
- once an object has had `AGGREGATE_AFTER` different messages for the same type and reason
  within `WINDOW` seconds, further ones go into a single Event whose message starts with
  "(combined from similar events): " and whose count grows.

What one reconcile pass did in many clusters is one Event to begin with (`ClusterEvents`: "Created
service default/web in 50 clusters: c00, c01, ... and 40 more").

Writes leave through a bounded queue drained by a few writer tasks. A burst of updates to one
Event is coalesced into one PATCH; when the queue is full, new Events are dropped and counted
(client-go drops them too), so a controller never waits on, or grows memory for, its Events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kfed.members.client import ApiCallError, KubeClient, Unreachable

log = logging.getLogger("kfed.events")

Obj = dict[str, Any]

WINDOW = 600.0  # seconds: client-go's aggregation and dedupe interval
AGGREGATE_AFTER = 10  # different messages before similar events are combined (client-go's maxEvents)
COMBINED_PREFIX = "(combined from similar events): "
CACHE_SIZE = 4096  # events and aggregation groups remembered (client-go's LRU size)
MAX_PENDING = 1000  # Events waiting to be written (client-go's broadcaster queue)
WRITERS = 4


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class _Event:
    """One Event as kfed last wrote it or is about to (count and message may run ahead of the API)."""

    name: str
    namespace: str
    body: Obj  # the full Event, for its first write
    count: int = 1
    message: str = ""
    last_timestamp: str = ""
    created: bool = False  # the POST succeeded
    seen: float = 0.0  # monotonic time of the last record


class EventRecorder:
    def __init__(self, client: KubeClient, component: str = "kfed-controller-manager", *,
                 writers: int = WRITERS, max_pending: int = MAX_PENDING) -> None:
        self.client = client
        self.component = component
        self.writers = writers
        self.max_pending = max_pending
        self._events: OrderedDict[tuple[Any, ...], _Event] = OrderedDict()
        # aggregation group -> (messages seen in the window, when the window started)
        self._groups: OrderedDict[tuple[Any, ...], tuple[set[str], float]] = OrderedDict()
        self._pending: OrderedDict[tuple[Any, ...], None] = OrderedDict()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._busy = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._serial = 0
        self.dropped = 0  # Events not recorded because the queue was full
        self.writes = 0  # POSTs and PATCHes sent

    # -- recording (synchronous: callable from anywhere in a controller) ------------------

    def record(self, obj: Obj, type_: str, reason: str, message: str) -> None:
        """Queue an Event about `obj`; never blocks and never raises into the controller."""
        meta = obj.get("metadata", {})
        involved = {"kind": obj.get("kind", ""), "apiVersion": obj.get("apiVersion", ""),
                    "name": meta.get("name", ""), "uid": meta.get("uid", "")}
        if meta.get("namespace"):
            involved["namespace"] = meta["namespace"]
        ident = (involved["kind"], involved.get("namespace", ""), involved["name"], involved["uid"])
        group = (*ident, type_, reason)
        now = time.monotonic()
        messages, started = self._groups.pop(group, (set(), now))
        if now - started > WINDOW:
            messages, started = set(), now
        messages.add(message)
        self._groups[group] = (messages, started)
        if len(self._groups) > CACHE_SIZE:
            self._groups.popitem(last=False)
        key: tuple[Any, ...] = (*group, message)
        if len(messages) > AGGREGATE_AFTER:
            key, message = (*group, COMBINED_PREFIX), COMBINED_PREFIX + message

        stamp = _now()
        event = self._events.pop(key, None)
        if event is not None and now - event.seen <= WINDOW:
            event.count += 1
            event.message, event.last_timestamp, event.seen = message, stamp, now
        else:
            if len(self._pending) >= self.max_pending:
                self.dropped += 1
                log.debug("event dropped (queue full) reason=%s object=%s", reason, involved["name"])
                return
            ns = meta.get("namespace") or "default"
            self._serial += 1
            name = f"{meta.get('name', 'object')}.{time.time_ns() + self._serial:x}"
            body = {
                "apiVersion": "v1", "kind": "Event",
                "metadata": {"name": name, "namespace": ns},
                "involvedObject": involved, "reason": reason, "message": message, "type": type_,
                "source": {"component": self.component}, "reportingComponent": self.component,
                "reportingInstance": self.component,
                "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1,
            }
            event = _Event(name, ns, body, message=message, last_timestamp=stamp, seen=now)
        self._events[key] = event
        if len(self._events) > CACHE_SIZE:
            old_key, _ = self._events.popitem(last=False)
            self._pending.pop(old_key, None)
        self._pending[key] = None
        self._idle.clear()
        self._wake.set()
        self._start_writers()

    # -- writing --------------------------------------------------------------------------

    def _start_writers(self) -> None:
        if self._tasks:
            return
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._writer(), name=f"event writer {i}") for i in range(self.writers)]

    async def _writer(self) -> None:
        while True:
            if not self._pending:
                if not self._busy:
                    self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            key, _ = self._pending.popitem(last=False)
            event = self._events.get(key)
            if event is None:
                continue
            self._busy += 1
            try:
                await self._write(key, event)
            finally:
                self._busy -= 1

    async def _write(self, key: tuple[Any, ...], event: _Event) -> None:
        path = f"/api/v1/namespaces/{event.namespace}/events"
        count, message, stamp = event.count, event.message, event.last_timestamp
        try:
            if not event.created:
                body = dict(event.body, count=count, message=message, lastTimestamp=stamp)
                await self.client.request("POST", path, body=body)
                event.created = True
            else:
                await self.client.request("PATCH", f"{path}/{event.name}",
                                          body={"count": count, "lastTimestamp": stamp, "message": message},
                                          content_type="application/merge-patch+json")
            self.writes += 1
        except (ApiCallError, Unreachable) as e:
            log.info("event not recorded reason=%s: %s", event.body.get("reason"), e)
            if not event.created and self._events.get(key) is event:
                del self._events[key]  # the next occurrence starts a new Event
                self._pending.pop(key, None)

    async def flush(self) -> None:
        """Wait until every queued Event has been written (or given up on)."""
        if self._pending or self._busy:
            await self._idle.wait()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []


LISTED_CLUSTERS = 10  # clusters named in a grouped Event's message; the rest are counted


def clusters_text(clusters: list[str]) -> str:
    """"cluster a", or "3 clusters: a, b, c" (at most LISTED_CLUSTERS names, then "and N more")."""
    names = sorted(set(clusters))
    if len(names) == 1:
        return f"cluster {names[0]}"
    shown = ", ".join(names[:LISTED_CLUSTERS])
    more = len(names) - LISTED_CLUSTERS
    return f"{len(names)} clusters: {shown}" + (f" and {more} more" if more > 0 else "")


class ClusterEvents:
    """The Events of one reconcile pass over one object, one per (type, reason, message), each
    naming the clusters it happened in: a Service created in 50 clusters gets one Event,
    "Created service default/web in 50 clusters: c00, c01, ... and 40 more", as one kubectl
    describe line, rather than 50 writes that the correlator would fold anyway. The message is a
    template with `{where}` (its first occurrence) for the clusters."""

    def __init__(self) -> None:
        self._clusters: dict[tuple[str, str, str], list[str]] = {}

    def add(self, type_: str, reason: str, template: str, cluster: str) -> None:
        self._clusters.setdefault((type_, reason, template), []).append(cluster)

    def record(self, recorder: EventRecorder, obj: Obj) -> None:
        for (type_, reason, template), clusters in self._clusters.items():
            # replace, not format: an error message in the template may hold braces
            recorder.record(obj, type_, reason, template.replace("{where}", clusters_text(clusters), 1))
        self._clusters.clear()
