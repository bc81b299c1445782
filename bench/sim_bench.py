"""Simulated clusters at scale: memory of a big fleet, and readiness -> EndpointSlice watch latency.

    .venv/bin/python bench/sim_bench.py              # 50 x (1,000 Services + 2,000 pods), 3-4 minutes
    .venv/bin/python bench/sim_bench.py --clusters 3 --services 300 --pods 600 --flips 100   # quick

One process holds the fleet (as `kfed sim` would). Each cluster gets `--pods` pods (already
placed on a node, as a scheduler would have done) labelled so that each of `--services` Services
selects pods/services of them; the simulated kubelets make them Running and Ready and the
endpoints controllers build the Endpoints and EndpointSlices. Then the RSS is measured, and a
separate client process lists and watches the EndpointSlices of every cluster over HTTPS (as a
federation's service controller would). The fleet flips the readiness of one random pod at a
time through the fault API (the kubelet writes the pod status, the endpoints controller the
slice); the client reports when the slice event showing the change arrives. Latency = arrival in
the client - the moment the fault was requested (CLOCK_MONOTONIC is shared by both processes).
The flips run in `--rounds` rounds, each with its own p99, to show how much of a tail is noise.

The objects are created in process, through each cluster's ObjectService (HTTP would only add
the client's work to the fleet's). The fleet manages the garbage collector itself, as in `kfed sim`
(SimOptions.freeze_heap, see kfed.runtime.heap); the client freezes what it listed, so that its own
full collections are not counted as the fleet's latency. Prints Markdown for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import random
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PODS_READY_TIMEOUT = 1800.0


def rss_mib(pid: int | str = "self") -> tuple[float, float]:
    """(current RSS, peak RSS) in MiB from /proc."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def progress(what: str, t0: float) -> None:
    print(f"  {what} ({time.monotonic() - t0:.0f}s, RSS {rss_mib()[0]:.0f} MiB)", file=sys.stderr, flush=True)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


# -- the fleet side -----------------------------------------------------------------------------


def bench_layout(n: int) -> list[Any]:
    from kfed.sim.layout import ClusterSpec

    # 10 clusters per region (one zone each), like a big version of the guide's layout.
    return [ClusterSpec(f"bench-r{i // 10}-z{i % 10}", f"region-{i // 10}", (f"region-{i // 10}-z{i % 10}",))
            for i in range(n)]


async def create_pods(cluster: Any, services: int, pods: int) -> None:
    from kfed.api.objects import WriteOptions

    objects = cluster.objects
    nodes = [n["metadata"]["name"] for n in (await objects.list(cluster.resource("nodes"), None)).items]
    opts = WriteOptions(field_manager="kubectl-create")
    for i in range(pods):
        app = f"svc-{i * services // pods}"
        await objects.create(cluster.resource("pods"), "default", {
            "metadata": {"name": f"{app}-pod-{i}", "labels": {"app": app}},
            "spec": {"nodeName": nodes[i % len(nodes)],
                     "containers": [{"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]},
        }, opts)
        if i % 50 == 0:
            await asyncio.sleep(0)  # let the controllers keep up (a tight loop never yields)


async def create_services(cluster: Any, services: int, service_type: str) -> None:
    from kfed.api.objects import WriteOptions

    opts = WriteOptions(field_manager="kubectl-create")
    for i in range(services):
        await cluster.objects.create(cluster.resource("services"), "default", {
            "metadata": {"name": f"svc-{i}"},
            "spec": {"type": service_type, "selector": {"app": f"svc-{i}"}, "ports": [{"port": 80, "name": "http"}]},
        }, opts)
        if i % 50 == 0:
            await asyncio.sleep(0)


async def ready_pods(cluster: Any) -> int:
    return int(cluster.pod_counts()[1])


async def ready_endpoints(cluster: Any) -> int:
    # Counted in the stored bytes: decoding 1,000 slices of 50 clusters every poll would slow the
    # fleet it waits for.
    prefix = cluster.resource("endpointslices", "discovery.k8s.io").storage_prefix()
    return sum(kv.value.count(b'"ready":true') for kv in cluster.server.store.range_now(prefix).kvs)


async def settled(cluster: Any) -> int:
    return int(cluster.settled)


async def wait_all(fleet: Any, count: Any, want: int, what: str) -> None:
    deadline = time.monotonic() + PODS_READY_TIMEOUT
    waiting = list(fleet.clusters)
    while waiting:
        # Only the clusters not done yet: counting reads (and decodes) objects.
        waiting = [c for c in waiting if await count(c) < want]
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: {[c.name for c in waiting]}")
        if waiting:
            await asyncio.sleep(2.0)


async def run_fleet(args: argparse.Namespace) -> dict[str, Any]:
    from kfed.sim.cluster import SimOptions
    from kfed.sim.fleet import SimFleet

    data_dir = Path(tempfile.mkdtemp(prefix="kfed-sim-bench-"))
    # The garbage collector is left to the fleet (SimOptions.freeze_heap), as in `kfed sim`.
    options = SimOptions(nodes_per_zone=2, pod_start_delay=0.0, pod_ready_delay=0.0, events=False,
                         freeze_heap=args.freeze_heap)
    fleet = SimFleet(bench_layout(args.clusters), data_dir=data_dir, options=options, write_kubeconfig=False)
    baseline = rss_mib()[0]
    t0 = time.monotonic()
    await fleet.start()
    started = time.monotonic() - t0
    result: dict[str, Any] = {"start_s": started}
    try:
        t0, cpu0 = time.monotonic(), time.process_time()
        with GcPauses() as populate_gc:
            # Pods first, then Services: each Service's endpoints are then written once, not once
            # per pod becoming ready.
            for c in fleet.clusters:
                await create_pods(c, args.services, args.pods)
            progress(f"created {args.clusters * args.pods} pods", t0)
            await wait_all(fleet, ready_pods, args.pods, "pods not ready")
            progress("every pod ready", t0)
            for c in fleet.clusters:
                await create_services(c, args.services, args.service_type)
            progress(f"created {args.clusters * args.services} services", t0)
            await wait_all(fleet, ready_endpoints, args.pods, "endpoints not ready")
            progress("every endpoint ready", t0)
            await wait_all(fleet, settled, 1, "controllers still busy")
            progress("every controller idle (load balancers allocated)", t0)
        result["populate_s"] = time.monotonic() - t0
        result["populate_cpu_s"] = time.process_time() - cpu0
        result["populate_gc"] = populate_gc.summary()
        rss, peak = rss_mib()
        result.update(rss_mib=rss, peak_rss_mib=peak, baseline_mib=baseline)
        print(f"  fleet ready: RSS {rss:.0f} MiB (peak {peak:.0f}); collector: {result['populate_gc']}",
              file=sys.stderr, flush=True)
        result.update(await measure(fleet, args))
        result["rss_after_watch_mib"], result["peak_rss_after_watch_mib"] = rss_mib()
    finally:
        await fleet.stop()
    return result


class GcPauses:
    """Garbage-collector pauses while measuring (a full collection of a big heap stops everything)."""

    def __init__(self) -> None:
        self.pauses: list[tuple[int, float]] = []
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        # CPU time, not wall time: on a shared machine the wall clock also counts other processes.
        if phase == "start":
            self._started = time.thread_time()
        else:
            self.pauses.append((info["generation"], (time.thread_time() - self._started) * 1000))

    def __enter__(self) -> GcPauses:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self)

    def summary(self) -> str:
        parts = []
        for gen in (0, 1, 2):
            times = [ms for g, ms in self.pauses if g == gen]
            if times:
                parts.append(f"gen{gen}: {len(times)} x, {sum(times):.0f} ms in all, longest {max(times):.0f} ms")
        return "; ".join(parts) or "none"


async def measure(fleet: Any, args: argparse.Namespace) -> dict[str, Any]:
    spec = [{"name": c.name, "url": c.url, "ca": str(c.server.certs.ca_cert), "token": c.server.admin_token}
            for c in fleet.clusters]
    spec_path = fleet.data_dir / "client.json"
    spec_path.write_text(json.dumps(spec))
    client_args = ["--client", str(spec_path), *(["--client-no-freeze"] if args.client_no_freeze else [])]
    proc = await asyncio.create_subprocess_exec(sys.executable, __file__, *client_args,
                                                stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    assert proc.stdout is not None
    rounds: list[list[tuple[tuple[str, str, bool], float]]] = []
    arrived: dict[tuple[str, str, bool], list[float]] = {}
    synced = asyncio.Event()
    result: dict[str, Any] = {"client_gc": "none"}

    async def read_client() -> None:
        assert proc.stdout is not None
        async for line in proc.stdout:
            msg = json.loads(line)
            if msg.get("synced"):
                result["client_list_s"] = msg["list_s"]
                result["client_slices"] = msg["slices"]
                synced.set()
            elif "pod" in msg:
                arrived.setdefault((msg["c"], msg["pod"], msg["ready"]), []).append(msg["t"])
            elif "gc" in msg:
                result["client_gc"] = msg["gc"]

    reader = asyncio.create_task(read_client())
    pauses = GcPauses()
    try:
        await asyncio.wait_for(synced.wait(), timeout=600)
        pauses.__enter__()
        wall0, cpu0 = time.monotonic(), time.process_time()
        rng = random.Random(42)
        per_round = -(-args.flips // args.rounds)
        for start in range(0, args.flips, per_round):
            sent: list[tuple[tuple[str, str, bool], float]] = []
            rounds.append(sent)
            for _ in range(min(per_round, args.flips - start)):
                cluster = rng.choice(fleet.clusters)
                i = rng.randrange(args.pods)
                pod = f"svc-{i * args.services // args.pods}-pod-{i}"
                sent.append(((cluster.name, pod, False), time.monotonic()))
                await fleet.make_unready(cluster.name, pod=pod)
                await asyncio.sleep(args.interval)
                sent.append(((cluster.name, pod, True), time.monotonic()))
                await fleet.make_ready(cluster.name, pod=pod)
                await asyncio.sleep(args.interval)
        everything = [s for r in rounds for s in r]
        deadline = time.monotonic() + 30
        while len(match(everything, arrived)) < len(everything) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        result["cpu_share"] = (time.process_time() - cpu0) / (time.monotonic() - wall0)
        await asyncio.sleep(1.2)  # the client's last report of its own collections
    finally:
        if pauses in gc.callbacks:
            pauses.__exit__()
        proc.terminate()
        await proc.wait()
        reader.cancel()
    result["gc"] = pauses.summary()
    result["freezes"] = fleet.heap.freezes
    latencies = match([s for r in rounds for s in r], arrived)
    per_round_p99 = [percentile(match(r, arrived), 0.99) for r in rounds]
    result.update(flips=sum(len(r) for r in rounds), seen=len(latencies), p50_ms=percentile(latencies, 0.5),
                  p99_ms=percentile(latencies, 0.99), max_ms=max(latencies, default=float("nan")),
                  round_p99_ms=per_round_p99, round_size=max(len(r) for r in rounds))
    return result


def match(sent: list[tuple[tuple[str, str, bool], float]], arrived: dict[tuple[str, str, bool], list[float]]
          ) -> list[float]:
    """Latency (ms) of each change: the first report of it that came after it was requested."""
    out = []
    for key, t in sent:
        later = [a for a in arrived.get(key, []) if a >= t]
        if later:
            out.append((min(later) - t) * 1000)
    return out


# -- the watching client (a separate process) ---------------------------------------------------


async def client(clusters: list[dict[str, Any]], freeze: bool = True) -> None:
    import aiohttp

    state: dict[tuple[str, str], dict[str, bool]] = {}  # (cluster, slice) -> pod -> ready

    def report(cluster: str, obj: dict[str, Any], deleted: bool) -> None:
        key = (cluster, obj["metadata"]["name"])
        now = {} if deleted else {(e.get("targetRef") or {}).get("name", ""): bool(
            (e.get("conditions") or {}).get("ready")) for e in obj.get("endpoints") or []}
        before = state.get(key, {})
        t = time.monotonic()
        for pod, ready in now.items():
            if before.get(pod) is not None and before[pod] != ready:
                print(json.dumps({"t": t, "c": cluster, "pod": pod, "ready": ready}), flush=True)
        state[key] = now

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_read=None)) as session:
        async def list_cluster(c: dict[str, Any]) -> tuple[str, int]:
            ctx = ssl.create_default_context(cafile=c["ca"])
            headers = {"Authorization": f"Bearer {c['token']}"}
            async with session.get(f"{c['url']}/apis/discovery.k8s.io/v1/endpointslices", ssl=ctx,
                                   headers=headers) as resp:
                body = await resp.json()
            for item in body["items"]:
                report(c["name"], item, False)
            return body["metadata"]["resourceVersion"], len(body["items"])

        async def watch_cluster(c: dict[str, Any], rv: str) -> None:
            ctx = ssl.create_default_context(cafile=c["ca"])
            headers = {"Authorization": f"Bearer {c['token']}"}
            url = (f"{c['url']}/apis/discovery.k8s.io/v1/endpointslices?watch=1&resourceVersion={rv}"
                   "&allowWatchBookmarks=true")
            async with session.get(url, ssl=ctx, headers=headers) as resp:
                async for line in resp.content:
                    ev = json.loads(line)
                    if ev["type"] in ("ADDED", "MODIFIED", "DELETED"):
                        report(c["name"], ev["object"], ev["type"] == "DELETED")

        t0 = time.monotonic()
        listed = await asyncio.gather(*(list_cluster(c) for c in clusters))
        list_s = time.monotonic() - t0
        if freeze:
            # What was listed stays for good: keep this process's own full collections (hundreds of
            # ms over 50,000 decoded slices) out of the latencies it reports for the fleet.
            gc.collect()
            gc.freeze()
        watches = [asyncio.create_task(watch_cluster(c, rv)) for c, (rv, _) in zip(clusters, listed, strict=True)]
        await asyncio.sleep(0.5)  # the watches are established (the fleet waits for this line)
        print(json.dumps({"synced": True, "list_s": list_s, "slices": sum(n for _, n in listed)}), flush=True)
        with GcPauses() as pauses:
            while not all(w.done() for w in watches):
                await asyncio.sleep(1.0)
                print(json.dumps({"gc": pauses.summary()}), flush=True)
        await asyncio.gather(*watches)


# -- main ---------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clusters", type=int, default=50)
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--pods", type=int, default=2000)
    parser.add_argument("--service-type", default="LoadBalancer", choices=["ClusterIP", "LoadBalancer"])
    parser.add_argument("--flips", type=int, default=400, help="readiness changes measured (each: unready + ready)")
    parser.add_argument("--rounds", type=int, default=4, help="the flips in this many rounds (a p99 each)")
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between readiness changes")
    parser.add_argument("--no-freeze-heap", dest="freeze_heap", action="store_false",
                        help="SimOptions(freeze_heap=False): the collector's full collections then walk the "
                             "whole fleet (1-3 s at 50 clusters)")
    parser.add_argument("--client-no-freeze", action="store_true",
                        help="the watching client does not gc.freeze() what it listed: its own full "
                             "collections (100+ ms over 50,000 slices) then count in the latencies")
    parser.add_argument("--client", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        asyncio.run(client(json.loads(Path(args.client).read_text()), freeze=not args.client_no_freeze))
        return
    try:
        import uvloop

        uvloop.install()
        loop_name = "uvloop"
    except ImportError:
        loop_name = "asyncio"
    result = asyncio.run(run_fleet(args))
    command = " ".join([Path(sys.executable).name, *sys.argv])
    print(f"\n## Simulated clusters: {args.clusters} x ({args.services} Services + {args.pods} pods)\n")
    print(f"- command: `{command}`")
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"- machine: {platform.machine()}, {os.cpu_count()} CPUs (shared: load average {load} at the end),"
          f" Python {platform.python_version()} ({loop_name}), {platform.platform()}")
    print(f"- date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}\n")
    print("| measure | value |")
    print("|---|---|")
    rounds = result["round_p99_ms"]
    heap = "frozen by the fleet (SimOptions.freeze_heap)" if args.freeze_heap else "not frozen (--no-freeze-heap)"
    rows = [
        ("fleet start (API servers, nodes, controllers)", f"{result['start_s']:.1f} s"),
        ("populate until every endpoint is ready", f"{result['populate_s']:.1f} s "
                                                   f"({result['populate_cpu_s']:.0f} s of CPU)"),
        ("garbage collections while populating (CPU time)", f"{result['populate_gc']}; long-lived objects {heap}"),
        ("RSS with the fleet populated", f"{result['rss_mib']:.0f} MiB (peak {result['peak_rss_mib']:.0f} MiB)"),
        ("RSS after serving the watcher", f"{result['rss_after_watch_mib']:.0f} MiB"),
        ("peak RSS, whole run", f"{result['peak_rss_after_watch_mib']:.0f} MiB"),
        ("client: list all EndpointSlices of every cluster", f"{result['client_list_s']:.2f} s "
                                                              f"({result['client_slices']} slices)"),
        ("readiness changes measured", f"{result['seen']} of {result['flips']}"),
        ("readiness change -> watcher's EndpointSlice event, p50", f"{result['p50_ms']:.1f} ms"),
        ("... p99", f"{result['p99_ms']:.1f} ms"),
        ("... max", f"{result['max_ms']:.1f} ms"),
        (f"... p99 of each round of {result['round_size']} changes",
         " / ".join(f"{x:.1f}" for x in rounds) + f" ms (median {statistics.median(rounds):.1f} ms)"),
        ("garbage collections while measuring (CPU time)",
         f"{result['gc']}; heap frozen {result['freezes']} times since start"),
        ("the client's own garbage collections while measuring", result["client_gc"]),
        ("fleet process CPU while measuring (of one core)", f"{result['cpu_share']:.0%}"),
    ]
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
