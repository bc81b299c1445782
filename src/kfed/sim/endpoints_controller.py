"""Keeps each Service's Endpoints and EndpointSlices in step with its pods' readiness."""

from __future__ import annotations

import logging
from collections.abc import Callable

from kfed.api import errors as E
from kfed.api.objects import ObjectService, WriteOptions
from kfed.model.resource import Obj, ResourceType
from kfed.sim.controller import Controller
from kfed.sim.endpoints import (
    ENDPOINTS_FIELDS,
    MANAGED_BY,
    MANAGED_BY_LABEL,
    SERVICE_NAME_LABEL,
    SLICE_FIELDS,
    content_digest,
    endpoint_subsets,
    endpoints_object,
    slice_contents,
    slice_name,
    slice_object,
)
from kfed.sim.indexes import PodIndex, ServiceIndex
from kfed.sim.views import NodeView, PodView, key_of, service_view

log = logging.getLogger("kfed.sim.endpoints")


def _same_for_endpoints(a: PodView, b: PodView) -> bool:
    """Whether two versions of a pod give the same endpoints (most pod writes change nothing here)."""
    return (a.ip, a.ready, a.terminating, a.node, a.labels, a.phase, a.ports, a.hostname, a.subdomain, a.uid) == \
        (b.ip, b.ready, b.terminating, b.node, b.labels, b.phase, b.ports, b.hostname, b.subdomain, b.uid)


class EndpointsController(Controller):
    name = "endpoint-controller"

    def __init__(self, cluster: str, objects: ObjectService, endpoints_rt: ResourceType, slices_rt: ResourceType,
                 pods: PodIndex, nodes: dict[str, NodeView]) -> None:
        super().__init__(cluster)
        self.objects = objects
        self.endpoints_rt = endpoints_rt
        self.slices_rt = slices_rt
        self.pods = pods
        self.nodes = nodes
        self.services = ServiceIndex()
        self._endpoints: dict[str, bytes] = {}  # service key -> digest of its Endpoints
        self._slices: dict[str, dict[str, bytes]] = {}  # service key -> slice name -> digest
        # Results are only read: watchers get the written object, nobody decodes it again.
        self._opts = WriteOptions(field_manager="endpoint-controller", shared_result=True)
        self._slice_opts = WriteOptions(field_manager="endpointslice-controller", shared_result=True)

    # -- events --------------------------------------------------------------------------

    def on_pod(self, old: PodView | None, new: PodView | None) -> None:
        if old is not None and new is not None and _same_for_endpoints(old, new):
            return
        for pod in (old, new):
            if pod is not None:
                for svc in self.services.selecting(pod.namespace, pod.labels):
                    self.queue.add(svc.key)

    def on_service(self, event: str, obj: Obj) -> None:
        meta = obj.get("metadata", {})
        key = key_of(meta.get("namespace", ""), meta.get("name", ""))
        if event == "DELETED":
            self.services.remove(key)
        else:
            view = service_view(obj)
            if self.services.get(key) == view:
                return  # a status or cluster IP write: endpoints stay as they are
            self.services.upsert(view)
        self.queue.add(key)

    def on_endpoints(self, event: str, obj: Obj) -> None:
        meta = obj.get("metadata", {})
        key = key_of(meta.get("namespace", ""), meta.get("name", ""))
        if event == "DELETED":
            if self._endpoints.pop(key, None) is not None:
                self.queue.add(key)
            return
        self._endpoints[key] = content_digest(obj, ENDPOINTS_FIELDS)

    def on_slice(self, event: str, obj: Obj) -> None:
        meta = obj.get("metadata", {})
        labels = meta.get("labels") or {}
        ns, name, service = meta.get("namespace", ""), meta.get("name", ""), labels.get(SERVICE_NAME_LABEL)
        if event == "DELETED":
            # A relist reports deletions without labels: then find the slice by name.
            key = key_of(ns, service) if service else next(
                (k for k, names in self._slices.items() if k.startswith(f"{ns}/") and name in names), None)
            if key is not None and self._slices.get(key, {}).pop(name, None) is not None:
                self.queue.add(key)  # gone: put it back if the service still wants it
            return
        if labels.get(MANAGED_BY_LABEL) == MANAGED_BY and service:
            self._slices.setdefault(key_of(ns, service), {})[name] = content_digest(obj, SLICE_FIELDS)

    def on_nodes_changed(self) -> None:
        for svc in self.services:
            self.queue.add(svc.key)

    # -- reconcile -----------------------------------------------------------------------

    async def reconcile(self, key: str) -> None:
        ns, _, name = key.rpartition("/")
        svc = self.services.get(key)
        if svc is None:
            if key in self._endpoints:
                await self._delete(self.endpoints_rt, ns, name)
            for slice_ in list(self._slices.get(key, {})):
                await self._delete(self.slices_rt, ns, slice_)
            return
        if not svc.selector or svc.type == "ExternalName":
            # No selector: the user manages the Endpoints; slices of an earlier selector go.
            for slice_ in list(self._slices.get(key, {})):
                await self._delete(self.slices_rt, ns, slice_)
            return
        pods = self.pods.selected(ns, svc.selector)
        # Slices first: they are what current consumers (kube-proxy, kfed) watch.
        zones = {n.name: n.zone for n in self.nodes.values()}
        existing = self._slices.get(key, {})
        wanted: set[str] = set()
        for i, content in enumerate(slice_contents(svc, pods, zones)):
            sname = slice_name(svc, i)
            wanted.add(sname)
            obj = slice_object(svc, content, sname)
            self.slices_rt.strategy.default(obj)
            if existing.get(sname) != content_digest(obj, SLICE_FIELDS):
                await self._upsert(self.slices_rt, obj, SLICE_FIELDS, self._slice_opts)
        for sname in [n for n in existing if n not in wanted]:
            await self._delete(self.slices_rt, ns, sname)
        desired = endpoints_object(svc, endpoint_subsets(svc, pods))
        self.endpoints_rt.strategy.default(desired)
        if self._endpoints.get(key) != content_digest(desired, ENDPOINTS_FIELDS):
            await self._upsert(self.endpoints_rt, desired, ENDPOINTS_FIELDS, self._opts)

    async def _upsert(self, rt: ResourceType, desired: Obj, fields: tuple[str, ...], opts: WriteOptions) -> None:
        meta = desired["metadata"]
        ns, name = meta["namespace"], meta["name"]

        def replace(obj: Obj) -> None:
            for f in fields:
                if f in desired:
                    obj[f] = desired[f]
                else:
                    obj.pop(f, None)
            obj["metadata"]["labels"] = meta.get("labels") or {}
            if "ownerReferences" in meta:
                obj["metadata"]["ownerReferences"] = meta["ownerReferences"]

        create: Callable[[], Obj] = lambda: desired  # noqa: E731 - modify() wants a factory
        try:
            await self.objects.modify(rt, ns, name, replace, opts, create=create)
        except E.ApiError as e:
            if e.code != 409:
                raise
            await self.objects.modify(rt, ns, name, replace, opts)  # created meanwhile: update it

    async def _delete(self, rt: ResourceType, ns: str, name: str) -> None:
        try:
            await self.objects.delete(rt, ns, name)
        except E.ApiError as e:
            if e.code != 404:
                raise
