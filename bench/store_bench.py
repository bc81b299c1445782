"""Store write throughput: creates/s and latency for each backend and number of writers.

    .venv/bin/python bench/store_bench.py                      # memory, sqlite, etcd (if on PATH)
    .venv/bin/python bench/store_bench.py --backends sqlite --writers 1,10,100 --count 2000

Each run uses a fresh store (a new SQLite file, a new etcd key prefix): `writers` tasks create
`count` keys between them, each waiting for its create to be acknowledged (durable) before the
next. The values are 1 KiB, about the size of a stored Service. For etcd, the script starts its
own single-member etcd on free 127.0.0.1 ports with a temporary data directory (fsync on, as in
production) and stops it at the end. Prints a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import itertools
import os
import platform
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from kfed.storage import CachedStore, MemoryJournal, SqliteJournal, Store

VALUE = (b'{"kind":"Service","metadata":{"name":"bench"}}' * 24)[:1024]


@dataclass(frozen=True)
class Result:
    backend: str
    writers: int
    creates: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def rate(self) -> float:
        return self.creates / self.seconds if self.seconds > 0 else float("inf")


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


async def measure(backend: str, store: Store, writers: int, count: int) -> Result:
    await store.start()
    try:
        numbers = itertools.count()
        latencies: list[float] = []

        async def writer() -> None:
            while (i := next(numbers)) < count:
                t0 = time.perf_counter()
                await store.create(f"/bench/{i:08d}", VALUE)
                latencies.append(time.perf_counter() - t0)

        started = time.perf_counter()
        await asyncio.gather(*(writer() for _ in range(writers)))
        elapsed = time.perf_counter() - started
    finally:
        await store.close()
    latencies.sort()
    return Result(backend, writers, len(latencies), elapsed,
                  percentile(latencies, 0.50) * 1000, percentile(latencies, 0.99) * 1000)


# -- etcd for the benchmark ---------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:
    # If this script is killed, etcd goes with it (Linux: PR_SET_PDEATHSIG).
    if sys.platform.startswith("linux"):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)


@contextmanager
def etcd_process(etcd: str, data_dir: Path) -> Iterator[str]:
    client, peer = _free_port(), _free_port()
    proc = subprocess.Popen(
        [etcd, "--name", "bench", "--data-dir", str(data_dir / "etcd"),
         "--listen-client-urls", f"http://127.0.0.1:{client}",
         "--advertise-client-urls", f"http://127.0.0.1:{client}",
         "--listen-peer-urls", f"http://127.0.0.1:{peer}",
         "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
         "--initial-cluster", f"bench=http://127.0.0.1:{peer}", "--log-level", "error"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        preexec_fn=_die_with_parent,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"etcd exited with {proc.returncode}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{client}/health", timeout=1) as r:
                    if b'"health":"true"' in r.read():
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("etcd did not become healthy in 30 s")
            time.sleep(0.05)
        yield f"127.0.0.1:{client}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def etcd_version(etcd: str) -> str:
    out = subprocess.run([etcd, "--version"], capture_output=True, text=True, check=False).stdout
    return out.splitlines()[0].split(":", 1)[-1].strip() if out else "?"


# -- main -----------------------------------------------------------------------------------------


async def run(backends: list[str], writers_list: list[int], count: int, workdir: Path,
              etcd_endpoint: str | None) -> list[Result]:
    results: list[Result] = []
    runs = itertools.count()
    factories: dict[str, Callable[[], Store]] = {
        "memory": lambda: CachedStore(MemoryJournal()),
        "sqlite": lambda: CachedStore(SqliteJournal(workdir / f"bench-{next(runs)}.db")),
    }
    if etcd_endpoint is not None:
        from kfed.storage.etcd import EtcdStore

        factories["etcd"] = lambda: EtcdStore(etcd_endpoint, prefix=f"/bench-{next(runs)}")
    for backend in backends:
        if backend not in factories:
            print(f"skipping {backend}: not available", file=sys.stderr)
            continue
        for writers in writers_list:
            result = await measure(backend, factories[backend](), writers, count)
            results.append(result)
            print(f"  {backend:6} writers={writers:<4} {result.rate:10.0f} creates/s", file=sys.stderr)
    return results


def table(results: list[Result]) -> str:
    rows = ["| backend | writers | creates | creates/s | p50 latency (ms) | p99 latency (ms) |",
            "|---|---:|---:|---:|---:|---:|"]
    rows += [f"| {r.backend} | {r.writers} | {r.creates} | {r.rate:,.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} |"
             for r in results]
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default="memory,sqlite,etcd")
    parser.add_argument("--writers", default="1,10,100", help="concurrent writers, comma-separated")
    parser.add_argument("--count", type=int, default=3000, help="creates per run")
    parser.add_argument("--dir", default=None, help="where the SQLite files and etcd data go (default: a temp dir)")
    args = parser.parse_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    writers_list = [int(w) for w in args.writers.split(",")]

    etcd = shutil.which("etcd") if "etcd" in backends else None
    if "etcd" in backends and etcd is None:
        print("etcd is not on PATH: skipping the etcd backend", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="kfed-bench-", dir=args.dir) as tmp:
        workdir = Path(tmp)
        print(f"python {platform.python_version()}, sqlite {sqlite3.sqlite_version}, "
              f"{os.cpu_count()} CPUs, {platform.machine()}"
              + (f", etcd {etcd_version(etcd)}" if etcd else ""))
        print(f"{args.count} creates of {len(VALUE)} bytes per run\n")
        if etcd is not None:
            with etcd_process(etcd, workdir) as endpoint:
                results = asyncio.run(run(backends, writers_list, args.count, workdir, endpoint))
        else:
            results = asyncio.run(run(backends, writers_list, args.count, workdir, None))
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
