"""Service controller: one federated Service -> a conforming shard in every placed, Ready cluster.

Level-triggered: every event (federated Service, member Service, member EndpointSlice, cluster
readiness) only queues the federated Service's key; a worker then compares what is with what
should be and writes the difference. Writes update the informers' caches with the server's
answer at once, so the next pass sees its own writes and makes no needless ones.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from kfed.controllers import shards as S
from kfed.controllers.cluster import ClusterController
from kfed.controllers.events import ClusterEvents, EventRecorder
from kfed.members.client import ApiCallError, KubeClient, Unreachable
from kfed.members.connections import MemberConnection, MemberPool
from kfed.members.informer import Informer
from kfed.runtime.workqueue import WorkQueue

log = logging.getLogger("kfed.service-controller")

Obj = dict[str, Any]


def _key(obj: Obj) -> str:
    m = obj["metadata"]
    return f"{m.get('namespace', 'default')}/{m['name']}"


def _svc_path(namespace: str, name: str | None = None) -> str:
    base = f"/api/v1/namespaces/{namespace}/services"
    return f"{base}/{name}" if name else base


class ServiceController:
    def __init__(self, fed: KubeClient, pool: MemberPool, clusters: ClusterController, events: EventRecorder,
                 federation: str, *, workers: int = 8, member_concurrency: int = 16,
                 status_workers: int = 16, busy_status_interval: float = 1.0) -> None:
        self.fed = fed
        self.pool = pool
        self.clusters = clusters
        self.events = events
        self.federation = federation
        self.workers = workers
        self.services = Informer(fed, "/api/v1/services", self._on_fed_service, name="federated services")
        # Two queues: member writes wait on 50 clusters, a status only on the federation API. A
        # Service whose last shard turned healthy must not wait behind a thousand Services still
        # being written to members before its status says so.
        self._writes = WorkQueue()
        self._statuses = WorkQueue()
        self.status_workers = status_workers
        self._write_errors: dict[tuple[str, str], str] = {}
        self._limits: dict[str, asyncio.Semaphore] = {}
        self.member_concurrency = member_concurrency
        self.member_writes = 0  # writes sent to member clusters (creates, updates, deletes)
        self.federation_writes = 0
        self._last_health: dict[tuple[str, str], bool] = {}
        # (Service key, cluster) -> (federated inputs, member resourceVersion) last found conforming:
        # a pass that finds both unchanged skips building the desired object again.
        self._conforming: dict[tuple[str, str], tuple[Any, str]] = {}
        # Under load (a backlog of Services to reconcile), a Service's status is written at most
        # once per busy_status_interval: while 50 clusters report their new shards one by one,
        # each would otherwise cost a federation write and a DNS pass. Idle, it is written at once.
        self.busy_status_interval = busy_status_interval
        self._status_written: dict[str, float] = {}  # Service key -> loop time of its last status pass
        pool.on("services", self._on_member_service)
        pool.on("endpointslices", self._on_member_slice)
        clusters.on_ready_change.append(self._on_cluster_change)
        pool.on_change.append(self._on_cluster_change)
        clusters.on_cluster_deleting = self.release_cluster

    # -- queue ---------------------------------------------------------------------------

    def enqueue(self, key: str) -> None:
        """Something about the Service changed: check its members, then its status."""
        self._writes.add(key)

    def enqueue_status(self, key: str) -> None:
        """Only what its shards report may have changed (a member's slice or load balancer)."""
        self._statuses.add(key)

    def enqueue_all(self) -> None:
        for key in list(self.services.cache):
            self.enqueue(key)

    def _on_fed_service(self, kind: str, obj: Obj, old: Obj | None) -> None:
        self.enqueue(_key(obj))

    def _on_member_service(self, cluster: str, kind: str, obj: Obj, old: Obj | None) -> None:
        key = _key(obj)
        labels = obj["metadata"].get("labels") or {}
        if key in self.services.cache or labels.get(S.MANAGED_LABEL) == self.federation:
            self.enqueue(key)
            # The load balancer's address arrives this way: the status need not wait for the
            # member pass, which finds nothing to write when only the member's status changed.
            self.enqueue_status(key)

    def _on_member_slice(self, cluster: str, kind: str, obj: Obj, old: Obj | None) -> None:
        svc = (obj["metadata"].get("labels") or {}).get("kubernetes.io/service-name")
        if svc:
            key = f"{obj['metadata'].get('namespace', 'default')}/{svc}"
            if key in self.services.cache:
                self.enqueue_status(key)

    def _on_cluster_change(self, cluster: str) -> None:
        self.enqueue_all()
        conn = self.pool.members.get(cluster)
        if conn is not None and conn.services is not None:
            # shards left behind while the cluster was away (the federated Service was deleted meanwhile)
            for key, svc in conn.services.cache.items():
                if (svc["metadata"].get("labels") or {}).get(S.MANAGED_LABEL) == self.federation:
                    self.enqueue(key)

    # -- run -----------------------------------------------------------------------------

    async def run(self) -> None:
        self.services.start()
        # Shards are judged only once every cluster has been probed: judging them earlier (after a
        # restart, say) would mark healthy shards unhealthy for a moment and flap their DNS records.
        await asyncio.gather(self.services.synced.wait(), self.clusters.first_probe_done.wait())
        self.enqueue_all()
        await asyncio.gather(*(self._worker(self._writes, self.reconcile) for _ in range(self.workers)),
                             *(self._worker(self._statuses, self.reconcile_status)
                               for _ in range(self.status_workers)))

    async def _worker(self, queue: WorkQueue, handle: Callable[[str], Awaitable[None]]) -> None:
        while True:
            key = await queue.get()
            if key is None:
                return
            try:
                await handle(key)
            except Exception:  # noqa: BLE001 - one bad Service must not stop the others
                log.exception("reconcile failed service=%s", key)
                queue.add_after(key, 1.0)
            finally:
                queue.done(key)

    def idle(self) -> bool:
        return self._writes.idle and self._statuses.idle

    def busy(self) -> bool:
        """A backlog: more Services waiting for member writes than workers to take them."""
        return len(self._writes) > self.workers

    # -- reconcile -----------------------------------------------------------------------

    def _ready_members(self) -> dict[str, MemberConnection]:
        out = {}
        for name in self.clusters.ready_clusters():
            conn = self.pool.members.get(name)
            if conn is not None and conn.services is not None and conn.services.synced.is_set():
                out[name] = conn
        return out

    async def reconcile(self, key: str) -> None:
        fed = self.services.cache.get(key)
        members = self._ready_members()
        if fed is None or fed["metadata"].get("deletionTimestamp"):
            for cluster in self.pool.members:
                self._conforming.pop((key, cluster), None)
            done = ClusterEvents()
            results = await asyncio.gather(*(self._delete_shard(c, conn, key, done) for c, conn in members.items()))
            if fed is not None:
                done.record(self.events, fed)
            if fed is not None and all(results):
                await self._remove_finalizer(fed)
            return
        if S.SHARD_FINALIZER not in (fed["metadata"].get("finalizers") or []):
            fed = await self._add_finalizer(fed)
            if fed is None:
                return
        placed = set(S.placement(fed, self.clusters.known_clusters()))
        inputs = S.member_inputs(fed)
        writes: list[Coroutine[Any, Any, Any]] = []
        done = ClusterEvents()
        for c, conn in members.items():
            if c not in placed:
                writes.append(self._delete_shard(c, conn, key, done))
                continue
            todo = self._shard_todo(c, conn, key, fed, inputs)
            if todo is not None:
                writes.append(self._write_shard(c, conn, key, done, *todo))
        if writes:  # most passes (a member's status changed, say) write nothing to members
            await asyncio.gather(*writes)
            done.record(self.events, fed)
        self.enqueue_status(key)

    async def reconcile_status(self, key: str) -> None:
        """The federated Service's shards (annotation) and status, from the members' caches."""
        fed = self.services.cache.get(key)
        if fed is None or fed["metadata"].get("deletionTimestamp"):
            self._status_written.pop(key, None)
            return
        if self._defer_status(key):
            return
        placed = sorted(S.placement(fed, self.clusters.known_clusters()))
        await self._update_status(key, fed, placed)
        self._status_written[key] = asyncio.get_running_loop().time()

    def _defer_status(self, key: str) -> bool:
        """Whether this pass leaves the status for later (busy, and written less than an interval
        ago): while 50 clusters report a new Service's shards one by one, its status is written a
        few times, not 50."""
        last = self._status_written.get(key)
        if last is None or not self.busy():
            return False
        wait = last + self.busy_status_interval - asyncio.get_running_loop().time()
        if wait <= 0:
            return False
        self._statuses.add_after(key, wait)
        return True

    def _limit(self, cluster: str) -> asyncio.Semaphore:
        sem = self._limits.get(cluster)
        if sem is None:
            sem = self._limits[cluster] = asyncio.Semaphore(self.member_concurrency)
        return sem

    def _shard_todo(self, cluster: str, conn: MemberConnection, key: str, fed: Obj,
                    inputs: tuple[Any, ...]) -> tuple[Obj | None, Obj] | None:
        """(current, desired) when the member's Service must be written; None when it conforms."""
        assert conn.services is not None
        current = conn.services.cache.get(key)
        stamp = None
        if current is not None:
            stamp = (inputs, current["metadata"].get("resourceVersion", ""))
            if self._conforming.get((key, cluster)) == stamp:
                self._write_errors.pop((key, cluster), None)
                return None
        desired = S.desired_member_service(fed, self.federation, current)
        if current is not None and stamp is not None and S.conforms(current, desired):
            self._conforming[(key, cluster)] = stamp
            self._write_errors.pop((key, cluster), None)
            return None
        self._conforming.pop((key, cluster), None)
        return current, desired

    async def _write_shard(self, cluster: str, conn: MemberConnection, key: str, done: ClusterEvents,
                           current: Obj | None, desired: Obj) -> None:
        assert conn.services is not None
        ns, name = key.split("/", 1)
        async with self._limit(cluster):
            try:
                if current is None:
                    result = await self._create_in_member(conn, ns, desired)
                    done.add("Normal", "CreatedInCluster", f"Created service {key} in {{where}}", cluster)
                else:
                    adopted = S.MANAGED_LABEL not in (current["metadata"].get("labels") or {})
                    desired.pop("status", None)
                    result = await conn.client.request("PUT", _svc_path(ns, name), body=desired)
                    self.member_writes += 1
                    reason = "AdoptedInCluster" if adopted else "UpdatedInCluster"
                    verb = "Adopted" if adopted else "Updated"
                    done.add("Normal", reason, f"{verb} service {key} in {{where}}", cluster)
                conn.services.remember(result)  # our own write: no need to wait for the watch
                self._write_errors.pop((key, cluster), None)
            except ApiCallError as e:
                if e.status == 409:
                    return  # the cache was stale; the watch event queues this key again
                msg = f"{e.status} {e.reason}: {e.message}"
                reason = "Forbidden" if e.status == 403 else "WriteFailed"
                if self._write_errors.get((key, cluster)) != f"{reason}: {msg}":
                    done.add("Warning", "ClusterWriteFailed", f"Could not write service {key} to {{where}}: {msg}",
                             cluster)
                self._write_errors[(key, cluster)] = f"{reason}: {msg}"
                self._writes.add_after(key, 5.0)
            except Unreachable as e:
                self._write_errors[(key, cluster)] = f"Unreachable: {e}"
                self._writes.add_after(key, 2.0)

    async def _create_in_member(self, conn: MemberConnection, ns: str, desired: Obj) -> Obj:
        body = {k: v for k, v in desired.items() if k != "status"}
        try:
            result: Obj = await conn.client.request("POST", _svc_path(ns), body=body)
        except ApiCallError as e:
            if e.status != 404:
                raise
            try:  # the namespace is missing in the member: create it, then the Service
                await conn.client.request("POST", "/api/v1/namespaces",
                                          body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
                self.member_writes += 1
            except ApiCallError as e2:
                if e2.status != 409:
                    raise
            result = await conn.client.request("POST", _svc_path(ns), body=body)
        self.member_writes += 1
        return result

    async def _delete_shard(self, cluster: str, conn: MemberConnection, key: str, done: ClusterEvents | None) -> bool:
        """Delete the member's Service when kfed manages it. True when nothing is left to delete."""
        assert conn.services is not None
        current = conn.services.cache.get(key)
        if current is None or (current["metadata"].get("labels") or {}).get(S.MANAGED_LABEL) != self.federation:
            return True
        ns, name = key.split("/", 1)
        async with self._limit(cluster):
            try:
                await conn.client.request("DELETE", _svc_path(ns, name), body={
                    "apiVersion": "v1", "kind": "DeleteOptions",
                    "preconditions": {"uid": current["metadata"].get("uid")}})
                self.member_writes += 1
            except ApiCallError as e:
                if e.status not in (404, 409):
                    log.warning("delete of %s in %s failed: %s", key, cluster, e)
                    return False
            except Unreachable:
                return False
        conn.services.cache.pop(key, None)
        self._conforming.pop((key, cluster), None)
        if done is not None:
            done.add("Normal", "DeletedInCluster", f"Deleted service {key} in {{where}}", cluster)
        return True

    async def release_cluster(self, cluster: str, delete_services: bool) -> None:
        """A cluster is being unjoined: with delete_services, remove the Services kfed created there
        (never adopted ones); shards of that cluster then leave every federated Service's status."""
        conn = self.pool.members.get(cluster)
        if delete_services and conn is not None and conn.services is not None:
            for key, svc in list(conn.services.cache.items()):
                meta = svc["metadata"]
                if (meta.get("labels") or {}).get(S.MANAGED_LABEL) != self.federation:
                    continue
                if (meta.get("annotations") or {}).get(S.ORIGIN_ANNOTATION) != "created":
                    continue
                await self._delete_shard(cluster, conn, key, None)
        self.enqueue_all()

    # -- federated Service: finalizer and status -----------------------------------------

    async def _add_finalizer(self, fed: Obj) -> Obj | None:
        ns, name = _key(fed).split("/", 1)
        finalizers = [*(fed["metadata"].get("finalizers") or []), S.SHARD_FINALIZER]
        patch = [{"op": "test", "path": "/metadata/resourceVersion", "value": fed["metadata"]["resourceVersion"]},
                 {"op": "add", "path": "/metadata/finalizers", "value": finalizers}]
        try:
            result: Obj = await self.fed.request("PATCH", _svc_path(ns, name), body=patch,
                                                 content_type="application/json-patch+json")
        except ApiCallError as e:
            if e.status in (404, 409, 422):
                return None  # changed or gone meanwhile: its watch event queues it again
            raise
        self.federation_writes += 1
        return self.services.remember(result)

    async def _remove_finalizer(self, fed: Obj) -> None:
        if S.SHARD_FINALIZER not in (fed["metadata"].get("finalizers") or []):
            return
        ns, name = _key(fed).split("/", 1)
        finalizers = [f for f in fed["metadata"].get("finalizers") or [] if f != S.SHARD_FINALIZER]
        patch = [{"op": "test", "path": "/metadata/resourceVersion", "value": fed["metadata"]["resourceVersion"]},
                 {"op": "replace", "path": "/metadata/finalizers", "value": finalizers}]
        try:
            await self.fed.request("PATCH", _svc_path(ns, name), body=patch,
                                   content_type="application/json-patch+json")
            self.federation_writes += 1
        except ApiCallError as e:
            if e.status not in (404, 409, 422):
                raise

    def shards_for(self, key: str, placed: list[str], previous: dict[str, S.Shard] | None = None) -> list[S.Shard]:
        ns, name = key.split("/", 1)
        out = []
        for cluster in placed:
            state = self.clusters.states.get(cluster)
            conn = self.pool.members.get(cluster)
            region, zones = self.clusters.topology(cluster)
            informed = bool(conn is not None and conn.services is not None and conn.slices is not None
                            and conn.services.synced.is_set() and conn.slices.synced.is_set())
            if previous and cluster in previous and (state is None or state.ready is None or
                                                     (state.ready and not informed)):
                out.append(previous[cluster])  # not known yet: keep what was last published
                continue
            ready = bool(state and state.ready and informed)
            member_svc = conn.services.cache.get(key) if ready and conn and conn.services else None
            slices = conn.slices_for(ns, name) if ready and conn else []
            out.append(S.shard_status(
                cluster, cluster_ready=ready, cluster_reason=(state.reason if state else "ClusterUnknown"),
                region=region, cluster_zones=zones, member_service=member_svc, slices=slices,
                write_error=self._write_errors.get((key, cluster))))
        return out

    async def _update_status(self, key: str, fed: Obj, placed: list[str]) -> None:
        previous = {s.cluster: s for s in S.decode_shards(
            (fed["metadata"].get("annotations") or {}).get(S.SHARDS_ANNOTATION))}
        shards = self.shards_for(key, placed, previous)
        turned = ClusterEvents()
        for sh in shards:
            was = self._last_health.get((key, sh.cluster))
            if was is not None and was != sh.healthy:
                turned.add("Normal" if sh.healthy else "Warning", "ShardHealthy" if sh.healthy else "ShardUnhealthy",
                           f"shard in {{where}}: {sh.reason}", sh.cluster)
            self._last_health[(key, sh.cluster)] = sh.healthy
        turned.record(self.events, fed)
        encoded = S.encode_shards(shards)
        status = fed.get("status") or {}
        ingress = S.federated_ingress(shards)
        conditions = _conditions(status.get("conditions") or [], shards, fed["metadata"].get("generation"))
        body: Obj = {}
        if (fed["metadata"].get("annotations") or {}).get(S.SHARDS_ANNOTATION) != encoded:
            body["metadata"] = {"annotations": {S.SHARDS_ANNOTATION: encoded}}
        if (status.get("loadBalancer") or {}).get("ingress", []) != ingress or \
                _strip_times(status.get("conditions") or []) != _strip_times(conditions):
            body["status"] = {"loadBalancer": {"ingress": ingress or None}, "conditions": conditions}
        if not body:
            return
        ns, name = key.split("/", 1)
        try:
            # One write for both: /status keeps the spec but takes metadata changes (as
            # kube-apiserver's Service status strategy does), so the shards annotation rides along.
            fed = await self.fed.request("PATCH", _svc_path(ns, name) + "/status", body=body,
                                         content_type="application/merge-patch+json")
            self.federation_writes += 1
            self.services.remember(fed)
        except ApiCallError as e:
            if e.status != 404:
                raise


def _strip_times(conds: list[Obj]) -> list[Obj]:
    return [{k: v for k, v in c.items() if k != "lastTransitionTime"} for c in conds]


def _conditions(old: list[Obj], shards: list[S.Shard], generation: Any) -> list[Obj]:
    """status.conditions of the federated Service: a summary, then one condition per shard."""
    from datetime import UTC, datetime

    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    before = {c.get("type"): c for c in old}
    healthy = sum(1 for s in shards if s.healthy)
    wanted = [("ShardsHealthy", healthy > 0, "HealthyShards" if healthy else "NoHealthyShards",
               f"{healthy}/{len(shards)} shards healthy")]
    for s in shards:
        detail = (f"addresses={','.join(s.addresses + s.hostnames) or '-'} readyEndpoints={s.readyEndpoints} "
                  f"zones={','.join(s.zones) or '-'}")
        wanted.append((f"{s.cluster}.shards.federation.kfed.io/Healthy", s.healthy, s.reason or "Unknown", detail))
    out = []
    for ctype, ok, reason, message in wanted:
        st = "True" if ok else "False"
        prev = before.get(ctype) or {}
        cond: Obj = {"type": ctype, "status": st, "reason": reason, "message": message,
                     "lastTransitionTime": prev.get("lastTransitionTime") if prev.get("status") == st and
                     prev.get("lastTransitionTime") else now}
        if generation is not None:
            cond["observedGeneration"] = generation
        out.append(cond)
    return out
