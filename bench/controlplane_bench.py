"""Control plane: propagation and status latency on the guide's 13 clusters; convergence, steady
state and memory at 1,000 Services x 50 clusters.

    .venv/bin/python bench/controlplane_bench.py                      # both parts, full scale
    .venv/bin/python bench/controlplane_bench.py --quick              # 10 clusters x 200 Services
    .venv/bin/python bench/controlplane_bench.py --part latency       # only the 13-cluster part

Part 1 (latency): `kfed up` in this process (EmbeddedFederation: federation API on SQLite,
controller-manager, built-in DNS server, the 13 simulated clusters of the guide, each with two
`app=web` pods). Timings are taken by in-process watches of the member clusters' and the
federation's object stores, so the measurement adds no HTTP clients:
- a new federated Service: POST to the federation API -> the Service exists in all 13 members;
- one pod's readiness flipped (the simulated kubelet writes the pod status, the endpoints
  controller the EndpointSlice) -> the federated Service's shard annotation shows the new count;
- a cluster's API goes down (connection refused) -> its Cluster object has Ready=False;
  reported in monitor periods. Then cleared -> Ready=True.

Part 2 (scale): separate processes, as a production install would run them: the simulated fleet (N
clusters, one `tier=bench` pod each, spread over `--fleet-processes` processes, 2 by default: member
clusters are separate machines, and one Python process could not use the second core), `kfed
apiserver` (SQLite), and a child process of this script hosting the controller-manager (so its
RSS is the controller-manager's, plus a small harness; a new one for each run). 1,000 federated Services are created as fast as the API takes
them; measured: until every member has every Service (as the controller sees it through its watches,
checked at the end by listing each member), until every federated Service's status shows every shard
healthy, until every DNS name holds its A records (built-in provider: one DNSRecordSet object per
Service, holding its names; checked by listing them); then a steady-state window in which writes to members, to the federation API
and DNS provider calls are counted (target: zero). Part 2 runs `--scale-runs` times (3; the
machine is shared and its speed varies by a fifth within minutes): the run with the median
convergence time is reported, with every run's times beside it, and the median DNS time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import procs
import report
from report import Summary, fmt_ms, percentile

WEB_SELECTOR = {"app": "web"}


# -- in-process watches ------------------------------------------------------------------------------


class StoreWatch:
    """Follows one resource of an ObjectService in this process and calls `on_event(type, obj, t)`
    with the time each event was seen (time.perf_counter)."""

    def __init__(
        self,
        objects: Any,
        rt: Any,
        namespace: str | None,
        on_event: Callable[[str, dict[str, Any], float], None],
    ) -> None:
        self.objects, self.rt, self.namespace, self.on_event = objects, rt, namespace, on_event
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        listed = await self.objects.list(self.rt, self.namespace)
        stream = await self.objects.watch(self.rt, self.namespace, resource_version=listed.resource_version)

        async def pump() -> None:
            async for item in stream:
                self.on_event(item.type, item.object, time.perf_counter())

        self._task = asyncio.create_task(pump())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


class Waiter:
    """Latest-value waiting: `until(predicate)` returns the time the predicate first held."""

    def __init__(self) -> None:
        self._changed = asyncio.Event()

    def poke(self) -> None:
        self._changed.set()

    async def until(self, predicate: Callable[[], float | None], timeout: float) -> float | None:
        deadline = time.monotonic() + timeout
        while True:
            t = predicate()
            if t is not None:
                return t
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), timeout=left)
            except TimeoutError:
                return predicate()


# -- part 1: latency on the guide's 13 clusters ------------------------------------------------------


@dataclass
class LatencyResults:
    propagation: list[float] = field(default_factory=list)
    propagation_missed: int = 0
    status: list[float] = field(default_factory=list)
    status_missed: int = 0
    outage: list[float] = field(default_factory=list)  # seconds to Ready=False
    recovery: list[float] = field(default_factory=list)
    outage_missed: int = 0
    monitor_period: float = 0.0
    failure_threshold: int = 0


async def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.05)


async def run_latency(args: argparse.Namespace, work: Path) -> LatencyResults:
    from kfed.api.objects import WriteOptions
    from kfed.cli.embedded import EmbeddedFederation, EmbeddedOptions
    from kfed.controllers.manager import FederationSettings, ManagerOptions
    from kfed.controllers.shards import SHARDS_ANNOTATION

    res = LatencyResults(monitor_period=args.monitor_period, failure_threshold=2)
    options = EmbeddedOptions(
        data_dir=work / "kfed",
        kubeconfig=work / "kubeconfig",
        api_port=0,
        dns_listen=("127.0.0.1", 0),
        sim_layout="seed",
        settings=FederationSettings(),
        manager=ManagerOptions(monitor_period=args.monitor_period, probe_timeout=1.0, failure_threshold=2),
        pod_ready_delay=0.0,
    )
    fed = EmbeddedFederation(options)
    await fed.start()
    watches: list[StoreWatch] = []
    try:
        manager, fleet = fed.manager, fed.fleet
        assert manager is not None and fed.api is not None and fed.fed is not None
        await wait_for(
            lambda: (
                manager.clusters is not None
                and len(manager.clusters.ready_clusters()) == 13
                and all(s.region for s in manager.clusters.states.values())
            ),
            60,
            "13 clusters Ready",
        )
        clusters = fleet.clusters
        for c in clusters:
            for i in range(2):
                await c.objects.create(
                    c.resource("pods"),
                    "default",
                    {
                        "metadata": {"name": f"web-{i}", "labels": dict(WEB_SELECTOR)},
                        "spec": {
                            "containers": [
                                {"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}
                            ]
                        },
                    },
                    WriteOptions(field_manager="kubectl-run"),
                )
        await wait_for(lambda: all(c.pod_counts()[1] >= 2 for c in clusters), 60, "pods ready")
        report.progress("13 clusters Ready, 26 pods Ready")

        # member Services seen, by name -> cluster -> time
        seen: dict[str, dict[str, float]] = {}
        member_waiter = Waiter()

        def on_member(cluster: str) -> Callable[[str, dict[str, Any], float], None]:
            def handle(kind: str, obj: dict[str, Any], t: float) -> None:
                if kind == "ADDED":
                    seen.setdefault(obj["metadata"]["name"], {}).setdefault(cluster, t)
                    member_waiter.poke()

            return handle

        for c in clusters:
            w = StoreWatch(c.objects, c.resource("services"), "default", on_member(c.name))
            await w.start()
            watches.append(w)

        # federated Services' shard annotations, by name -> cluster -> (readyEndpoints, time seen)
        shards: dict[str, dict[str, tuple[int, float]]] = {}
        fed_waiter = Waiter()

        def on_fed_service(kind: str, obj: dict[str, Any], t: float) -> None:
            text = (obj["metadata"].get("annotations") or {}).get(SHARDS_ANNOTATION)
            if not text:
                return
            current = shards.setdefault(obj["metadata"]["name"], {})
            for sh in json.loads(text):
                n = int(sh.get("readyEndpoints") or 0)
                if current.get(sh["cluster"], (-1, 0.0))[0] != n:
                    current[sh["cluster"]] = (n, t)
            fed_waiter.poke()

        objects = fed.api.objects
        services_rt = objects.require("", "v1", "services")
        w = StoreWatch(objects, services_rt, "default", on_fed_service)
        await w.start()
        watches.append(w)

        # 1. a new federated Service -> present in all 13 clusters
        names = [c.name for c in clusters]
        for i in range(args.samples):
            name = f"prop-{i}"
            t0 = time.perf_counter()
            # its own selector (no pods): the readiness flips below then concern the web Service alone
            await fed.fed.request(
                "POST",
                "/api/v1/namespaces/default/services",
                body={
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {"name": name},
                    "spec": {"type": "LoadBalancer", "selector": {"app": name}, "ports": [{"port": 80}]},
                },
            )

            def everywhere(name: str = name) -> float | None:
                got = seen.get(name, {})
                return max(got.values()) if len(got) == len(names) else None

            t = await member_waiter.until(everywhere, 30)
            if t is None:
                res.propagation_missed += 1
            else:
                res.propagation.append(t - t0)
            await asyncio.sleep(args.gap)
        report.progress(
            f"propagation: p50 {fmt_ms(percentile(res.propagation, 0.5))} "
            f"p99 {fmt_ms(percentile(res.propagation, 0.99))}"
        )

        # the web Service, for readiness flips
        await fed.fed.request(
            "POST",
            "/api/v1/namespaces/default/services",
            body={
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "web"},
                "spec": {"type": "LoadBalancer", "selector": dict(WEB_SELECTOR), "ports": [{"port": 80}]},
            },
        )
        ok = await fed_waiter.until(
            lambda: (
                1.0
                if len(shards.get("web", {})) == 13 and all(n == 2 for n, _ in shards["web"].values())
                else None
            ),
            60,
        )
        if ok is None:
            raise TimeoutError(
                f"the web Service's shards never showed 2 ready endpoints each: {shards.get('web')}"
            )

        # 2. pod readiness -> shard status
        for i in range(args.samples):
            cluster = names[i % len(names)]
            for ready, want in ((False, 1), (True, 2)):
                t0 = time.perf_counter()
                if ready:
                    await fleet.make_ready(cluster, pod="web-0")
                else:
                    await fleet.make_unready(cluster, pod="web-0")

                def reflected(cluster: str = cluster, want: int = want, t0: float = t0) -> float | None:
                    n, t = shards.get("web", {}).get(cluster, (-1, 0.0))
                    return t if n == want and t >= t0 else None

                t = await fed_waiter.until(reflected, 30)
                if t is None:
                    res.status_missed += 1
                else:
                    res.status.append(t - t0)
                await asyncio.sleep(args.gap)
        report.progress(
            f"readiness -> status: p50 {fmt_ms(percentile(res.status, 0.5))} "
            f"p99 {fmt_ms(percentile(res.status, 0.99))}"
        )

        # 3. cluster outage -> Ready=False, in monitor periods
        clusters_rt = objects.require("federation.kfed.io", "v1beta1", "clusters")
        readiness: dict[str, tuple[str, float]] = {}
        cluster_waiter = Waiter()

        def on_cluster(kind: str, obj: dict[str, Any], t: float) -> None:
            for cond in (obj.get("status") or {}).get("conditions") or []:
                if cond.get("type") == "Ready":
                    name = obj["metadata"]["name"]
                    if readiness.get(name, ("", 0.0))[0] != cond.get("status"):
                        readiness[name] = (str(cond.get("status")), t)
                        cluster_waiter.poke()

        for c in (await objects.list(clusters_rt, None)).items:
            on_cluster("ADDED", c, 0.0)
        w = StoreWatch(objects, clusters_rt, None, on_cluster)
        await w.start()
        watches.append(w)
        limit = args.monitor_period * 6 + 10
        for i in range(args.outages):
            cluster = names[(i * 5) % len(names)]
            for fault, wanted in ((True, "False"), (False, "True")):
                t0 = time.perf_counter()
                if fault:
                    await fleet.fault(cluster, "down")
                else:
                    await fleet.clear(cluster)

                def changed(cluster: str = cluster, want: str = wanted, t0: float = t0) -> float | None:
                    st, t = readiness.get(cluster, ("", 0.0))
                    return t if st == want and t >= t0 else None

                t = await cluster_waiter.until(changed, limit)
                if t is None:
                    res.outage_missed += 1
                    continue
                (res.outage if fault else res.recovery).append(t - t0)
        report.progress(
            f"outage detection: {[round(x / args.monitor_period, 2) for x in res.outage]} periods"
        )
    finally:
        for w in watches:
            await w.stop()
        await fed.stop()
    return res


# -- part 2: scale -----------------------------------------------------------------------------------


def scale_layout(n: int) -> list[Any]:
    from kfed.sim.layout import ClusterSpec

    # 10 clusters per region, one zone each (the guide's layout, bigger)
    return [
        ClusterSpec(f"c{i:02d}-r{i // 10}", f"region-{i // 10}", (f"region-{i // 10}-z{i % 10}",))
        for i in range(n)
    ]


def fleet_share(clusters: int, share: int, shares: int) -> list[Any]:
    """The clusters fleet process `share` of `shares` runs: every shares-th one, so each process
    holds clusters of every region."""
    return scale_layout(clusters)[share::shares]


async def run_fleet(clusters: int, work: Path, share: int = 0, shares: int = 1) -> None:
    """One fleet process: its share of the N simulated clusters, one `tier=bench` pod each; prints READY."""
    from kfed.api.objects import WriteOptions
    from kfed.sim.cluster import SimOptions
    from kfed.sim.fleet import SimFleet

    options = SimOptions(pod_start_delay=0.0, pod_ready_delay=0.0, events=False)
    fleet = SimFleet(
        fleet_share(clusters, share, shares), data_dir=work / f"fleet-{share}", options=options,
        kubeconfig=work / f"fleet-{share}.kubeconfig",
    )
    # Address ranges as one fleet of all N would hand them out, so no two processes' clusters share
    # load-balancer addresses.
    for spec in scale_layout(clusters):
        fleet._planner.plan(spec.name, spec.region)
    await fleet.start()
    try:
        for c in fleet.clusters:
            await c.objects.create(
                c.resource("pods"),
                "default",
                {
                    "metadata": {"name": "bench-0", "labels": {"tier": "bench"}},
                    "spec": {
                        "containers": [
                            {"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}
                        ]
                    },
                },
                WriteOptions(field_manager="kubectl-run"),
            )
        await wait_for(lambda: all(c.pod_counts()[1] >= 1 for c in fleet.clusters), 120, "fleet pods ready")
        print("READY", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
    finally:
        await fleet.stop()


@dataclass
class ScaleResults:
    clusters: int
    services: int
    create_s: float = math.nan
    members_s: float = math.nan
    status_s: float = math.nan
    dns_s: float = math.nan
    dns_records: int = 0
    dns_expected: int = 0
    members_checked: str = ""
    steady_s: float = 0.0
    steady_member_writes: int = -1
    steady_fed_writes: int = -1
    steady_dns_calls: int = -1
    member_writes: int = 0
    fed_writes: int = 0
    members_complete: str = ""  # at the end of the wait
    statuses_complete: str = ""
    manager_rss: float = math.nan
    manager_hwm: float = math.nan
    fleet_rss: float = math.nan
    api_rss: float = math.nan
    note: str = ""
    runs: str = ""  # with several runs: every run's times (this result is the median run's)
    dns_median_s: float = math.nan  # with several runs: the median DNS time
    reference_s: float = math.nan  # a fixed Python loop timed just before the run: the machine's speed


def _dns_calls(manager: Any) -> int:
    applier = getattr(manager.dns, "applier", None)
    stats = getattr(applier, "stats", None)
    if stats is None:
        return -1
    return int(getattr(stats, "requests", 0) + getattr(stats, "lists", 0))


async def run_scale(args: argparse.Namespace, work: Path) -> ScaleResults:
    from kfed.controllers import membership
    from kfed.controllers.manager import ControllerManager, FederationSettings, ManagerOptions
    from kfed.controllers.shards import SHARDS_ANNOTATION
    from kfed.members.client import KubeClient, context_names, parse_kubeconfig

    res = ScaleResults(args.clusters, args.services)
    api_log = work / "apiserver.log"
    shares = max(1, min(args.fleet_processes, args.clusters))
    fleets = [
        procs.start(
            [sys.executable, __file__, "--role", "fleet", "--clusters", str(args.clusters), "--work", str(work),
             "--share", str(k), "--shares", str(shares),
             *(["--profile", f"{args.profile}.fleet{k}"] if args.profile else [])],
            log=work / f"fleet-{k}.log",
            stdout_pipe=True,
        )
        for k in range(shares)
    ]
    port = procs.free_port()
    api = procs.start(
        [
            *procs.kfed_cli(),
            "apiserver",
            "--data-dir",
            str(work / "fed"),
            "--port",
            str(port),
            "--kubeconfig",
            str(work / "fed.kubeconfig"),
        ],
        log=api_log,
    )
    manager: ControllerManager | None = None
    task: asyncio.Task[None] | None = None
    fed: KubeClient | None = None
    try:
        loop = asyncio.get_running_loop()
        for k, fleet in enumerate(fleets):
            assert fleet.stdout is not None
            line = await asyncio.wait_for(loop.run_in_executor(None, fleet.stdout.readline), timeout=600)
            if b"READY" not in line:
                raise RuntimeError(f"fleet {k} did not start: {(work / f'fleet-{k}.log').read_text()[-2000:]}")
        await wait_for(lambda: (work / "fed.kubeconfig").exists() and procs.tcp_open(port), 60, "apiserver")
        report.progress(f"fleet of {args.clusters} clusters and the API server are up")
        fed_config = parse_kubeconfig((work / "fed.kubeconfig").read_text())
        fed = await KubeClient.from_kubeconfig(fed_config, "federation-cluster")
        settings = FederationSettings()
        await membership.publish_settings(fed, settings)
        names = []
        for k in range(shares):
            fleet_config = parse_kubeconfig((work / f"fleet-{k}.kubeconfig").read_text())
            for name in context_names(fleet_config):
                await membership.join(fed, name, fleet_config, name)
                names.append(name)
        manager = ControllerManager(
            fed, settings, ManagerOptions(monitor_period=args.scale_monitor_period, identity="bench")
        )
        task = asyncio.create_task(manager.run())
        await wait_for(
            lambda: (
                manager is not None
                and manager.clusters is not None
                and len(manager.clusters.ready_clusters()) == len(names)
                and all(s.region for s in manager.clusters.states.values())
            ),
            300,
            "clusters Ready",
        )
        services = manager.services
        assert services is not None
        report.progress(
            f"{len(names)} clusters joined and Ready; creating {args.services} federated Services"
        )

        t0 = time.perf_counter()
        sem = asyncio.Semaphore(32)

        async def create(i: int) -> None:
            async with sem:
                assert fed is not None
                await fed.request(
                    "POST",
                    "/api/v1/namespaces/default/services",
                    body={
                        "apiVersion": "v1",
                        "kind": "Service",
                        "metadata": {"name": f"svc-{i}"},
                        "spec": {
                            "type": "LoadBalancer",
                            "selector": {"tier": "bench"},
                            "ports": [{"port": 80}],
                        },
                    },
                )

        await asyncio.gather(*(create(i) for i in range(args.services)))
        res.create_s = time.perf_counter() - t0
        report.progress(f"created {args.services} federated Services in {res.create_s:.1f} s")

        # The checks below run in the controller-manager's process every half second: keep them
        # cheap (a member's cache is only scanned once it is big enough; a status is parsed once
        # per resourceVersion), or the benchmark measures itself.
        def members_done() -> int:
            assert manager is not None and manager.pool is not None
            return sum(
                1
                for conn in manager.pool.members.values()
                if conn.services is not None
                and len(conn.services.cache) >= args.services
                and sum(1 for k in conn.services.cache if k.startswith("default/svc-")) >= args.services
            )

        healthy_seen: dict[str, tuple[str, bool]] = {}

        def status_done() -> int:
            n = 0
            for key, svc in services.services.cache.items():
                if not key.startswith("default/svc-"):
                    continue
                rv = svc["metadata"].get("resourceVersion", "")
                seen = healthy_seen.get(key)
                if seen is None or seen[0] != rv:
                    text = (svc["metadata"].get("annotations") or {}).get(SHARDS_ANNOTATION)
                    ok = bool(text) and sum(1 for s in json.loads(text) if s.get("healthy")) == len(names)
                    seen = healthy_seen[key] = (rv, ok)
                n += seen[1]
            return n

        regions = {c.region for c in scale_layout(args.clusters)}
        res.dns_expected = args.services * (1 + len(regions) + args.clusters)

        def dns_written() -> int:
            """Record sets the DNS controller has written: each name is two changes (records + owner)."""
            stats = getattr(getattr(manager.dns, "applier", None), "stats", None)
            return int(stats.changes) // 2 if stats is not None else 0

        async def dns_listed() -> int:
            assert fed is not None
            n, cont = 0, ""
            while True:
                body = await fed.get(
                    "/apis/federation.kfed.io/v1beta1/dnsrecordsets",
                    limit=250,
                    **({"continue": cont} if cont else {}),
                )
                # One object per federated Service, holding all of its names. Converged means
                # every shard healthy, so every name (global, region, zone) holds A records.
                n += sum(len({r["name"] for r in o["spec"].get("records") or ()
                              if ".svc." in r["name"] and r.get("type") == "A"})
                         for o in body.get("items") or [])
                cont = (body.get("metadata") or {}).get("continue") or ""
                if not cont:
                    return n

        profiler = None
        if args.profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()

        deadline = t0 + args.converge_timeout
        last_report = 0.0
        while time.perf_counter() < deadline:
            now = time.perf_counter()
            if math.isnan(res.members_s) and members_done() == len(names):
                res.members_s = now - t0
                report.progress(f"every member has every Service: {res.members_s:.1f} s")
            if math.isnan(res.status_s) and status_done() == args.services:
                res.status_s = now - t0
                report.progress(f"every status shows {len(names)} healthy shards: {res.status_s:.1f} s")
            if math.isnan(res.dns_s):
                res.dns_records = dns_written()
                # Written changes count rewrites too: only a listing says the names are final. It
                # is taken once statuses are done and the DNS controller is idle (nothing queued or in
                # flight: a listing of 56,000 names is no small load on the API server); the
                # time is that of the listing's start.
                if not math.isnan(res.status_s) and manager.dns.idle():
                    t_list = time.perf_counter()
                    res.dns_records = await dns_listed()
                    if res.dns_records >= res.dns_expected:
                        res.dns_s = t_list - t0
                        report.progress(f"every DNS name holds its A records: {res.dns_s:.1f} s")
            if not (math.isnan(res.members_s) or math.isnan(res.status_s) or math.isnan(res.dns_s)):
                break
            if now - last_report > 10:
                last_report = now
                report.progress(
                    f"  {now - t0:.0f} s: members complete {members_done()}/{len(names)}, statuses "
                    f"{status_done()}/{args.services}, DNS records {res.dns_records}/{res.dns_expected}, "
                    f"member writes {services.member_writes}, RSS {procs.rss_mib()[0]:.0f} MiB, CPU s "
                    f"manager {procs.cpu_seconds():.0f} fleet {sum(procs.cpu_seconds(f.pid) for f in fleets):.0f} "
                    f"api {procs.cpu_seconds(api.pid):.0f}; dns error: {manager.dns.last_error}"
                )
            await asyncio.sleep(0.5)
        res.members_complete = f"{members_done()}/{len(names)} members"
        if status_done() < args.services:
            await explain_unconverged(services, manager, args.services)
        res.statuses_complete = f"{status_done()}/{args.services} statuses"
        if profiler is not None:
            profiler.disable()
            save_profile(profiler, Path(args.profile))
        res.dns_records = await dns_listed()
        if math.isnan(res.dns_s):
            res.note = (
                f"DNS not converged after {args.converge_timeout:g} s: {res.dns_records:,} of "
                f"{res.dns_expected:,} names hold A records"
            )
        # independent check: list every member's Services over its API
        counts, unreachable = [], 0
        for name in names:
            conn = manager.pool.members.get(name) if manager.pool else None
            if conn is None:
                unreachable += 1
                continue
            try:
                body = await conn.client.request("GET", "/api/v1/namespaces/default/services", timeout=120)
            except Exception:  # noqa: BLE001 - a member too busy to answer is reported, not fatal
                unreachable += 1
                continue
            counts.append(sum(1 for s in body["items"] if s["metadata"]["name"].startswith("svc-")))
        res.members_checked = (
            f"{sum(1 for c in counts if c == args.services)}/{len(names)} members list all "
            f"{args.services} Services (min {min(counts, default=0)})"
            + (f"; {unreachable} did not answer the list" if unreachable else "")
        )
        res.member_writes, res.fed_writes = services.member_writes, services.federation_writes
        # steady state: only meaningful once converged
        if not (math.isnan(res.members_s) or math.isnan(res.status_s)):
            await asyncio.sleep(2.0)
            m0, f0, d0 = services.member_writes, services.federation_writes, _dns_calls(manager)
            t_steady = time.perf_counter()
            await asyncio.sleep(args.steady_seconds)
            res.steady_s = time.perf_counter() - t_steady
            res.steady_member_writes = services.member_writes - m0
            res.steady_fed_writes = services.federation_writes - f0
            d1 = _dns_calls(manager)
            res.steady_dns_calls = d1 - d0 if d0 >= 0 else -1
        res.manager_rss, res.manager_hwm = procs.rss_mib()
        res.fleet_rss = sum(procs.tree_rss_mib(f.pid) for f in fleets)
        res.api_rss = procs.tree_rss_mib(api.pid)
    finally:
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if fed is not None:
            await fed.close()
        for fleet in fleets:
            procs.stop(fleet)
        procs.stop(api)
    return res


def reference_loop_s() -> float:
    """Seconds for 5 million additions in a Python loop: the machine's speed at the time (on this
    shared machine the same loop varied by more than half within an hour)."""
    t = time.perf_counter()
    x = 0
    for i in range(5_000_000):
        x += i
    return time.perf_counter() - t


def scale_run_in_new_process(args: argparse.Namespace, work: Path) -> ScaleResults:
    """One part-2 run in a process of its own (it hosts the controller-manager): a run's memory,
    peak RSS included, is its own, not what earlier runs left behind."""
    import dataclasses
    import subprocess

    work.mkdir()
    result = work / "result.json"
    cmd = [sys.executable, __file__, "--role", "scale-run", "--work", str(work), "--result", str(result),
           "--clusters", str(args.clusters), "--services", str(args.services),
           "--scale-monitor-period", str(args.scale_monitor_period),
           "--converge-timeout", str(args.converge_timeout), "--steady-seconds", str(args.steady_seconds),
           "--fleet-processes", str(args.fleet_processes), *(["--profile", args.profile] if args.profile else [])]
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, timeout=args.converge_timeout + 600)
    if done.returncode != 0 or not result.exists():
        raise RuntimeError(f"part 2 run exited with {done.returncode} (its progress and errors are above)")
    data = json.loads(result.read_text())
    names = {f.name for f in dataclasses.fields(ScaleResults)}
    return ScaleResults(**{k: (math.nan if v is None else v) for k, v in data.items() if k in names})


def _converge_s(r: ScaleResults) -> float:
    """Members and statuses both done (a run that did not converge sorts last)."""
    t = max(r.members_s, r.status_s)
    return math.inf if math.isnan(t) else t


def _dns_or_inf(r: ScaleResults) -> float:
    return math.inf if math.isnan(r.dns_s) else r.dns_s


def median_run(runs: list[ScaleResults]) -> ScaleResults:
    """The run with the median convergence time, noting every run's times and the median DNS time."""
    ordered = sorted(runs, key=_converge_s)
    chosen = ordered[(len(ordered) - 1) // 2]
    dns = sorted(_dns_or_inf(r) for r in runs)[(len(runs) - 1) // 2]
    chosen.dns_median_s = math.nan if math.isinf(dns) else dns
    if len(runs) > 1:
        def times(values: list[float]) -> str:
            return ", ".join(f"{v:.1f}" for v in values) + " s"
        chosen.runs = (
            f"{len(runs)} runs, the median run shown: members {times([r.members_s for r in runs])}; "
            f"statuses {times([r.status_s for r in runs])}; DNS {times([r.dns_s for r in runs])}; "
            f"the machine's speed before each run (5 million additions in a Python loop): "
            + ", ".join(f"{r.reference_s:.2f}" for r in runs) + " s"
        )
    return chosen


async def explain_unconverged(services: Any, manager: Any, expected: int) -> None:
    """Why statuses did not converge: the reasons of unhealthy shards, and one shard looked up."""
    from collections import Counter

    from kfed.controllers.shards import SHARDS_ANNOTATION

    reasons: Counter[str] = Counter()
    example: tuple[str, str] | None = None
    for key, svc in services.services.cache.items():
        if not key.startswith("default/svc-"):
            continue
        text = (svc["metadata"].get("annotations") or {}).get(SHARDS_ANNOTATION)
        for shard in json.loads(text) if text else []:
            if not shard.get("healthy"):
                reasons[shard.get("reason") or "?"] += 1
                example = example or (key, shard["cluster"])
    report.progress(f"unhealthy shards by reason: {dict(reasons.most_common(5))}; queue idle: {services.idle()}")
    if example is None:
        return
    key, cluster = example
    ns, name = key.split("/", 1)
    conn = manager.pool.members.get(cluster)
    cached = conn.services.cache.get(key) if conn and conn.services else None
    slices = conn.slices_for(ns, name) if conn else []
    report.progress(f"example {key} in {cluster}: cached ingress "
                    f"{((cached or {}).get('status') or {}).get('loadBalancer')}, cached slices "
                    f"{[len(s.get('endpoints') or []) for s in slices]}")
    if conn is not None:
        live = await conn.client.get(f"/api/v1/namespaces/{ns}/services/{name}")
        live_slices = await conn.client.get(f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices",
                                            labelSelector=f"kubernetes.io/service-name={name}")
        report.progress(f"  live: ingress {(live.get('status') or {}).get('loadBalancer')} rv "
                        f"{live['metadata']['resourceVersion']} (cached rv "
                        f"{(cached or {}).get('metadata', {}).get('resourceVersion')}), slices "
                        f"{[len(s.get('endpoints') or []) for s in live_slices['items']]}")


def save_profile(profiler: Any, path: Path) -> None:
    """The 45 functions with the most time of their own, as text, and the raw stats beside it."""
    import io
    import pstats

    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(45)
    path.write_text(text.getvalue())
    profiler.dump_stats(str(path.with_suffix(".pstats")))  # for pstats or snakeviz


# -- report ------------------------------------------------------------------------------------------


def print_report(
    args: argparse.Namespace, lat: LatencyResults | None, scale: ScaleResults | None, load: str
) -> None:
    notes = []
    if lat is not None:
        notes.append(
            f"part 1: the guide's 13 simulated clusters in this process with kfed (`kfed up`); "
            f"{args.samples} Services created and {2 * args.samples} readiness flips; "
            f"{args.outages} outages with --cluster-monitor-period {args.monitor_period:g} s and "
            f"failure threshold 2"
        )
    if scale is not None:
        notes.append(
            f"part 2: {scale.clusters} clusters x {scale.services} federated Services "
            f"({'full scale' if scale.clusters >= 50 and scale.services >= 1000 else 'REDUCED SCALE'}); "
            f"the simulated clusters spread over {args.fleet_processes} fleet process(es) (they stand in "
            f"for separate machines), apiserver and controller-manager, all sharing the 2 cores; "
            f"simulated clusters without Events; monitor period {args.scale_monitor_period:g} s"
        )
    out = [
        report.header(
            "Control plane: propagation, shard status, outage detection, convergence at scale",
            load=load,
            notes=notes,
        )
    ]
    summaries: list[Summary] = []
    if lat is not None:
        rows = [
            [
                "new federated Service -> present in all 13 clusters",
                len(lat.propagation),
                lat.propagation_missed,
                fmt_ms(percentile(lat.propagation, 0.5)),
                fmt_ms(percentile(lat.propagation, 0.99)),
                "<= 500 ms",
            ],
            [
                "pod readiness change -> federated Service shard status",
                len(lat.status),
                lat.status_missed,
                fmt_ms(percentile(lat.status, 0.5)),
                fmt_ms(percentile(lat.status, 0.99)),
                "<= 300 ms",
            ],
            [
                "cluster API down -> Cluster Ready=False",
                len(lat.outage),
                lat.outage_missed,
                fmt_ms(percentile(lat.outage, 0.5)),
                fmt_ms(max(lat.outage, default=math.nan)) + " (max)",
                f"<= 2 periods ({2 * lat.monitor_period:g} s)",
            ],
            [
                "cluster API back -> Ready=True",
                len(lat.recovery),
                "",
                fmt_ms(percentile(lat.recovery, 0.5)),
                fmt_ms(max(lat.recovery, default=math.nan)) + " (max)",
                "-",
            ],
        ]
        out.append(report.table(["measure", "samples", "missed", "p50", "p99", "target"], rows))
        periods = [x / lat.monitor_period for x in lat.outage]
        out.append(
            f"- outage detection in monitor periods: {', '.join(f'{p:.2f}' for p in periods)}\n"
            f"- anchors (configured intervals, not measured): Federation v1 probed clusters every 40 s; "
            f"KubeFed every 10 s and needs 3 failures (~30 s)\n"
        )
        p99 = percentile(lat.propagation, 0.99)
        s99 = percentile(lat.status, 0.99)
        worst = max(periods, default=math.nan)
        summaries += [
            Summary(
                "control plane",
                "new federated Service in all 13 clusters, p99",
                "<= 500 ms",
                fmt_ms(p99),
                p99 <= 0.5 and not lat.propagation_missed,
            ),
            Summary(
                "control plane",
                "pod readiness -> shard status, p99",
                "<= 300 ms",
                fmt_ms(s99),
                s99 <= 0.3 and not lat.status_missed,
            ),
            Summary(
                "control plane",
                "cluster outage detected (worst of runs)",
                "<= 2 monitor periods",
                f"{worst:.2f} periods",
                worst <= 2.0 and not lat.outage_missed,
                "KubeFed 3 x 10 s, Federation v1 40 s (anchors)",
                f"period {lat.monitor_period:g} s",
            ),
        ]
    if scale is not None:
        full = scale.clusters >= 50 and scale.services >= 1000
        member_shards = scale.clusters * scale.services
        kubefed_s = member_shards / 20 / scale.clusters  # 20 writes/s per member, members in parallel

        def took(seconds: float, progress: str) -> str:
            return (
                f"{seconds:.1f} s"
                if not math.isnan(seconds)
                else f"not within {args.converge_timeout:g} s ({progress} complete)"
            )

        rows = [
            ["create the federated Services (client, 32 at a time)", f"{scale.create_s:.1f} s"],
            [
                f"every member has every Service ({member_shards:,} member Services)",
                took(scale.members_s, scale.members_complete),
            ],
            [
                "every federated status shows every shard healthy",
                took(scale.status_s, scale.statuses_complete),
            ],
            [
                f"every DNS name holds its A records ({scale.dns_expected:,} names in {scale.services:,} "
                f"DNSRecordSet objects, built-in provider; checked by listing)",
                f"{scale.dns_s:.1f} s"
                if not math.isnan(scale.dns_s)
                else f"not within {args.converge_timeout:g} s ({scale.dns_records:,} names with A records)",
            ],
            ["check by listing every member", scale.members_checked],
            [
                "writes during convergence: to members / to the federation API",
                f"{scale.member_writes:,} / {scale.fed_writes:,}",
            ],
            [
                f"steady state{f' ({scale.steady_s:.0f} s)' if scale.steady_member_writes >= 0 else ''}: writes to "
                "members / federation API / DNS provider calls",
                f"{scale.steady_member_writes} / {scale.steady_fed_writes} / "
                f"{scale.steady_dns_calls if scale.steady_dns_calls >= 0 else 'n/a'}"
                if scale.steady_member_writes >= 0
                else "not measured: not converged",
            ],
            [
                "controller-manager process RSS now / peak",
                f"{scale.manager_rss:,.0f} / {scale.manager_hwm:,.0f} MiB",
            ],
            ["fleet processes' RSS (sum) / apiserver RSS", f"{scale.fleet_rss:,.0f} / {scale.api_rss:,.0f} MiB"],
        ]
        out.append(report.table(["measure", "value"], rows))
        out.append(
            f"- anchor (computed, not measured): KubeFed's client limit of 20 requests/s per member needs "
            f">= {kubefed_s:,.0f} s to write {scale.services:,} Services into each member\n"
        )
        if scale.runs:
            out.append(f"- {scale.runs}\n")
        if scale.note:
            out.append(f"- {scale.note}\n")
        dns_s = scale.dns_s if math.isnan(scale.dns_median_s) else scale.dns_median_s
        converged = not (math.isnan(scale.members_s) or math.isnan(scale.status_s))
        converge = max(scale.members_s, scale.status_s) if converged else math.nan
        summaries += [
            Summary(
                "control plane",
                f"{scale.services:,} Services x {scale.clusters} clusters converge (members + status)",
                "<= 60 s",
                f"{converge:.1f} s"
                if converged
                else f"> {args.converge_timeout:g} s ({scale.members_complete}, {scale.statuses_complete})",
                (converged and converge <= 60) if full else None,
                f"KubeFed >= {kubefed_s:,.0f} s (computed anchor)",
                "" if full else f"{scale.services} x {scale.clusters}",
            ),
            Summary(
                "control plane",
                "... including every DNS record",
                "<= 60 s",
                f"{dns_s:.1f} s"
                if not math.isnan(dns_s)
                else f"> {args.converge_timeout:g} s ({scale.dns_records:,}/{scale.dns_expected:,})",
                (not math.isnan(dns_s) and dns_s <= 60) if full else None,
                "",
                "" if full else f"{scale.services} x {scale.clusters}",
            ),
            Summary(
                "control plane",
                "writes to members at steady state",
                "0",
                str(scale.steady_member_writes)
                if scale.steady_member_writes >= 0
                else "not reached (no convergence)",
                scale.steady_member_writes == 0 if scale.steady_member_writes >= 0 else None,
            ),
            Summary(
                "control plane",
                "controller-manager RSS",
                "<= 1 GiB",
                f"{scale.manager_hwm:,.0f} MiB (peak)",
                (scale.manager_hwm <= 1024) if full else None,
                "",
                "" if full else f"{scale.services} x {scale.clusters}",
            ),
        ]
    report.emit("\n".join(out), summaries)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="reduced scale: 10 clusters x 200 Services, 20 samples"
    )
    parser.add_argument("--part", choices=["latency", "scale", "both"], default="both")
    parser.add_argument(
        "--samples", type=int, default=40, help="Services created and readiness flips (each way)"
    )
    parser.add_argument("--gap", type=float, default=0.1, help="seconds between samples")
    parser.add_argument("--outages", type=int, default=5)
    parser.add_argument("--monitor-period", type=float, default=2.0, help="part 1's cluster monitor period")
    parser.add_argument("--clusters", type=int, default=50)
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--scale-monitor-period", type=float, default=5.0)
    parser.add_argument("--converge-timeout", type=float, default=300.0)
    parser.add_argument("--steady-seconds", type=float, default=30.0)
    parser.add_argument("--profile", help="part 2: write a cProfile summary of the controller-manager here "
                        "(and of the fleet process to PROFILE.fleet)")
    parser.add_argument("--scale-runs", type=int, default=3,
                        help="part 2 runs (the machine is shared and noisy: the median run is reported)")
    parser.add_argument("--fleet-processes", type=int, default=2,
                        help="part 2: processes the simulated clusters are spread over (they stand in for "
                        "separate machines; one Python process cannot use both cores)")
    parser.add_argument("--role", choices=["fleet", "scale-run"], help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    parser.add_argument("--share", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--shares", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    if "--quick" in sys.argv:  # smaller defaults; flags given explicitly still win
        parser.set_defaults(
            clusters=10, services=200, samples=20, outages=3, converge_timeout=120.0, steady_seconds=15.0,
            scale_runs=1,
        )
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    if args.role == "fleet":
        if args.profile:
            import cProfile

            fleet_profiler = cProfile.Profile()
            fleet_profiler.enable()
            try:
                asyncio.run(run_fleet(args.clusters, Path(args.work), args.share, args.shares))
            finally:
                fleet_profiler.disable()
                save_profile(fleet_profiler, Path(args.profile))
            return
        asyncio.run(run_fleet(args.clusters, Path(args.work), args.share, args.shares))
        return
    if args.role == "scale-run":
        import dataclasses

        reference_s = reference_loop_s()
        res = asyncio.run(run_scale(args, Path(args.work)))
        res.reference_s = reference_s
        # NaN is not JSON: written as null, read back as NaN
        data = {k: (None if isinstance(v, float) and math.isnan(v) else v)
                for k, v in dataclasses.asdict(res).items()}
        Path(args.result).write_text(json.dumps(data))
        return
    load = report.load_average()
    lat = scale = None
    scale_error = ""
    with tempfile.TemporaryDirectory(prefix="kfed-cp-bench-") as tmp:
        work = Path(tmp)
        if args.part in ("latency", "both"):
            (work / "latency").mkdir()
            lat = asyncio.run(run_latency(args, work / "latency"))
        if args.part in ("scale", "both"):
            runs: list[ScaleResults] = []
            try:
                for k in range(args.scale_runs):
                    report.progress(f"part 2, run {k + 1} of {args.scale_runs}")
                    runs.append(scale_run_in_new_process(args, work / f"scale-{k}"))
            except Exception as e:  # noqa: BLE001 - part 1's results are still worth printing
                import traceback

                traceback.print_exc()
                scale_error = f"part 2 failed: {type(e).__name__}: {e}"
            if runs and not scale_error:
                scale = median_run(runs)
    print_report(args, lat, scale, load)
    if scale_error:
        print(f"\n- {scale_error}")
        print(Summary("control plane", "convergence at scale", "<= 60 s", scale_error[:120], False).line())
        sys.exit(1)


if __name__ == "__main__":
    main()
