"""Queries per second of kfed's authoritative server against BIND 9 and NSD, with dnsperf.

    .venv/bin/python bench/dns_server_bench.py [--names 10000] [--duration 10]

Each server serves the same zone (kfed from a records file, BIND and NSD from the equivalent zone
file) on 127.0.0.1, pinned to one core with taskset; dnsperf runs pinned to another core and
replays the same query mix against each in turn: answers (A), CNAME chains, NXDOMAIN and NODATA.
BIND and NSD run with one worker and minimal responses, so all three do comparable work per query.
Prints a Markdown report (command, machine, versions, results, ratios) for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ZONE = "example.com."


@dataclass
class Result:
    server: str
    qps: float
    lost_pct: float
    latency_ms: float
    note: str = ""


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


# -- the zone and the queries ---------------------------------------------------------------------


def make_zone(names: int, rng: random.Random) -> tuple[list[tuple[str, str, int, list[str]]], list[str]]:
    """(record sets as (relative name, type, ttl, data), query lines for dnsperf)."""
    records: list[tuple[str, str, int, list[str]]] = [("ns1", "A", 3600, ["127.0.0.1"])]
    hosts = []
    for i in range(names):
        name = f"svc{i}.ns{i % 20}.fed.svc"
        addresses = [f"10.{(i >> 8) & 255}.{i & 255}.{k + 1}" for k in range(1 + i % 3)]
        records.append((name, "A", 180, addresses))
        hosts.append(name)
    cnames = []
    for i in range(names // 10):
        name = f"svc{i}.ns{i % 20}.fed.svc.us-east1-b"
        records.append((name, "CNAME", 180, [f"{hosts[i]}.{ZONE}"]))
        cnames.append(name)
    queries = []
    for _ in range(max(20_000, names * 2)):
        roll = rng.random()
        if roll < 0.70:
            queries.append(f"{rng.choice(hosts)}.{ZONE} A")
        elif roll < 0.80:
            queries.append(f"{rng.choice(cnames)}.{ZONE} A")
        elif roll < 0.90:
            queries.append(f"missing{rng.randrange(2000)}.ns1.fed.svc.{ZONE} A")
        else:
            queries.append(f"{rng.choice(hosts)}.{ZONE} AAAA")
    return records, queries


def write_records_yaml(path: Path, records: list[tuple[str, str, int, list[str]]]) -> None:
    lines = [
        f"zone: {ZONE}",
        "soa: {ttl: 3600, refresh: 3600, retry: 600, expire: 1209600, minimum: 60}",
        "records:",
    ]
    for name, rtype, ttl, data in records:
        values = ", ".join(f'"{d}"' for d in data)
        lines.append(f"  - {{name: {name}, type: {rtype}, ttl: {ttl}, data: [{values}]}}")
    path.write_text("\n".join(lines) + "\n")


def write_zone_file(path: Path, records: list[tuple[str, str, int, list[str]]]) -> None:
    lines = [
        f"$ORIGIN {ZONE}",
        "$TTL 3600",
        "@ 3600 IN SOA ns1 hostmaster 1 3600 600 1209600 60",
        "@ 3600 IN NS ns1",
    ]
    for name, rtype, ttl, data in records:
        lines.extend(f"{name} {ttl} IN {rtype} {d}" for d in data)
    path.write_text("\n".join(lines) + "\n")


# -- servers ----------------------------------------------------------------------------------------


@dataclass
class ServerSpec:
    name: str
    argv: list[str]
    note: str
    version: str


def kfed_spec(workdir: Path, port: int, records: Path) -> ServerSpec:
    try:
        import uvloop  # noqa: F401

        loop = "uvloop"
    except ImportError:
        loop = "asyncio"
    argv = [
        sys.executable,
        "-m",
        "kfed.cli.dns_server",
        "--records",
        str(records),
        "--listen",
        f"127.0.0.1:{port}",
    ]
    return ServerSpec("kfed dns-server", argv, f"Python {platform.python_version()}, {loop}, 1 process", "")


def bind_spec(workdir: Path, port: int, zone_file: Path) -> ServerSpec | None:
    named = shutil.which("named") or shutil.which("/usr/sbin/named")
    if named is None:
        return None
    conf = workdir / "named.conf"
    conf.write_text(
        f"""
options {{
    directory "{workdir}";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    pid-file "{workdir}/named.pid";
    session-keyfile "{workdir}/session.key";
    recursion no;
    dnssec-validation no;
    notify no;
    minimal-responses yes;
    minimal-any yes;
}};
controls {{ }};
zone "{ZONE.rstrip(".")}" {{ type primary; file "{zone_file}"; }};
"""
    )
    version = subprocess.run([named, "-v"], capture_output=True, text=True).stdout.strip()
    return ServerSpec(
        "BIND 9 (named)",
        [named, "-g", "-n", "1", "-c", str(conf)],
        "-n 1 (one worker), minimal-responses",
        version,
    )


def nsd_spec(workdir: Path, port: int, zone_file: Path) -> ServerSpec | None:
    nsd = shutil.which("nsd") or shutil.which("/usr/sbin/nsd")
    if nsd is None:
        return None
    conf = workdir / "nsd.conf"
    conf.write_text(
        f"""
server:
    ip-address: 127.0.0.1
    port: {port}
    server-count: 1
    zonesdir: "{workdir}"
    pidfile: "{workdir}/nsd.pid"
    database: ""
    xfrdfile: "{workdir}/xfrd.state"
    xfrdir: "{workdir}"
    zonelistfile: "{workdir}/zone.list"
    username: ""
    chroot: ""
    logfile: "{workdir}/nsd.log"
    verbosity: 0
    minimal-responses: yes
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0
remote-control:
    control-enable: no
zone:
    name: {ZONE.rstrip(".")}
    zonefile: "{zone_file}"
"""
    )
    version = subprocess.run([nsd, "-v"], capture_output=True, text=True).stderr.splitlines()[0].strip()
    return ServerSpec(
        "NSD", [nsd, "-d", "-c", str(conf)], "server-count 1, minimal-responses, no RRL", version
    )


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} not ready within {timeout}s")


def answers(port: int) -> bool:
    result = subprocess.run(
        ["dig", "@127.0.0.1", "-p", str(port), "+time=1", "+tries=1", "+short", ZONE, "SOA"],
        capture_output=True,
        text=True,
    )
    return result.returncode == 0 and bool(result.stdout.strip())


def dnsperf(
    port: int, queries: Path, seconds: float, cpu: int, args: argparse.Namespace
) -> tuple[float, float, float]:
    argv = [
        "taskset", "-c", str(cpu), "dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", str(queries),
        "-l", str(seconds), "-c", str(args.clients), "-q", str(args.outstanding),
    ]  # fmt: skip
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    qps = float(re.search(r"Queries per second:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    lost = float(re.search(r"Queries lost:\s+\d+ \(([\d.]+)%\)", out).group(1))  # type: ignore[union-attr]
    latency = re.search(r"Average Latency \(s\):\s+([\d.]+)", out)
    return qps, lost, float(latency.group(1)) * 1000 if latency else float("nan")


def measure(spec: ServerSpec, port: int, queries: Path, args: argparse.Namespace) -> Result:
    log = open(Path(args.workdir) / f"{spec.name.split()[0].lower()}.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        ["taskset", "-c", str(args.server_cpu), *spec.argv],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_until(lambda: process.poll() is None and answers(port), 120, spec.name)
        dnsperf(port, queries, args.warmup, args.client_cpu, args)  # fills caches, settles the CPU
        qps, lost, latency = dnsperf(port, queries, args.duration, args.client_cpu, args)
        return Result(spec.name, qps, lost, latency, spec.note)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()


# -- report -----------------------------------------------------------------------------------------


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
    parser.add_argument(
        "--names", type=int, default=10_000, help="A record sets in the zone (plus 10%% CNAMEs)"
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured per server")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of queries before measuring")
    parser.add_argument("--clients", type=int, default=4, help="dnsperf -c")
    parser.add_argument("--outstanding", type=int, default=200, help="dnsperf -q")
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--client-cpu", type=int, default=1)
    parser.add_argument("--only", default="kfed,bind,nsd", help="comma-separated subset of kfed,bind,nsd")
    args = parser.parse_args()
    for tool in ("dnsperf", "taskset", "dig"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed (make sysdeps)")

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="kfed-dns-bench-") as workdir:
        args.workdir = workdir
        work = Path(workdir)
        records, queries = make_zone(args.names, random.Random(42))
        write_records_yaml(work / "records.yaml", records)
        write_zone_file(work / "example.com.zone", records)
        (work / "queries.txt").write_text("\n".join(queries) + "\n")

        wanted = set(args.only.split(","))
        specs: list[tuple[ServerSpec, int]] = []
        if "kfed" in wanted:
            port = free_port()
            specs.append((kfed_spec(work, port, work / "records.yaml"), port))
        if "bind" in wanted:
            port = free_port()
            if (bind := bind_spec(work, port, work / "example.com.zone")) is not None:
                specs.append((bind, port))
        if "nsd" in wanted:
            port = free_port()
            if (nsd := nsd_spec(work, port, work / "example.com.zone")) is not None:
                specs.append((nsd, port))

        results = [measure(spec, port, work / "queries.txt", args) for spec, port in specs]
        versions = [s.version for s, _ in specs if s.version]

    help_text = subprocess.run(["dnsperf", "-h"], capture_output=True, text=True)
    dnsperf_version = help_text.stdout + help_text.stderr
    dnsperf_match = re.search(r"Version ([\d.]+)", dnsperf_version)
    print("## Authoritative DNS: kfed dns-server vs BIND 9 vs NSD (dnsperf, UDP)\n")
    print(f"- command: `{shlex.join([Path(sys.executable).name, *sys.argv])}`")
    print(f"- date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}")
    print(
        f"- machine: {os.cpu_count()} CPUs (nproc), {cpu_model()}, Linux {platform.release()}; "
        f"load average before the run {load_before[0]:.2f} (other work on the machine skews results)"
    )
    print(
        f"- pinning: servers on CPU {args.server_cpu}, dnsperf {dnsperf_match.group(1) if dnsperf_match else ''} "
        f"on CPU {args.client_cpu} (taskset); -c {args.clients} -q {args.outstanding}, "
        f"{args.warmup:g} s warm-up then {args.duration:g} s measured per server"
    )
    print(
        f"- zone: {len(records) + 2} record sets ({args.names} A names with 1-3 addresses, "
        f"{args.names // 10} CNAMEs); queries: 70% A, 10% CNAME->A, 10% NXDOMAIN, 10% NODATA"
    )
    if versions:
        print(f"- versions: {'; '.join(versions)}")
    print()
    print("| server | queries/s | lost | avg latency | setup |")
    print("|---|---:|---:|---:|---|")
    for r in results:
        print(f"| {r.server} | {r.qps:,.0f} | {r.lost_pct:.2f}% | {r.latency_ms:.2f} ms | {r.note} |")
    ours = next((r for r in results if r.server.startswith("kfed")), None)
    if ours is not None:
        print()
        for r in results:
            if r is not ours and r.qps:
                print(f"- kfed / {r.server}: {ours.qps / r.qps:.2f}")


if __name__ == "__main__":
    main()
