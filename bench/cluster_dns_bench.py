"""kfed cluster-dns: queries per second of local answers, and how fast a shard turning unhealthy
changes the answer pods get.

    .venv/bin/python bench/cluster_dns_bench.py [--services 500] [--duration 10] [--flips 50]

One simulated member cluster (in this process) holds --services ClusterIP Services in 10
namespaces and one Service `web` with a ready pod. `kfed cluster-dns` runs as its own process,
pinned to one core with taskset, following the cluster by watch; dnsperf, pinned to another core,
replays a mix of what pods ask that the cluster DNS answers itself: Service names (A), federated
names of a healthy local Service (CNAME + A), federated names of Services without endpoints (the
zone CNAME), search-path expansions (NXDOMAIN) and AAAA (NODATA).

Failover: the `web` pod is made unready (and then ready again) --flips times; each time the
bench asks the cluster DNS every millisecond until the federated name's answer changes (local
Service -> zone name, and back), and reports the percentiles of those delays. The delay covers
the whole path: kubelet status, EndpointSlice controller, watch, cluster DNS.

Targets (issue 6): >= 10,000 queries/s on one core; p99 of the answer change <= 300 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dns.message
import dns.query
import dns.rdatatype

CLUSTER = "bench-a=us-central1/us-central1-a"
CLUSTER_NAME = "bench-a"
FEDERATED_WEB = "web.ns0.myfederation.svc.cluster.local."
LOCAL_WEB = "web.ns0.svc.cluster.local."
ZONE_WEB = "web.ns0.myfederation.svc.us-central1-a.example.com."
TARGET_QPS = 10_000
TARGET_P99_MS = 300.0


def free_port() -> int:
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return int(port)
    raise RuntimeError("no free port")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


# -- the cluster ----------------------------------------------------------------------------------


async def populate(fleet: Any, services: int) -> None:
    """Namespaces, Services, the `web` pod and the kube-dns ConfigMap, straight into the sim's store
    (setup only: the cluster DNS reads them through the public API like any client)."""
    from kfed.api.objects import WriteOptions

    cluster = fleet.cluster(CLUSTER_NAME)
    objects = cluster.objects
    opts = WriteOptions(field_manager="bench")
    for i in range(10):
        await objects.create(cluster.resource("namespaces"), None, {"metadata": {"name": f"ns{i}"}}, opts)
    for i in range(services):
        await objects.create(
            cluster.resource("services"),
            f"ns{i % 10}",
            {
                "metadata": {"name": f"svc{i}"},
                "spec": {"selector": {"app": f"svc{i}"}, "ports": [{"name": "http", "port": 80}]},
            },
            opts,
        )
        if i % 50 == 0:
            await asyncio.sleep(0)
    await objects.create(
        cluster.resource("services"),
        "ns0",
        {
            "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80}]},
        },
        opts,
    )
    await objects.create(
        cluster.resource("pods"),
        "ns0",
        {
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {
                "containers": [{"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]
            },
        },
        opts,
    )
    await objects.create(
        cluster.resource("configmaps"),
        "kube-system",
        {"metadata": {"name": "kube-dns"}, "data": {"federations": "myfederation=example.com"}},
        opts,
    )


def write_queries(path: Path, distinct: Path, services: int, rng: random.Random) -> None:
    """The measured mix in `path`; every distinct query of it once in `distinct` (the warm-up, so the
    measurement sees the steady state: answers rendered once, then served from the cache)."""
    lines = []
    for _ in range(50_000):
        i = rng.randrange(services)
        name, ns = f"svc{i}", f"ns{i % 10}"
        roll = rng.random()
        if roll < 0.50:
            lines.append(f"{name}.{ns}.svc.cluster.local A")
        elif roll < 0.70:
            lines.append(f"{FEDERATED_WEB} A")
        elif roll < 0.80:
            lines.append(f"{name}.{ns}.myfederation.svc.cluster.local A")  # no endpoints: the zone CNAME
        elif roll < 0.90:
            lines.append(f"{name}.{ns}.myfederation.ns{rng.randrange(10)}.svc.cluster.local A")  # search path
        else:
            lines.append(f"{name}.{ns}.svc.cluster.local AAAA")
    path.write_text("\n".join(lines) + "\n")
    distinct.write_text("\n".join(sorted(set(lines))) + "\n")


# -- measurements -----------------------------------------------------------------------------------


def ask(port: int, name: str, rdtype: str = "A", timeout: float = 1.0) -> dns.message.Message | None:
    try:
        return dns.query.udp(dns.message.make_query(name, rdtype), "127.0.0.1", port=port, timeout=timeout)
    except (dns.exception.Timeout, OSError):
        return None


def web_target(port: int) -> str | None:
    msg = ask(port, FEDERATED_WEB)
    if msg is None:
        return None
    first = next((r for r in msg.answer if r.rdtype == dns.rdatatype.CNAME), None)
    return first[0].target.to_text() if first is not None else None


def wait_target(port: int, want: str, timeout: float) -> float:
    """Seconds until the federated name points at `want`, asking every millisecond."""
    started = time.perf_counter()
    while True:
        if web_target(port) == want:
            return time.perf_counter() - started
        if time.perf_counter() - started > timeout:
            raise TimeoutError(f"the answer did not become {want} within {timeout}s")
        time.sleep(0.001)


def dnsperf(
    port: int, queries: Path, seconds: float | None, cpu: int, args: argparse.Namespace
) -> tuple[float, float, float]:
    """dnsperf for `seconds`, or once through the file when None."""
    limit = ["-n", "1"] if seconds is None else ["-l", str(seconds)]
    argv = [
        "taskset",
        "-c",
        str(cpu),
        "dnsperf",
        "-s",
        "127.0.0.1",
        "-p",
        str(port),
        "-d",
        str(queries),
        *limit,
        "-c",
        str(args.clients),
        "-q",
        str(args.outstanding),
    ]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    qps = float(re.search(r"Queries per second:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    lost = float(re.search(r"Queries lost:\s+\d+ \(([\d.]+)%\)", out).group(1))  # type: ignore[union-attr]
    latency = re.search(r"Average Latency \(s\):\s+([\d.]+)", out)
    return qps, lost, float(latency.group(1)) * 1000 if latency else float("nan")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--services", type=int, default=500, help="ClusterIP Services in the cluster")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of dnsperf measured")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of queries before measuring")
    parser.add_argument("--clients", type=int, default=4, help="dnsperf -c")
    parser.add_argument("--outstanding", type=int, default=100, help="dnsperf -q")
    parser.add_argument("--flips", type=int, default=50, help="unready/ready rounds for the failover delay")
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--client-cpu", type=int, default=1)
    args = parser.parse_args()
    for tool in ("dnsperf", "taskset"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed (make sysdeps)")

    from kfed.sim import FleetThread, SimOptions, parse_cluster

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="kfed-cluster-dns-bench-") as workdir:
        work = Path(workdir)
        kubeconfig = work / "kubeconfig"
        options = SimOptions(pod_start_delay=0.01, pod_ready_delay=0.01, events=False)
        sim = FleetThread(
            [parse_cluster(CLUSTER)], data_dir=work / "sim", options=options, kubeconfig=kubeconfig
        )
        sim.start()
        server: subprocess.Popen[bytes] | None = None
        log = open(work / "cluster-dns.log", "wb")  # noqa: SIM115 - closed in finally
        try:
            sim.call(lambda fleet: populate(fleet, args.services), timeout=300)
            port = free_port()
            server = subprocess.Popen(
                [
                    "taskset",
                    "-c",
                    str(args.server_cpu),
                    sys.executable,
                    "-m",
                    "kfed.cli.cluster_dns",
                    "--cluster",
                    CLUSTER_NAME,
                    "--kubeconfig",
                    str(kubeconfig),
                    "--listen",
                    f"127.0.0.1:{port}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            deadline = time.monotonic() + 120
            while web_target(port) != LOCAL_WEB:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"cluster-dns not answering: {(work / 'cluster-dns.log').read_text()[-2000:]}"
                    )
                time.sleep(0.1)
            queries, distinct = work / "queries.txt", work / "distinct.txt"
            write_queries(queries, distinct, args.services, random.Random(6))
            dnsperf(port, distinct, None, args.client_cpu, args)
            dnsperf(port, queries, args.warmup, args.client_cpu, args)
            qps, lost, latency = dnsperf(port, queries, args.duration, args.client_cpu, args)

            to_zone: list[float] = []
            to_local: list[float] = []
            for _ in range(args.flips):
                sim.call(lambda fleet: fleet.make_unready(CLUSTER_NAME, pod="web", namespace="ns0"))
                to_zone.append(wait_target(port, ZONE_WEB, 10.0) * 1000)
                sim.call(lambda fleet: fleet.make_ready(CLUSTER_NAME, pod="web", namespace="ns0"))
                to_local.append(wait_target(port, LOCAL_WEB, 10.0) * 1000)
        finally:
            if server is not None and server.poll() is None:
                os.killpg(server.pid, signal.SIGTERM)
                try:
                    server.wait(15)
                except subprocess.TimeoutExpired:
                    os.killpg(server.pid, signal.SIGKILL)
                    server.wait()
            log.close()
            sim.stop()

    both = to_zone + to_local
    help_text = subprocess.run(["dnsperf", "-h"], capture_output=True, text=True)
    dnsperf_match = re.search(r"Version ([\d.]+)", help_text.stdout + help_text.stderr)
    print("## Cluster DNS: kfed cluster-dns (dnsperf, UDP; failover delay)\n")
    print(f"- command: `{shlex.join([Path(sys.executable).name, *sys.argv])}`")
    print(f"- date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}")
    print(
        f"- machine: {os.cpu_count()} CPUs (nproc), {cpu_model()}, Linux {platform.release()}; load average "
        f"before the run {load_before[0]:.2f} (other work on the machine skews results)"
    )
    print(
        f"- pinning: kfed cluster-dns on CPU {args.server_cpu}, dnsperf "
        f"{dnsperf_match.group(1) if dnsperf_match else ''} on CPU {args.client_cpu} (taskset); -c {args.clients} "
        f"-q {args.outstanding}; warm-up: each distinct query once, then {args.warmup:g} s of the mix; "
        f"{args.duration:g} s measured"
    )
    print(
        f"- cluster: one simulated cluster, {args.services} ClusterIP Services in 10 namespaces; queries: 50% "
        "Service A, 20% federated name of a healthy local Service, 10% federated zone CNAME, 10% search-path "
        "NXDOMAIN, 10% AAAA NODATA (all answered by the cluster DNS itself)"
    )
    print()
    print("| measure | result | target |")
    print("|---|---:|---:|")
    print(
        f"| local answers, queries/s (one core) | {qps:,.0f} (lost {lost:.2f}%, avg {latency:.2f} ms) "
        f"| >= {TARGET_QPS:,} |"
    )
    print(
        f"| shard unhealthy -> zone CNAME, p50 / p99 / max | {percentile(to_zone, 50):.0f} / "
        f"{percentile(to_zone, 99):.0f} / {max(to_zone):.0f} ms | |"
    )
    print(
        f"| shard healthy -> local CNAME, p50 / p99 / max | {percentile(to_local, 50):.0f} / "
        f"{percentile(to_local, 99):.0f} / {max(to_local):.0f} ms | |"
    )
    print(
        f"| answer change, p99 over {len(both)} changes | {percentile(both, 99):.0f} ms | <= {TARGET_P99_MS:.0f} ms |"
    )
    print()
    ok_qps, ok_p99 = qps >= TARGET_QPS, percentile(to_zone, 99) <= TARGET_P99_MS
    print(
        f"- queries/s target: {'met' if ok_qps else 'MISSED'}; failover p99 target (unhealthy -> zone): "
        f"{'met' if ok_p99 else 'MISSED'}"
    )
    if not (ok_qps and ok_p99):
        sys.exit(1)


if __name__ == "__main__":
    main()
