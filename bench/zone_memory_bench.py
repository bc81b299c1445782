"""Memory of a big zone: kfed's DNS server vs BIND 9 vs NSD, each serving the same 100,000 names.

    .venv/bin/python bench/zone_memory_bench.py [--names 100000]

The zone is bench/dns_server_bench.py's (A record sets of 1-3 addresses plus 10% CNAMEs). Each
server loads it from its own format (kfed a records file, BIND and NSD a zone file), is checked to
answer 500 random names correctly, and then its memory is read from /proc: RSS, its peak (VmHWM),
and PSS of the whole process tree (NSD forks; PSS counts shared pages once). The load time is from
the process start to the first SOA answer.
"""

from __future__ import annotations

import argparse
import math
import random
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import dns.message
import dns.query
import dns.rcode
import procs
import report
from dns_server_bench import (
    ZONE,
    bind_spec,
    kfed_spec,
    make_zone,
    nsd_spec,
    write_records_yaml,
    write_zone_file,
)
from report import Summary


@dataclass
class Memory:
    server: str
    load_s: float = math.nan
    rss: float = math.nan
    hwm: float = math.nan
    pss: float = math.nan
    checked: str = ""
    note: str = ""


def answers_soa(port: int) -> bool:
    try:
        r = dns.query.udp(dns.message.make_query(ZONE, "SOA"), "127.0.0.1", port=port, timeout=0.5)
        return r.rcode() == dns.rcode.NOERROR and bool(r.answer)
    except (dns.exception.Timeout, OSError):
        return False


def check(port: int, records: list[tuple[str, str, int, list[str]]], n: int, rng: random.Random) -> str:
    wrong = 0
    a_sets = [r for r in records if r[1] == "A"]
    for name, _, _, data in rng.sample(a_sets, min(n, len(a_sets))):
        q = dns.message.make_query(f"{name}.{ZONE}", "A")
        try:
            r = dns.query.udp(q, "127.0.0.1", port=port, timeout=2)
        except (dns.exception.Timeout, OSError):
            wrong += 1
            continue
        got = sorted(rd.to_text() for rrset in r.answer for rd in rrset if rrset.rdtype == dns.rdatatype.A)
        wrong += got != sorted(data)
    return f"{n - wrong}/{n} right"


def measure(
    name: str,
    spec: object,
    port: int,
    records: list[tuple[str, str, int, list[str]]],
    work: Path,
    timeout: float,
) -> Memory:
    result = Memory(name)
    if spec is None:
        result.note = "not installed"
        return result
    argv = spec.argv  # type: ignore[attr-defined]
    log = work / f"{name.split()[0].lower()}.log"
    t0 = time.perf_counter()
    process = procs.start(argv, log=log)
    try:
        procs.wait_until(lambda: process.poll() is None and answers_soa(port), timeout, name, interval=0.1)
        result.load_s = time.perf_counter() - t0
        result.checked = check(port, records, 500, random.Random(7))
        time.sleep(0.5)
        result.rss, result.hwm = procs.rss_mib(process.pid)
        result.pss = procs.tree_pss_mib(process.pid)
    except (TimeoutError, RuntimeError) as e:
        result.note = f"{e}; log: {log.read_text(errors='replace')[-300:] if log.exists() else ''}"
    finally:
        procs.stop(process)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--names", type=int, default=100_000)
    parser.add_argument("--only", default="kfed,bind,nsd")
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="seconds a server may take to load the zone"
    )
    parser.add_argument("--quick", action="store_true", help="20,000 names")
    args = parser.parse_args()
    if args.quick:
        args.names = min(args.names, 20_000)
    load = report.load_average()
    wanted = set(args.only.split(","))
    results: list[Memory] = []
    with tempfile.TemporaryDirectory(prefix="kfed-zone-bench-") as tmp:
        work = Path(tmp)
        records, _ = make_zone(args.names, random.Random(42))
        write_records_yaml(work / "records.yaml", records)
        write_zone_file(work / "example.com.zone", records)
        n_records = sum(len(r[3]) for r in records)
        if "kfed" in wanted:
            port = procs.free_port()
            results.append(
                measure(
                    "kfed dns-server",
                    kfed_spec(work, port, work / "records.yaml"),
                    port,
                    records,
                    work,
                    args.timeout,
                )
            )
            report.progress(f"kfed: {results[-1]}")
        if "bind" in wanted:
            port = procs.free_port()
            results.append(
                measure(
                    "BIND 9 (named)",
                    bind_spec(work, port, work / "example.com.zone"),
                    port,
                    records,
                    work,
                    args.timeout,
                )
            )
            report.progress(f"bind: {results[-1]}")
        if "nsd" in wanted:
            port = procs.free_port()
            results.append(
                measure(
                    "NSD", nsd_spec(work, port, work / "example.com.zone"), port, records, work, args.timeout
                )
            )
            report.progress(f"nsd: {results[-1]}")

    notes = [
        f"zone: {len(records):,} record sets ({args.names:,} A names with 1-3 addresses and "
        f"{args.names // 10:,} CNAMEs; {n_records:,} records)"
        + ("" if args.names >= 100_000 else " - REDUCED SCALE"),
        "each server alone on the machine in turn, same zone, loaded from its own format",
    ]
    out = [
        report.header(
            "Zone memory: 100,000 names in kfed's DNS server vs BIND 9 vs NSD", load=load, notes=notes
        )
    ]
    rows = [
        [
            r.server,
            f"{r.load_s:.1f} s",
            f"{r.rss:,.0f} MiB",
            f"{r.hwm:,.0f} MiB",
            f"{r.pss:,.0f} MiB",
            r.checked,
            r.note,
        ]
        for r in results
    ]
    out.append(
        report.table(
            [
                "server",
                "load until answering",
                "RSS",
                "peak RSS",
                "PSS (process tree)",
                "answers checked",
                "note",
            ],
            rows,
        )
    )
    ours = next((r for r in results if r.server.startswith("kfed")), None)
    ratios = [
        f"- kfed / {r.server} PSS: {report.fmt_ratio(ours.pss, r.pss)}"
        for r in results
        if ours is not None and r is not ours and not math.isnan(r.pss)
    ]
    if ratios:
        out.append("\n".join(ratios) + "\n")
    summaries = []
    if ours is not None:
        peers = ", ".join(f"{r.server.split()[0]} {r.pss:,.0f} MiB" for r in results if r is not ours)
        peak = max(ours.hwm, ours.pss)
        summaries.append(
            Summary(
                "DNS",
                f"zone of {args.names:,} names served: memory (peak RSS)",
                "<= 1 GiB",
                f"{ours.hwm:,.0f} MiB",
                (peak <= 1024) if args.names >= 100_000 else None,
                peers,
                "" if args.names >= 100_000 else f"{args.names:,} names",
            )
        )
    report.emit("\n".join(out), summaries)


if __name__ == "__main__":
    main()
