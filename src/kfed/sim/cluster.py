"""SimCluster: one simulated member cluster (an ApiServer on an in-memory store + its controllers)."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import errno
import logging
import socket
from dataclasses import dataclass
from pathlib import Path

from kfed.api import codec
from kfed.api import errors as E
from kfed.api.kubeconfig import ContextEntry
from kfed.api.objects import ObjectService, WriteOptions
from kfed.api.server import ApiServer, ApiServerConfig
from kfed.model.registry import MEMBER_RESOURCES
from kfed.model.resource import Obj, ResourceType
from kfed.model.strategies.service import ServiceStrategy
from kfed.sim.addresses import AddressPlan, IpPool
from kfed.sim.controller import Controller
from kfed.sim.endpoints_controller import EndpointsController
from kfed.sim.events import EventRecorder
from kfed.sim.faults import DEFAULT_LATENCY, Fault
from kfed.sim.indexes import PodIndex
from kfed.sim.informer import Informer
from kfed.sim.kubelet import Kubelet, PodFaults
from kfed.sim.layout import ClusterSpec
from kfed.sim.nodes import node_objects
from kfed.sim.service_allocator import ServiceAllocator
from kfed.sim.service_controller import HostnameRegistry, ServiceController
from kfed.sim.views import NodeView, PodView, key_of, node_view, pod_view
from kfed.sim.workloads import DeploymentController, ReplicaSetController
from kfed.storage.cached import CachedStore, JournalState, MemoryJournal

log = logging.getLogger("kfed.sim.cluster")

BOOTSTRAP_NAMESPACES = ["default", "kube-system", "kube-public", "kube-node-lease"]


@dataclass(frozen=True)
class SimOptions:
    nodes_per_zone: int = 2
    pod_start_delay: float = 0.1  # Pending -> Running
    pod_ready_delay: float = 0.2  # Running -> Ready
    events: bool = True  # record Events (Scheduled, Started, EnsuredLoadBalancer, ...)
    # Decoded objects kept per cluster. Enough for a watch event to be decoded once for all its
    # watchers; more only adds garbage-collector work (and memory) with 50 clusters in one process.
    decode_cache_size: int = 64
    bookmark_interval: float = 5.0
    watch_history: int = 5_000  # store events kept per cluster for watches that resume (memory!)
    # Move the fleet's long-lived objects out of the garbage collector's sight (see kfed.runtime.heap):
    # process-wide, so a process that embeds a fleet for a moment may want it off.
    freeze_heap: bool = True


def sim_resources() -> list[ResourceType]:
    """The member kinds, with Services that keep what the cluster allocated (as a real cluster's do)."""
    out = []
    for rt in MEMBER_RESOURCES:
        if rt.plural == "services" and rt.group == "":
            rt = dataclasses.replace(rt, strategy=ServiceStrategy(allocates_ips=True, allow_special_external_ips=True))
        out.append(rt)
    return out


class _CarriedJournal(MemoryJournal):
    """Starts a fresh in-memory store with the objects of the previous one (a restart keeps data)."""

    def __init__(self, state: JournalState) -> None:
        self._state = state

    def load(self) -> JournalState:
        return self._state


class SimCluster:
    def __init__(self, spec: ClusterSpec, *, data_dir: Path, plan: AddressPlan, options: SimOptions | None = None,
                 hostnames: HostnameRegistry | None = None) -> None:
        self.spec = spec
        self.name = spec.name
        self.data_dir = Path(data_dir)
        self.plan = plan
        self.options = options or SimOptions()
        self.hostnames = hostnames
        self.resources = sim_resources()
        self.rt = {(rt.group, rt.plural): rt for rt in self.resources}
        self.faults: dict[Fault, float] = {}  # active faults; the value is the latency of SLOW
        self.pod_faults = PodFaults()
        self.cordoned_zones: set[str] = set()
        self._deleted_pods: dict[str, tuple[str, Obj]] = {}  # key -> (zone, manifest) of deleted bare pods
        self._server: ApiServer | None = None
        self._informers: list[Informer] = []
        self._controllers: list[Controller] = []
        self._nodes: dict[str, NodeView] = {}
        self._pods = PodIndex()
        self._kubelet: Kubelet | None = None
        self._carry: JournalState | None = None
        self._started = False
        self._started_once = False  # a restart must keep the port its contexts name

    # -- properties ----------------------------------------------------------------------

    @property
    def server(self) -> ApiServer:
        if self._server is None:
            raise RuntimeError(f"cluster {self.name} is not running")
        return self._server

    @property
    def objects(self) -> ObjectService:
        return self.server.objects

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def port(self) -> int:
        return self.server.port

    def kubeconfig_entry(self) -> ContextEntry:
        return self.server.kubeconfig_entry()

    def resource(self, plural: str, group: str = "") -> ResourceType:
        return self.rt[(group, plural)]

    def _running_kubelet(self) -> Kubelet:
        if self._kubelet is None:
            raise RuntimeError(f"cluster {self.name} is not running")
        return self._kubelet

    # -- lifecycle -----------------------------------------------------------------------

    def _saved_port(self) -> int:
        try:
            return int((self.data_dir / "port").read_text().strip())
        except (OSError, ValueError):
            return 0

    async def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._server = await self._start_server(self._port_to_use())
        (self.data_dir / "port").write_text(f"{self._server.port}\n")
        try:
            await self._ensure_nodes()
            await self._start_controllers()
        except BaseException:
            await self.stop()
            raise
        self._started = True
        await self._apply_faults()

    async def _start_server(self, port: int) -> ApiServer:
        for attempt in range(5):
            store = CachedStore(_CarriedJournal(self._carry) if self._carry else None,
                                history=self.options.watch_history)
            config = ApiServerConfig(
                data_dir=self.data_dir, resources=self.resources, port=port, context_name=self.name,
                bootstrap_namespaces=BOOTSTRAP_NAMESPACES, decode_cache_size=self.options.decode_cache_size,
                bookmark_interval=self.options.bookmark_interval)
            server = ApiServer(config, store=store)
            try:
                await server.start()
            except OSError as e:
                await server.stop()
                # ApiServer picks a free port, then binds it: with many clusters starting at once
                # another one may take it in between. Try another (a restart keeps its port if it can).
                if e.errno != errno.EADDRINUSE or attempt == 4:
                    raise
                log.info("cluster=%s port %d taken, trying another", self.name, server.port)
                port = 0 if not self._started_once else port
                await asyncio.sleep(0.05 * (attempt + 1))
                continue
            server.ready = False  # /readyz fails until the controllers have synced
            # No await since the server started: the allocator is in place before any request
            # is served (a TLS handshake alone takes several turns of the loop).
            self._install_allocator(server, store)
            self._started_once = True
            return server
        raise AssertionError("unreachable")

    def _install_allocator(self, server: ApiServer, store: CachedStore) -> None:
        """Cluster IPs and node ports are assigned inside the API's writes, as kube-apiserver does."""
        rt = self.resource("services")
        allocator = ServiceAllocator(rt, self.plan.service_cidr)
        allocator.claim_existing(codec.loads(kv.value) for kv in store.range_now(rt.storage_prefix()).kvs)
        server.objects.set_allocator(rt, allocator)

    def _port_to_use(self) -> int:
        if self._server is not None:
            return self._server.port
        port = self._saved_port()
        if port:
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    return 0  # taken since: take any free port
        return port

    async def stop(self) -> None:
        for c in self._controllers:
            await c.stop()
        for inf in self._informers:
            await inf.stop()
        self._controllers, self._informers = [], []
        if self._server is not None:
            await self._server.stop()
        self._started = False

    async def restart(self) -> None:
        """Stop and start again on the same port with the same data, CA and tokens."""
        store = self.server.store
        assert isinstance(store, CachedStore)
        await self.stop()
        kvs = {kv.key: kv for kv in store.range_now("").kvs}
        self._carry = JournalState(kvs, store.revision, store.revision)
        await self.start()

    async def _ensure_nodes(self) -> None:
        rt = self.resource("nodes")
        now = codec.now_rfc3339()
        opts = WriteOptions(field_manager="kubelet", shared_result=True)
        for obj, status in node_objects(self.spec, self.plan.node_cidr, self.options.nodes_per_zone, now):
            name = obj["metadata"]["name"]
            if await self.objects.get_or_none(rt, None, name) is not None:
                continue
            await self.objects.create(rt, None, obj, opts)

            def set_status(o: Obj, status: Obj = status) -> None:
                o["status"] = status

            await self.objects.modify(rt, None, name, set_status, opts, subresource="status")

    async def _start_controllers(self) -> None:
        objects = self.objects
        rt = self.resource
        recorder = EventRecorder(objects, rt("events"), enabled=self.options.events)
        pods = PodIndex()
        nodes: dict[str, NodeView] = {}
        self._pods, self._nodes = pods, nodes
        kubelet = Kubelet(self.name, objects, rt("pods"), pods, nodes, IpPool(self.plan.pod_cidr, reserved=0),
                          recorder, self.pod_faults, start_delay=self.options.pod_start_delay,
                          ready_delay=self.options.pod_ready_delay)
        endpoints = EndpointsController(self.name, objects, rt("endpoints"), rt("endpointslices", "discovery.k8s.io"),
                                        pods, nodes)
        services = ServiceController(self.spec, objects, rt("services"), self.plan, recorder, self.hostnames)
        replica_sets = ReplicaSetController(self.name, objects, rt("replicasets", "apps"), rt("pods"), pods, recorder)
        deployments = DeploymentController(self.name, objects, rt("deployments", "apps"), rt("replicasets", "apps"),
                                           recorder)
        self._kubelet = kubelet

        def on_pod(event: str, obj: Obj) -> None:
            meta = obj.get("metadata", {})
            key = key_of(meta.get("namespace", ""), meta.get("name", ""))
            new: PodView | None = None
            if event == "DELETED":
                old = pods.remove(key)
            else:
                new = pod_view(obj)
                old = pods.upsert(new)
            kubelet.on_pod(old, new)
            endpoints.on_pod(old, new)
            replica_sets.on_pod(old, new)

        def on_node(event: str, obj: Obj) -> None:
            name = obj.get("metadata", {}).get("name", "")
            old = nodes.get(name)
            if event == "DELETED":
                nodes.pop(name, None)
                new = None
            else:
                new = nodes[name] = node_view(obj)
            if old != new:
                kubelet.on_nodes_changed()
                if old is None or new is None or old.zone != new.zone:
                    endpoints.on_nodes_changed()

        def on_service(event: str, obj: Obj) -> None:
            services.on_service(event, obj)
            endpoints.on_service(event, obj)

        def on_replica_set(event: str, obj: Obj) -> None:
            replica_sets.on_replica_set(event, obj)
            deployments.on_replica_set(event, obj)

        wiring = [
            (rt("nodes"), on_node),
            (rt("pods"), on_pod),
            (rt("services"), on_service),
            (rt("endpoints"), endpoints.on_endpoints),
            (rt("endpointslices", "discovery.k8s.io"), endpoints.on_slice),
            (rt("replicasets", "apps"), on_replica_set),
            (rt("deployments", "apps"), deployments.on_deployment),
        ]
        for resource, handler in wiring:
            inf = Informer(objects, resource, name=f"{self.name}/{resource.plural}")
            inf.add_handler(handler)
            inf.start()
            self._informers.append(inf)
        await asyncio.gather(*(inf.synced.wait() for inf in self._informers))
        self._controllers = [kubelet, endpoints, services, replica_sets, deployments]
        for c in self._controllers:
            c.start()

    # -- API server faults ---------------------------------------------------------------

    async def set_fault(self, fault: Fault, latency: float | None = None) -> None:
        self.faults[fault] = (latency if latency is not None else DEFAULT_LATENCY) if fault is Fault.SLOW else 0.0
        await self._apply_faults()

    async def clear_fault(self, fault: Fault | None = None) -> None:
        """Undo one fault, or every fault of the cluster (pod faults too) when none is named."""
        if fault is None:
            self.faults.clear()
            await self.clear_pod_faults()
        else:
            self.faults.pop(fault, None)
        await self._apply_faults()

    async def _apply_faults(self) -> None:
        server = self.server
        server.app_builder.added_latency = self.faults.get(Fault.SLOW, 0.0)
        server.app_builder.forbid_writes = Fault.FORBID_WRITES in self.faults
        server.authenticator.revoked = Fault.REVOKE_CREDENTIALS in self.faults
        server.ready = self._started and Fault.UNHEALTHY not in self.faults
        if Fault.DOWN in self.faults:
            await server.pause()
        else:
            await server.resume()

    # -- pod faults ----------------------------------------------------------------------

    def _check_target(self, pod: str | None, zone: str | None) -> None:
        if (pod is None) == (zone is None):
            raise ValueError("name either a pod or a zone")
        if zone is not None and zone not in self.spec.zones:
            raise ValueError(f"cluster {self.name} has no zone {zone!r} (its zones: {', '.join(self.spec.zones)})")

    async def make_unready(self, *, pod: str | None = None, zone: str | None = None,
                           namespace: str = "default") -> None:
        """Hold a pod, or every pod of a zone (also those placed there later), unready until undone."""
        self._check_target(pod, zone)
        if pod is not None:
            key = key_of(namespace, pod)
            if self._pods.get(key) is None and \
                    await self.objects.get_or_none(self.resource("pods"), namespace, pod) is None:
                raise LookupError(f'pod "{pod}" not found in namespace {namespace} of cluster {self.name}')
            self.pod_faults.unready_pods.add(key)
        else:
            self.pod_faults.unready_zones.add(zone or "")
        self._running_kubelet().on_faults_changed(self._affected(pod, namespace))

    async def make_ready(self, *, pod: str | None = None, zone: str | None = None, namespace: str = "default") -> None:
        self._check_target(pod, zone)
        if pod is not None:
            self.pod_faults.unready_pods.discard(key_of(namespace, pod))
        else:
            self.pod_faults.unready_zones.discard(zone or "")
        self._running_kubelet().on_faults_changed(self._affected(pod, namespace))

    def _affected(self, pod: str | None, namespace: str) -> list[PodView] | None:
        """The pod a fault names (None: all pods, for a zone)."""
        if pod is None:
            return None
        view = self._pods.get(key_of(namespace, pod))
        return [view] if view is not None else []

    async def delete_pods(self, *, pod: str | None = None, zone: str | None = None,
                          namespace: str = "default") -> list[str]:
        """Delete a pod, or every pod of a zone; a zone is also cordoned so replacements go elsewhere
        (or stay Pending). Returns the deleted pods as namespace/name."""
        self._check_target(pod, zone)
        rt = self.resource("pods")
        if zone is not None:
            self.cordoned_zones.add(zone)
            await self._cordon(zone, True)
            listed = await self.objects.list(rt, None)
            victims = [p for p in listed.items if self._zone_of_node(p.get("spec", {}).get("nodeName", "")) == zone]
        else:
            found = await self.objects.get_or_none(rt, namespace, pod or "")
            if found is None:
                raise LookupError(f'pod "{pod}" not found in namespace {namespace} of cluster {self.name}')
            victims = [found]
        deleted = []
        for obj in victims:
            meta = obj["metadata"]
            key = key_of(meta["namespace"], meta["name"])
            if not any(r.get("controller") for r in meta.get("ownerReferences") or []):
                self._deleted_pods[key] = (self._zone_of_node(obj["spec"].get("nodeName", "")), _manifest(obj))
            try:
                await self.objects.delete(rt, meta["namespace"], meta["name"], grace_period_seconds=0)
                deleted.append(key)
            except E.ApiError as e:
                if e.code != 404:
                    raise
        return deleted

    async def restore_pods(self, *, pod: str | None = None, zone: str | None = None,
                           namespace: str = "default") -> list[str]:
        """Undo delete_pods: uncordon the zone and create again the deleted pods no controller owns."""
        self._check_target(pod, zone)
        if zone is not None:
            self.cordoned_zones.discard(zone)
            await self._cordon(zone, False)
            keys = [k for k, (z, _) in self._deleted_pods.items() if z == zone]
        else:
            keys = [key_of(namespace, pod or "")]
        restored = []
        for key in keys:
            entry = self._deleted_pods.pop(key, None)
            if entry is None:
                continue
            manifest = copy.deepcopy(entry[1])
            try:
                await self.objects.create(self.resource("pods"), manifest["metadata"]["namespace"], manifest,
                                          WriteOptions(field_manager="kfed-sim"))
                restored.append(key)
            except E.ApiError as e:
                if e.code != 409:
                    raise
        return restored

    async def clear_pod_faults(self) -> None:
        self.pod_faults.unready_pods.clear()
        self.pod_faults.unready_zones.clear()
        if self._server is not None and self._started:
            for zone in list(self.cordoned_zones):
                await self.restore_pods(zone=zone)
            for key in list(self._deleted_pods):
                ns, _, name = key.partition("/")
                await self.restore_pods(pod=name, namespace=ns)
            self._running_kubelet().on_faults_changed()

    def _zone_of_node(self, node: str) -> str:
        view = self._nodes.get(node)
        return view.zone if view is not None else ""

    async def _cordon(self, zone: str, on: bool) -> None:
        rt = self.resource("nodes")
        listed = await self.objects.list(rt, None)
        for node in listed.items:
            if node_view(node).zone != zone:
                continue

            def set_unschedulable(o: Obj) -> None:
                if on:
                    o["spec"]["unschedulable"] = True
                else:
                    o["spec"].pop("unschedulable", None)

            await self.objects.modify(rt, None, node["metadata"]["name"], set_unschedulable,
                                      WriteOptions(field_manager="kfed-sim", shared_result=True))

    @property
    def settled(self) -> bool:
        """Whether every controller has caught up (nothing queued or in progress)."""
        return self._started and all(c.queue.idle for c in self._controllers)

    def pod_counts(self) -> tuple[int, int]:
        """(pods, ready pods) as the cluster's controllers last saw them (cheap: no store reads)."""
        pods = list(self._pods)
        return len(pods), sum(1 for p in pods if p.ready)

    def describe(self) -> dict[str, object]:
        """What `kfed sim status` shows for this cluster."""
        return {
            "name": self.name, "region": self.spec.region, "zones": list(self.spec.zones),
            "server": self.url if self._server is not None else "", "lbPool": str(self.plan.lb_pool),
            "lbHostnames": self.spec.lb_hostnames, "faults": {f.value: v for f, v in self.faults.items()},
            "unreadyPods": sorted(self.pod_faults.unready_pods), "unreadyZones": sorted(self.pod_faults.unready_zones),
            "cordonedZones": sorted(self.cordoned_zones), "deletedPods": sorted(self._deleted_pods),
        }


def _manifest(pod: Obj) -> Obj:
    """What to create again for a deleted bare pod: its name, labels and spec, not where it ran."""
    meta = pod["metadata"]
    spec = copy.deepcopy(pod.get("spec") or {})
    spec.pop("nodeName", None)
    keep = {k: copy.deepcopy(meta[k]) for k in ("name", "namespace", "labels", "annotations") if k in meta}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": keep, "spec": spec}
