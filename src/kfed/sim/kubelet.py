"""Scheduler and kubelet of a simulated cluster: pods get a node, then Running, then Ready.

Pods are placed round-robin on schedulable nodes (spec.nodeName), start after `start_delay`
(Running, with a pod IP from the cluster's pod range) and pass their readiness probe after
`ready_delay`. Fault injection holds chosen pods, or every pod of a zone, unready until undone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field

from kfed.api import codec
from kfed.api.objects import ObjectService, WriteOptions
from kfed.model.resource import Obj, ResourceType
from kfed.sim.addresses import IpPool, PoolExhausted
from kfed.sim.controller import Controller
from kfed.sim.events import EventRecorder
from kfed.sim.indexes import PodIndex
from kfed.sim.podstatus import is_ready, running_status
from kfed.sim.views import NodeView, PodView


@dataclass
class PodFaults:
    """Pods held unready: by key (namespace/name) and by zone. Kept by the cluster across restarts."""

    unready_pods: set[str] = field(default_factory=set)
    unready_zones: set[str] = field(default_factory=set)


class Kubelet(Controller):
    name = "kubelet"

    def __init__(self, cluster: str, objects: ObjectService, pods_rt: ResourceType, pods: PodIndex,
                 nodes: dict[str, NodeView], pod_ips: IpPool, recorder: EventRecorder, faults: PodFaults, *,
                 start_delay: float, ready_delay: float) -> None:
        super().__init__(cluster)
        self.objects = objects
        self.rt = pods_rt
        self.pods = pods
        self.nodes = nodes
        self.pod_ips = pod_ips
        self.recorder = recorder
        self.faults = faults
        self.start_delay = start_delay
        self.ready_delay = ready_delay
        self._due: dict[str, float] = {}  # pod uid -> loop time of its next allowed transition
        self._next_node = 0
        # Results are only read: watchers get the written object, nobody decodes it again.
        self._opts = WriteOptions(field_manager="kubelet", shared_result=True)
        self._scheduler_opts = WriteOptions(field_manager="default-scheduler", shared_result=True)

    # -- events --------------------------------------------------------------------------

    def on_pod(self, old: PodView | None, new: PodView | None) -> None:
        if new is None:
            if old is not None:
                if old.ip:
                    self.pod_ips.release(old.ip)
                self._due.pop(old.uid, None)
            return
        if new.ip and (old is None or old.ip != new.ip):
            self.pod_ips.claim(new.ip)
        if self._needs_work(new):
            self.queue.add(new.key)

    def on_nodes_changed(self) -> None:
        """A node came, went or was (un)cordoned: place the pods that wait for one."""
        for pod in self.pods:
            if not pod.node and not pod.terminating:
                self.queue.add(pod.key)

    def on_faults_changed(self, pods: Iterable[PodView] | None = None) -> None:
        for pod in self.pods if pods is None else pods:
            if self._needs_work(pod):
                self.queue.add(pod.key)

    def zone_of(self, pod: PodView) -> str:
        node = self.nodes.get(pod.node)
        return node.zone if node is not None else ""

    def want_ready(self, pod: PodView) -> bool:
        return pod.key not in self.faults.unready_pods and self.zone_of(pod) not in self.faults.unready_zones

    def _needs_work(self, pod: PodView) -> bool:
        if pod.terminating or pod.phase in ("Succeeded", "Failed"):
            return False
        return not pod.node or pod.phase != "Running" or pod.ready != self.want_ready(pod)

    # -- reconcile -----------------------------------------------------------------------

    async def reconcile(self, key: str) -> None:
        pod = self.pods.get(key)
        if pod is None or not self._needs_work(pod):
            return
        if not pod.node:
            await self._schedule(pod)
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        want_ready = self.want_ready(pod)
        if pod.phase != "Running":
            due = self._due.setdefault(pod.uid, now + self.start_delay)
            if now < due:
                self.queue.add_after(key, due - now)
                return
            ready = want_ready and self.ready_delay <= 0
            await self._write_status(pod, ready, starting=True)
            if want_ready and not ready:
                self._due[pod.uid] = now + self.ready_delay
                self.queue.add_after(key, self.ready_delay)
            else:
                self._due.pop(pod.uid, None)
            return
        if want_ready:
            due = self._due.get(pod.uid, now)
            if now < due:
                self.queue.add_after(key, due - now)
                return
        self._due.pop(pod.uid, None)
        await self._write_status(pod, want_ready, starting=False)

    async def _schedule(self, pod: PodView) -> None:
        candidates = sorted(n.name for n in self.nodes.values() if n.ready and not n.unschedulable)
        if not candidates:
            return  # stays Pending until a node is schedulable again (on_nodes_changed)
        node = candidates[self._next_node % len(candidates)]
        self._next_node += 1

        def bind(obj: Obj) -> None:
            if obj["metadata"].get("uid") == pod.uid and not obj["spec"].get("nodeName"):
                obj["spec"]["nodeName"] = node

        obj = await self.objects.modify(self.rt, pod.namespace, pod.name, bind, self._scheduler_opts)
        if obj["spec"].get("nodeName") == node and obj["metadata"].get("uid") == pod.uid:
            await self.recorder.record(obj, "default-scheduler", "Scheduled",
                                       f"Successfully assigned {pod.namespace}/{pod.name} to {node}")

    async def _write_status(self, pod: PodView, ready: bool, *, starting: bool) -> None:
        node = self.nodes.get(pod.node)
        if node is None:
            return  # bound to a node that does not exist: stays Pending, as in a real cluster
        host_ip = node.internal_ip
        new_ip = ""
        if not pod.ip:
            try:
                new_ip = self.pod_ips.allocate()
            except PoolExhausted:
                return  # stays Pending, as a kubelet out of pod addresses
        now = codec.now_rfc3339()
        changed = False

        def set_status(obj: Obj) -> None:
            nonlocal changed
            if obj["metadata"].get("uid") != pod.uid or obj["metadata"].get("deletionTimestamp"):
                return
            status = obj.get("status") or {}
            if status.get("phase") == "Running" and is_ready(obj) == ready:
                return
            ip = status.get("podIP") or new_ip or pod.ip
            obj["status"] = running_status(obj, pod_ip=ip, host_ip=host_ip, ready=ready, now=now)
            changed = True

        try:
            obj = await self.objects.modify(self.rt, pod.namespace, pod.name, set_status, self._opts,
                                            subresource="status")
        except BaseException:
            if new_ip:
                self.pod_ips.release(new_ip)
            raise
        if new_ip and (obj.get("status") or {}).get("podIP") != new_ip:
            self.pod_ips.release(new_ip)
        if changed and starting and self.recorder.enabled:
            for c in obj["spec"].get("containers") or []:
                name, image = c.get("name", ""), c.get("image", "")
                await self.recorder.record(obj, "kubelet", "Pulled",
                                           f'Container image "{image}" already present on machine', host=pod.node)
                await self.recorder.record(obj, "kubelet", "Created", f"Created container {name}", host=pod.node)
                await self.recorder.record(obj, "kubelet", "Started", f"Started container {name}", host=pod.node)
        elif changed and not ready and self.recorder.enabled:
            await self.recorder.record(obj, "kubelet", "Unhealthy", "Readiness probe failed: (simulated fault)",
                                       type_="Warning", host=pod.node)
