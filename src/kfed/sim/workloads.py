"""Deployment and ReplicaSet controllers of a simulated cluster (planning in kfed.sim.replicas)."""

from __future__ import annotations

import asyncio

from kfed.api import codec
from kfed.api import errors as E
from kfed.api.objects import ObjectService, WriteOptions
from kfed.model.resource import Obj, ResourceType
from kfed.sim.controller import Controller
from kfed.sim.events import EventRecorder
from kfed.sim.indexes import PodIndex
from kfed.sim.replicas import (
    DESIRED_REPLICAS_ANNOTATION,
    MAX_REPLICAS_ANNOTATION,
    REVISION_ANNOTATION,
    Expectations,
    desired_pod_count_change,
    plan_deployment,
    pod_from_template,
    pods_to_delete,
    replica_set_status,
)
from kfed.sim.views import PodView, key_of

#: pods a ReplicaSet creates or deletes in one pass (kube's burstReplicas)
BURST = 500


def _controller_ref(obj: Obj, kind: str) -> Obj | None:
    for ref in obj.get("metadata", {}).get("ownerReferences") or []:
        if isinstance(ref, dict) and ref.get("controller") and ref.get("kind") == kind:
            return ref
    return None


class ReplicaSetController(Controller):
    name = "replicaset-controller"

    def __init__(self, cluster: str, objects: ObjectService, rs_rt: ResourceType, pods_rt: ResourceType,
                 pods: PodIndex, recorder: EventRecorder) -> None:
        super().__init__(cluster)
        self.objects = objects
        self.rt = rs_rt
        self.pods_rt = pods_rt
        self.pods = pods
        self.recorder = recorder
        self._key_by_uid: dict[str, str] = {}
        self.expectations = Expectations()
        self._opts = WriteOptions(field_manager="kube-controller-manager", shared_result=True)  # results only read

    def on_replica_set(self, event: str, obj: Obj) -> None:
        meta = obj.get("metadata", {})
        key = key_of(meta.get("namespace", ""), meta.get("name", ""))
        uid = meta.get("uid", "")
        if event == "DELETED":
            if uid:
                self._key_by_uid.pop(uid, None)
                self.expectations.forget(uid)
            else:  # a relist: find it by key
                for u, k in list(self._key_by_uid.items()):
                    if k == key:
                        del self._key_by_uid[u]
            return
        self._key_by_uid[uid] = key
        self.queue.add(key)

    def on_pod(self, old: PodView | None, new: PodView | None) -> None:
        was_going = old is not None and old.terminating
        for uid in {p.owner_uid for p in (old, new) if p is not None and p.owner_uid}:
            key = self._key_by_uid.get(uid)
            if key is None:
                continue
            if old is None and new is not None:
                self.expectations.observed_add(uid)
            elif not was_going and (new is None or new.terminating):
                self.expectations.observed_delete(uid)
            self.queue.add(key)

    async def reconcile(self, key: str) -> None:
        ns, _, name = key.rpartition("/")
        rs = await self.objects.get_or_none(self.rt, ns, name)
        if rs is None:
            return
        uid = rs["metadata"]["uid"]
        owned = self.pods.owned_by(uid)
        now = asyncio.get_running_loop().time()
        if self.expectations.satisfied(uid, now) and not rs["metadata"].get("deletionTimestamp"):
            diff = desired_pod_count_change(rs, owned)
            if diff > 0:
                await self._create_pods(rs, min(diff, BURST), now)
            elif diff < 0:
                await self._delete_pods(rs, pods_to_delete([p for p in owned if p.active], min(-diff, BURST)), now)
        status = replica_set_status(rs, self.pods.owned_by(uid))
        if {k: v for k, v in (rs.get("status") or {}).items() if k != "conditions"} != status:
            def set_status(o: Obj) -> None:
                o["status"] = {**status, **({"conditions": o["status"]["conditions"]}
                                            if (o.get("status") or {}).get("conditions") else {})}

            await self.objects.modify(self.rt, ns, name, set_status, self._opts, subresource="status")

    async def _create_pods(self, rs: Obj, count: int, now: float) -> None:
        uid = rs["metadata"]["uid"]
        self.expectations.expect(uid, count, 0, now)
        for _ in range(count):
            try:
                pod = await self.objects.create(self.pods_rt, rs["metadata"].get("namespace"), pod_from_template(rs),
                                                self._opts)
            except E.ApiError as e:
                self.expectations.observed_add(uid)  # will not be seen
                await self.recorder.record(rs, "replicaset-controller", "FailedCreate",
                                           f"Error creating: {e.message}", type_="Warning")
                raise
            await self.recorder.record(rs, "replicaset-controller", "SuccessfulCreate",
                                       f"Created pod: {pod['metadata']['name']}")

    async def _delete_pods(self, rs: Obj, victims: list[PodView], now: float) -> None:
        uid = rs["metadata"]["uid"]
        self.expectations.expect(uid, 0, len(victims), now)
        for pod in victims:
            try:
                await self.objects.delete(self.pods_rt, pod.namespace, pod.name)
            except E.ApiError as e:
                self.expectations.observed_delete(uid)
                if e.code != 404:
                    raise
                continue
            await self.recorder.record(rs, "replicaset-controller", "SuccessfulDelete", f"Deleted pod: {pod.name}")


class DeploymentController(Controller):
    name = "deployment-controller"

    def __init__(self, cluster: str, objects: ObjectService, deployments_rt: ResourceType, rs_rt: ResourceType,
                 recorder: EventRecorder) -> None:
        super().__init__(cluster)
        self.objects = objects
        self.rt = deployments_rt
        self.rs_rt = rs_rt
        self.recorder = recorder
        self._opts = WriteOptions(field_manager="kube-controller-manager", shared_result=True)  # results only read

    def on_deployment(self, event: str, obj: Obj) -> None:
        meta = obj.get("metadata", {})
        if event != "DELETED":
            self.queue.add(key_of(meta.get("namespace", ""), meta.get("name", "")))

    def on_replica_set(self, event: str, obj: Obj) -> None:
        ref = _controller_ref(obj, "Deployment")
        if ref is not None:
            self.queue.add(key_of(obj["metadata"].get("namespace", ""), str(ref.get("name", ""))))

    async def reconcile(self, key: str) -> None:
        ns, _, name = key.rpartition("/")
        deployment = await self.objects.get_or_none(self.rt, ns, name)
        if deployment is None or deployment["metadata"].get("deletionTimestamp"):
            return
        uid = deployment["metadata"]["uid"]
        listed = await self.objects.list(self.rs_rt, ns, copy_items=False)
        owned = [rs for rs in listed.items if (_controller_ref(rs, "Deployment") or {}).get("uid") == uid]
        plan = plan_deployment(deployment, owned, codec.now_rfc3339())
        if plan.create is not None:
            try:
                created = await self.objects.create(self.rs_rt, ns, plan.create, self._opts)
                replicas = created["spec"].get("replicas", 0)
                await self.recorder.record(deployment, "deployment-controller", "ScalingReplicaSet",
                                           f"Scaled up replica set {created['metadata']['name']} to {replicas}")
            except E.ApiError as e:
                if e.code != 409:
                    raise
        for rs_name, replicas in plan.scale.items():
            await self._scale(deployment, rs_name, replicas, plan.revision.get(rs_name))
        for rs_name in plan.delete:
            try:
                await self.objects.delete(self.rs_rt, ns, rs_name)
            except E.ApiError as e:
                if e.code != 404:
                    raise
        if {k: v for k, v in (deployment.get("status") or {}).items()} != plan.status:
            def set_status(o: Obj) -> None:
                o["status"] = plan.status

            await self.objects.modify(self.rt, ns, name, set_status, self._opts, subresource="status")

    async def _scale(self, deployment: Obj, rs_name: str, replicas: int, revision: int | None) -> None:
        ns = deployment["metadata"].get("namespace")
        before: list[int] = []

        def scale(o: Obj) -> None:
            before.append(int((o.get("spec") or {}).get("replicas") or 0))
            o["spec"]["replicas"] = replicas
            annotations = o["metadata"].setdefault("annotations", {})
            annotations[DESIRED_REPLICAS_ANNOTATION] = str(deployment["spec"].get("replicas", 1))
            annotations[MAX_REPLICAS_ANNOTATION] = str(deployment["spec"].get("replicas", 1))
            if revision is not None:
                annotations[REVISION_ANNOTATION] = str(revision)

        await self.objects.modify(self.rs_rt, ns, rs_name, scale, self._opts)
        direction = "up" if before and replicas > before[-1] else "down"
        await self.recorder.record(deployment, "deployment-controller", "ScalingReplicaSet",
                                   f"Scaled {direction} replica set {rs_name} to {replicas}")
