"""Run every benchmark and write docs/benchmarks.md (`make bench`).

    .venv/bin/python bench/run.py                 # every benchmark (about 30 minutes)
    .venv/bin/python bench/run.py --quick         # reduced scale (about 10 minutes)
    .venv/bin/python bench/run.py --only api,dns-failover --output /tmp/bench.md

Each benchmark is a script in bench/ run in its own process with a time limit. Its stdout is a
Markdown section; its summary lines (see bench/report.py) become rows of the summary table at the
top of the page. Scripts written before that convention (store, DNS qps, simulated clusters,
cluster DNS) are summarised by reading their tables. A benchmark that fails or runs out of time
gets a section saying so, with the end of its log, and the others still run.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import report
from report import Summary

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent


@dataclass
class Bench:
    name: str
    script: str
    full: list[str]
    quick: list[str]
    timeout: float  # seconds, full scale (quick runs get the same limit)
    title: str = ""  # for scripts that print no heading of their own
    summarize: Callable[[str, bool], list[Summary]] | None = None  # for scripts without summary lines
    describe: str = ""


# -- summaries of the scripts that print none ------------------------------------------------------


def _num(text: str) -> float:
    return float(text.replace(",", ""))


def store_summary(out: str, quick: bool) -> list[Summary]:
    rows = {}
    for m in re.finditer(r"^\| (\w+) \| (\d+) \| [\d,]+ \| ([\d,]+) \| ([\d.]+) \| ([\d.]+) \|$", out, re.M):
        rows[(m.group(1), int(m.group(2)))] = (_num(m.group(3)), float(m.group(5)))
    out_rows = []
    for writers in (100, 10):
        sqlite, etcd = rows.get(("sqlite", writers)), rows.get(("etcd", writers))
        if sqlite:
            peer = f"etcd store {etcd[0]:,.0f}/s (ratio {sqlite[0] / etcd[0]:.1f}x); " if etcd else ""
            out_rows.append(
                Summary(
                    "storage",
                    f"SQLite store creates/s, {writers} writers (1 KiB, durable)",
                    "- (no target of its own)",
                    f"{sqlite[0]:,.0f}/s",
                    None,
                    peer + "anchor: SQLite WAL synchronous=FULL ~7.5k commits/s (commits are "
                    "batched by the writer thread)",
                )
            )
            break
    return out_rows


def dns_qps_summary(out: str, quick: bool) -> list[Summary]:
    qps = {m.group(1): _num(m.group(2)) for m in re.finditer(r"^\| ([^|]+?) \| ([\d,]+) \|", out, re.M)}
    ours = next((v for k, v in qps.items() if k.startswith("kfed")), None)
    if ours is None:
        return []
    peers = "; ".join(
        f"{k.split(' (')[0]} {v:,.0f} ({ours / v:.2f}x)"
        for k, v in qps.items()
        if not k.startswith("kfed") and v
    )
    return [
        Summary(
            "DNS",
            "built-in server queries/s on one core (dnsperf, UDP)",
            ">= 30,000 qps",
            f"{ours:,.0f} qps",
            ours >= 30_000,
            peers,
        )
    ]


def sim_summary(out: str, quick: bool) -> list[Summary]:
    head = re.search(r"## Simulated clusters: (\d+) x \((\d+) Services \+ (\d+) pods\)", out)
    rss = re.search(r"RSS with the fleet populated \| ([\d,]+) MiB \(peak ([\d,]+) MiB\)", out)
    whole = re.search(r"\| peak RSS, whole run \| ([\d,]+) MiB", out)
    p99 = re.search(r"\| \.\.\. p99 \| ([\d.]+) ms", out)
    seen = re.search(r"readiness changes measured \| (\d+) of (\d+)", out)
    if not head:
        return []
    clusters, services, pods = (int(x) for x in head.groups())
    full = clusters >= 50 and services >= 1000 and pods >= 2000
    scale = "" if full else f"{clusters} x ({services} Services + {pods} pods)"
    rows = []
    if rss:
        peak = max(_num(rss.group(2)), _num(whole.group(1)) if whole else 0)
        per_cluster = peak / clusters
        estimate = (
            f"; {per_cluster * 50 / 1024:.1f} GiB for 50 clusters if linear (estimate)" if not full else ""
        )
        rows.append(
            Summary(
                "simulated clusters",
                "one process holds the fleet: peak RSS",
                "<= 3 GiB (50 clusters)",
                f"{peak:,.0f} MiB{estimate}",
                (peak <= 3072) if full else None,
                "",
                scale,
            )
        )
    if p99:
        complete = seen is not None and seen.group(1) == seen.group(2)
        value = float(p99.group(1))
        rows.append(
            Summary(
                "simulated clusters",
                "pod readiness -> watcher's EndpointSlice event, p99",
                "<= 50 ms",
                f"{value:.1f} ms"
                + ("" if complete or seen is None else f" ({seen.group(1)}/{seen.group(2)} seen)"),
                value <= 50 and complete if full else None,
                "",
                scale,
            )
        )
    return rows


def cluster_dns_summary(out: str, quick: bool) -> list[Summary]:
    rows = []
    qps = re.search(r"\| local answers, queries/s \(one core\) \| ([\d,]+) .*?\| >= ([\d,]+) \|", out)
    if qps:
        value, target = _num(qps.group(1)), _num(qps.group(2))
        rows.append(
            Summary(
                "cluster DNS",
                "kfed cluster-dns local answers, queries/s on one core",
                f">= {target:,.0f} qps",
                f"{value:,.0f} qps",
                value >= target,
            )
        )
    p99 = re.search(r"\| shard unhealthy -> zone CNAME, p50 / p99 / max \| \d+ / (\d+) / \d+ ms", out)
    goal = re.search(r"answer change, p99 over \d+ changes \| \d+ ms \| <= (\d+) ms", out)
    if p99 and goal:
        value, limit = float(p99.group(1)), float(goal.group(1))
        rows.append(
            Summary(
                "cluster DNS",
                "shard unhealthy -> pods get the zone CNAME, p99",
                f"<= {limit:.0f} ms",
                f"{value:.0f} ms",
                value <= limit,
            )
        )
    return rows


BENCHES = [
    Bench(
        "api",
        "api_bench.py",
        [],
        ["--quick"],
        1200,
        describe="federation API server: creates, list, watch; vs etcd and an aiohttp echo",
    ),
    Bench(
        "store",
        "store_bench.py",
        ["--backends", "memory,sqlite,etcd", "--writers", "1,10,100", "--count", "3000"],
        ["--backends", "sqlite,etcd", "--writers", "1,100", "--count", "1000"],
        600,
        title="Storage: creates/s of the store backends (SQLite vs etcd)",
        summarize=store_summary,
        describe="store backends side by side",
    ),
    Bench(
        "controlplane",
        "controlplane_bench.py",
        ["--converge-timeout", "240"],
        ["--quick"],
        1500,
        describe="propagation, shard status, outage detection, convergence at 1,000 x 50",
    ),
    Bench(
        "dns-failover",
        "dns_failover_bench.py",
        [],
        ["--quick"],
        900,
        describe="endpoint unready -> changed answer (built-in server, BIND via rfc2136)",
    ),
    Bench(
        "dns-qps",
        "dns_server_bench.py",
        ["--duration", "10"],
        ["--duration", "5", "--warmup", "2"],
        600,
        summarize=dns_qps_summary,
        describe="queries/s: kfed dns-server vs BIND 9 vs NSD",
    ),
    Bench(
        "zone-memory",
        "zone_memory_bench.py",
        [],
        ["--quick"],
        1200,
        describe="memory of a 100,000-name zone: kfed vs BIND 9 vs NSD",
    ),
    Bench("route53", "route53_bench.py", [], ["--quick"], 600, describe="10,000 changes to Route 53 (moto)"),
    Bench(
        "sim",
        "sim_bench.py",
        ["--clusters", "50", "--services", "1000", "--pods", "2000", "--flips", "400"],
        ["--clusters", "3", "--services", "300", "--pods", "600", "--flips", "100"],
        1500,
        summarize=sim_summary,
        describe="simulated clusters (50; --quick: 3): memory, readiness -> EndpointSlice watch",
    ),
    Bench(
        "cluster-dns",
        "cluster_dns_bench.py",
        [],
        ["--duration", "5", "--flips", "20"],
        900,
        summarize=cluster_dns_summary,
        describe="cluster-local resolution (written by another engineer; run when present)",
    ),
]


@dataclass
class Outcome:
    bench: Bench
    section: str
    summaries: list[Summary]
    seconds: float
    ok: bool


def run_one(bench: Bench, quick: bool, log_dir: Path) -> Outcome:
    argv = [sys.executable, f"bench/{bench.script}", *(bench.quick if quick else bench.full)]  # run from REPO
    log = log_dir / f"{bench.name}.log"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(BENCH), str(REPO), env.get("PYTHONPATH", "")) if p)
    report.progress(f"{bench.name}: {' '.join(argv[1:])} (limit {bench.timeout / 60:.0f} min, log {log})")
    t0 = time.monotonic()
    code: int | None
    with log.open("w") as err:
        # its own session: on timeout the whole group goes (servers it started included)
        process = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=err,
            stdin=subprocess.DEVNULL,
            text=True,
            cwd=REPO,
            env=env,
            start_new_session=True,
        )
        try:
            out, _ = process.communicate(timeout=bench.timeout)
            code = process.returncode
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                out, _ = process.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                out, _ = process.communicate()
            code = None
    seconds = time.monotonic() - t0
    section = (out or "").strip()
    if section and code is not None and (code == 0 or "\n## " in f"\n{section}"):
        # a script may exit non-zero to say a target was missed: its section is still the result
        if not section.startswith("## "):  # a script that prints only its table: give it a heading
            command = " ".join(["python", f"bench/{bench.script}", *argv[2:]])
            section = (
                f"## {bench.title or bench.describe}\n\n- command: `{command}`\n- date: {report.now()}\n"
                f"- machine: {report.machine()}\n\n{section}"
            )
        summaries = report.parse_summaries(section)
        if not summaries and bench.summarize is not None:
            summaries = bench.summarize(section, quick)
        section = "\n".join(
            line for line in section.splitlines() if not line.startswith(f"<!-- {report.SUMMARY_MARK} ")
        )
        if code != 0:
            section += f"\n\n_(the script exited with {code})_"
        report.progress(f"{bench.name}: done in {seconds / 60:.1f} min (exit {code})")
        return Outcome(bench, section, summaries, seconds, True)
    why = "ran out of time" if code is None else f"exited with {code}"
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
    section = (
        f"## {bench.describe or bench.name}: FAILED\n\n- command: `python bench/{bench.script} "
        f"{' '.join(argv[2:])}`\n- {why} after {seconds:.0f} s\n\nEnd of its log:\n\n```\n{tail}\n```\n"
    )
    report.progress(f"{bench.name}: {why} after {seconds:.0f} s")
    return Outcome(bench, section, [Summary(bench.name, bench.describe, "-", why, False)], seconds, False)


def mark(met: bool | None) -> str:
    return {True: "yes", False: "**NO**", None: "n/a"}[met]


def write_page(
    path: Path,
    outcomes: list[Outcome],
    quick: bool,
    started: str,
    load: str,
    seconds: float,
    skipped: list[str],
) -> None:
    rows = []
    for o in outcomes:
        for s in o.summaries:
            rows.append([s.area, s.what, s.target, s.measured, mark(s.met), s.peer or "-", s.scale or "full"])
    missed = [s for o in outcomes for s in o.summaries if s.met is False]
    lines = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (`python bench/run.py`); do not edit by hand. Each section below says",
        "the exact command, the machine and the date; rerun one with its command, all of them with",
        "`make bench` (about 30 minutes), or a reduced-scale pass with `.venv/bin/python bench/run.py --quick`.",
        "",
        "These numbers come from a shared, noisy 2-core virtual machine on which other engineers run test",
        "suites at the same time: peers are measured side by side in the same run and ratios are quoted,",
        "short measurements are repeated and their medians shown. Where a row says *anchor*, the peer's",
        "number is its documented setting or a figure computed from it, not a measurement here.",
        "",
        f"- run: {started}, {seconds / 60:.0f} minutes, {'REDUCED SCALE (--quick)' if quick else 'full targets'}",
        f"- machine: {report.machine(load)}",
        f"- command: `{report.command()}`",
        "",
        "## Summary: targets vs this run",
        "",
        report.table(
            ["area", "what", "target", "measured", "met?", "peer / anchor", "scale"], rows, align="lllllll"
        ),
    ]
    if missed:
        lines += ["Missed in this run:", ""]
        lines += [f"- {s.area}: {s.what}: {s.measured} (target {s.target})" for s in missed]
        lines.append("")
    if skipped:
        lines += [f"Not run: {', '.join(skipped)}.", ""]
    for o in outcomes:
        lines += [o.section.rstrip(), "", f"_(this benchmark took {o.seconds / 60:.1f} minutes)_", ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines).rstrip() + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="reduced scale, about 10 minutes")
    parser.add_argument(
        "--only", default="", help=f"comma-separated subset of: {', '.join(b.name for b in BENCHES)}"
    )
    parser.add_argument("--skip", default="", help="comma-separated benchmarks not to run")
    parser.add_argument("--output", default=str(REPO / "docs" / "benchmarks.md"))
    parser.add_argument(
        "--logs", default=None, help="directory for each benchmark's stderr (default: a temp dir)"
    )
    args = parser.parse_args()
    only = {x.strip() for x in args.only.split(",") if x.strip()}
    skip = {x.strip() for x in args.skip.split(",") if x.strip()}
    unknown = (only | skip) - {b.name for b in BENCHES}
    if unknown:
        parser.error(f"unknown benchmarks: {', '.join(sorted(unknown))}")
    import tempfile

    log_dir = Path(args.logs) if args.logs else Path(tempfile.mkdtemp(prefix="kfed-bench-logs-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    started, load, t0 = report.now(), report.load_average(), time.monotonic()
    outcomes, skipped = [], []
    for bench in BENCHES:
        if (only and bench.name not in only) or bench.name in skip:
            continue
        if not (BENCH / bench.script).exists():
            skipped.append(f"{bench.name} (bench/{bench.script} does not exist yet)")
            report.progress(f"{bench.name}: bench/{bench.script} not found, skipped")
            continue
        outcomes.append(run_one(bench, args.quick, log_dir))
    seconds = time.monotonic() - t0
    write_page(Path(args.output), outcomes, args.quick, started, load, seconds, skipped)
    report.progress(f"wrote {args.output} in {seconds / 60:.1f} min; logs in {log_dir}")
    failed = [o.bench.name for o in outcomes if not o.ok]
    if failed:
        report.progress(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
