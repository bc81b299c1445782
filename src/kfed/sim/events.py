"""core/v1 Events from the simulated controllers (what `kubectl describe` lists under Events)."""

from __future__ import annotations

import logging
import time

from kfed.api import codec
from kfed.api import errors as E
from kfed.api.objects import ObjectService, WriteOptions
from kfed.model.resource import Obj, ResourceType

log = logging.getLogger("kfed.sim.events")


class EventRecorder:
    def __init__(self, objects: ObjectService, events: ResourceType | None, *, enabled: bool = True) -> None:
        self.objects = objects
        self.rt = events
        self.enabled = enabled and events is not None

    async def record(self, obj: Obj, component: str, reason: str, message: str, *, type_: str = "Normal",
                     host: str = "") -> None:
        if not self.enabled or self.rt is None:
            return
        meta = obj.get("metadata", {})
        namespace = meta.get("namespace") or "default"
        now = codec.now_rfc3339()
        event: Obj = {
            # Named as kubelet names them (<object>.<nanoseconds in hex>), so listing order is time order.
            "metadata": {"name": f"{meta.get('name', '')}.{time.time_ns():x}", "namespace": namespace},
            "involvedObject": {"kind": obj.get("kind", ""), "apiVersion": obj.get("apiVersion", ""),
                               "name": meta.get("name", ""), "uid": meta.get("uid", ""),
                               "resourceVersion": meta.get("resourceVersion", "")},
            "reason": reason, "message": message, "type": type_, "count": 1,
            "firstTimestamp": now, "lastTimestamp": now,
            "source": {"component": component, **({"host": host} if host else {})},
            "reportingComponent": component, "reportingInstance": host or component,
        }
        if meta.get("namespace"):
            event["involvedObject"]["namespace"] = meta["namespace"]
        try:
            await self.objects.create(self.rt, namespace, event,
                                      WriteOptions(field_manager=component, shared_result=True))
        except E.ApiError as e:  # events are best effort, as in Kubernetes
            log.debug("event not recorded reason=%s: %s", reason, e.message)
