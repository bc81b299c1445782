"""Federation API server: creates/s, create latency under a sustained rate, list, watch fan-out.

    .venv/bin/python bench/api_bench.py                 # full scale (about 5 minutes)
    .venv/bin/python bench/api_bench.py --quick         # reduced scale (about 2 minutes)

Side by side in one run, each server pinned to CPU 0 (`taskset`), this script (the load generator,
Python + aiohttp + uvloop) on CPU 1:

- `kfed apiserver` on SQLite (the embedded default) and on etcd (etcd pinned to CPU 0 as well);
- the anchor: a plain aiohttp server that POSTs JSON into a dict (no validation, no store), over
  HTTPS like kfed and over plain HTTP as the anchor's number is usually quoted;
- etcd itself: 1 KiB puts and a 10,000-key range through the aetcd gRPC client.

Measured: peak creates/s (64 concurrent clients, closed loop); create latency at a sustained 200
creates/s (open loop: latency counts from when the request was due, so a stall is not hidden);
listing 10,000 Services in one response and in kubectl's 500-item pages; 1,000 concurrent watchers
each receiving the ADDED event of a new Service (latency from the create request being sent).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import math
import os
import shutil
import ssl
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import procs
import report
from httpload import HttpClient
from report import Summary, fmt_ms, fmt_rate, median, percentile

SERVER_CPU, CLIENT_CPU = 0, 1


def service_body(name: str) -> dict[str, Any]:
    """A Service as `kubectl create -f` sends it (about 400 bytes of JSON)."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": name,
            "labels": {"app": "web", "tier": "frontend"},
            "annotations": {"federation.kfed.io/dns-ttl": "60"},
        },
        "spec": {
            "type": "LoadBalancer",
            "selector": {"app": "web"},
            "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}],
        },
    }


# -- servers under test ---------------------------------------------------------------------------


@dataclass
class Target:
    name: str
    base: str
    ssl_ctx: ssl.SSLContext | bool
    headers: dict[str, str]
    pid: int
    kube: bool  # a Kubernetes API (namespaces, watch, paging); the echo anchor is not

    def services_path(self, ns: str) -> str:
        return f"/api/v1/namespaces/{ns}/services"

    def services(self, ns: str) -> str:
        return f"{self.base}{self.services_path(ns)}"

    def client(self) -> HttpClient:
        host, port = self.base.split("://", 1)[1].rsplit(":", 1)
        return HttpClient(
            host, int(port), self.ssl_ctx if isinstance(self.ssl_ctx, ssl.SSLContext) else None, self.headers
        )


def _client_ssl(ca: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(ca))
    return ctx


def _https_ready(url: str, ca: Path, token: str | None) -> bool:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(
            req, timeout=1, context=_client_ssl(ca) if url.startswith("https") else None
        ) as r:
            return bool(r.status == 200)
    except OSError:
        return False


# -- the echo anchor (runs as `api_bench.py --role echo`) ------------------------------------------


def run_echo(port: int, cert: str | None, key: str | None) -> None:
    from aiohttp import web

    store: dict[str, dict[str, Any]] = {}

    async def create(request: web.Request) -> web.Response:
        body = await request.json()
        store.setdefault(request.match_info["ns"], {})[body["metadata"]["name"]] = body
        return web.json_response(body, status=201)

    async def list_all(request: web.Request) -> web.Response:
        items = list(store.get(request.match_info["ns"], {}).values())
        return web.json_response({"kind": "List", "items": items})

    async def ready(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/api/v1/namespaces/{ns}/services", create)
    app.router.add_get("/api/v1/namespaces/{ns}/services", list_all)
    app.router.add_get("/readyz", ready)
    ctx = None
    if cert and key:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
    web.run_app(
        app, host="127.0.0.1", port=port, ssl_context=ctx, access_log=None, print=None, handle_signals=True
    )


# -- load ------------------------------------------------------------------------------------------


@dataclass
class Load:
    count: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    error_sample: str = ""

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else math.nan


async def _post(client: HttpClient, t: Target, ns: str, name: str, load: Load) -> bool:
    status, body = await client.request("POST", t.services_path(ns), orjson.dumps(service_body(name)))
    if status == 201:
        return True
    load.errors += 1
    load.error_sample = load.error_sample or f"{status} {body[:200]!r}"
    return False


async def closed_loop(
    t: Target,
    ns: str,
    prefix: str,
    *,
    seconds: float | None = None,
    total: int | None = None,
    concurrency: int = 64,
) -> Load:
    """`concurrency` clients, each sending its next create when the last one was answered."""
    load = Load()
    numbers = itertools.count()
    clients = [t.client() for _ in range(concurrency)]
    started = time.perf_counter()
    deadline = started + seconds if seconds is not None else math.inf

    async def run(client: HttpClient) -> None:
        while time.perf_counter() < deadline:
            i = next(numbers)
            if total is not None and i >= total:
                return
            t0 = time.perf_counter()
            if await _post(client, t, ns, f"{prefix}-{i}", load):
                load.count += 1
                load.latencies.append(time.perf_counter() - t0)

    try:
        await asyncio.gather(*(run(c) for c in clients))
    finally:
        for c in clients:
            c.close()
    load.seconds = time.perf_counter() - started
    return load


async def open_loop(t: Target, ns: str, prefix: str, rate: float, seconds: float) -> Load:
    """Creates due at a fixed rate whatever the answers do; latency from the due time. Idle
    connections are reused; a create due while all are busy opens another (as a client pool would)."""
    load = Load()
    n = int(rate * seconds)
    idle = [t.client() for _ in range(16)]
    for c in idle:  # connect (and handshake) before the clock starts
        await c.request("GET", "/readyz")
    opened = list(idle)
    started = time.perf_counter()
    tasks = []

    async def one(i: int, due: float) -> None:
        client = idle.pop() if idle else t.client()
        if client not in opened:
            opened.append(client)
        try:
            if await _post(client, t, ns, f"{prefix}-{i}", load):
                load.count += 1
                load.latencies.append(time.perf_counter() - due)
        finally:
            idle.append(client)

    for i in range(n):
        due = started + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, due)))
    await asyncio.gather(*tasks)
    load.seconds = time.perf_counter() - started
    for c in opened:
        c.close()
    return load


async def list_times(
    session: Any, t: Target, ns: str, repeats: int, page: int | None
) -> tuple[list[float], int]:
    """Seconds to receive the whole list (every page), and the items counted."""
    times, items = [], 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        items = 0
        cont = ""
        while True:
            params = {}
            if page:
                params["limit"] = str(page)
                if cont:
                    params["continue"] = cont
            async with session.get(t.services(ns), params=params, headers=t.headers) as resp:
                body = orjson.loads(await resp.read())
            items += len(body["items"])
            cont = (body.get("metadata") or {}).get("continue") or ""
            if not page or not cont:
                break
        times.append(time.perf_counter() - t0)
    return times, items


async def watch_fanout(
    t: Target, ns: str, watchers: int, events: int, interval: float
) -> tuple[list[float], int, int]:
    """`watchers` watch connections on one namespace; `events` Services created one by one. Returns
    (latency of every delivery, watchers established, deliveries missing)."""
    import aiohttp

    sent: dict[str, float] = {}
    seen: list[float] = []
    connector = aiohttp.TCPConnector(limit=0, ssl=t.ssl_ctx)
    timeout = aiohttp.ClientTimeout(total=None, sock_read=None, sock_connect=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        async with session.get(t.services(ns), headers=t.headers) as resp:
            rv = (await resp.json())["metadata"]["resourceVersion"]
        established = 0
        done = asyncio.Event()
        got = 0

        async def watcher() -> None:
            nonlocal established, got
            url = f"{t.services(ns)}?watch=1&resourceVersion={rv}"
            async with session.get(url, headers=t.headers) as resp:
                established += 1
                async for line in resp.content:
                    now = time.perf_counter()
                    ev = orjson.loads(line)
                    name = ev["object"]["metadata"]["name"]
                    if ev["type"] == "ADDED" and name in sent:
                        seen.append(now - sent[name])
                        got += 1
                        if got >= watchers * events:
                            done.set()

        tasks = [asyncio.create_task(watcher()) for _ in range(watchers)]
        deadline = time.monotonic() + 120
        while established < watchers and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        report.progress(f"{established} watchers established")
        writer = t.client()
        load = Load()
        for k in range(events):
            name = f"watched-{k}"
            sent[name] = time.perf_counter()
            await _post(writer, t, ns, name, load)
            await asyncio.sleep(interval)
        writer.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), timeout=30)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return seen, established, watchers * events - len(seen)


# -- etcd itself -------------------------------------------------------------------------------------


async def etcd_puts(endpoint: str, seconds: float, concurrency: int) -> Load:
    import aetcd

    host, port = endpoint.rsplit(":", 1)
    value = orjson.dumps(service_body("x")).ljust(1024)
    load = Load()
    numbers = itertools.count()
    async with aetcd.Client(host=host, port=int(port)) as client:
        started = time.perf_counter()
        deadline = started + seconds

        async def one() -> None:
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                await client.put(f"/peer/services/{next(numbers):09d}".encode(), value)
                load.count += 1
                load.latencies.append(time.perf_counter() - t0)

        await asyncio.gather(*(one() for _ in range(concurrency)))
        load.seconds = time.perf_counter() - started
    return load


async def etcd_range(endpoint: str, n: int, repeats: int) -> list[float]:
    import aetcd

    host, port = endpoint.rsplit(":", 1)
    value = orjson.dumps(service_body("x")).ljust(1024)
    # a range of 10,000 keys is one ~10 MB message: above gRPC's default 4 MiB receive limit
    async with aetcd.Client(
        host=host, port=int(port), options={"grpc.max_receive_message_length": -1}
    ) as client:
        sem = asyncio.Semaphore(64)

        async def put(i: int) -> None:
            async with sem:
                await client.put(f"/peer/list/{i:09d}".encode(), value)

        await asyncio.gather(*(put(i) for i in range(n)))
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            got = await client.get_prefix(b"/peer/list/")
            assert len(list(got)) == n
            times.append(time.perf_counter() - t0)
    return times


# -- the run ---------------------------------------------------------------------------------------


@dataclass
class Results:
    name: str
    peaks: list[Load] = field(default_factory=list)
    sustained: list[Load] = field(default_factory=list)
    list_full: list[float] = field(default_factory=list)
    list_paged: list[float] = field(default_factory=list)
    listed: int = 0
    watch: list[float] = field(default_factory=list)
    watchers: int = 0
    watch_missing: int = 0
    rss_mib: float = math.nan

    @property
    def peak_rate(self) -> float:
        return median([p.rate for p in self.peaks])

    def sustained_p(self, q: float) -> float:
        return median([percentile(s.latencies, q) for s in self.sustained])


async def bench_target(t: Target, args: argparse.Namespace) -> Results:
    import aiohttp

    res = Results(t.name)
    connector = aiohttp.TCPConnector(limit=args.concurrency + 8, ssl=t.ssl_ctx)
    async with aiohttp.ClientSession(connector=connector) as session:
        if t.kube:
            for ns in ("bench-list", "bench-watch"):
                async with session.post(
                    f"{t.base}/api/v1/namespaces",
                    headers=t.headers,
                    json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
                ) as created:
                    assert created.status in (201, 409), await created.text()
        await closed_loop(t, "default", "warmup", total=300, concurrency=16)
        for r in range(args.rounds):
            load = await closed_loop(
                t, "default", f"peak{r}", seconds=args.peak_seconds, concurrency=args.concurrency
            )
            res.peaks.append(load)
            report.progress(
                f"{t.name}: peak round {r + 1}: {load.rate:,.0f} creates/s ({load.errors} errors "
                f"{load.error_sample})"
            )
        for r in range(args.rounds):
            load = await open_loop(t, "default", f"steady{r}", args.rate, args.sustain_seconds)
            res.sustained.append(load)
            report.progress(
                f"{t.name}: {args.rate:g}/s round {r + 1}: p50 {fmt_ms(percentile(load.latencies, 0.5))} "
                f"p99 {fmt_ms(percentile(load.latencies, 0.99))}"
            )
        fill = await closed_loop(t, "bench-list", "item", total=args.list_size, concurrency=args.concurrency)
        res.list_full, res.listed = await list_times(session, t, "bench-list", args.rounds + 2, None)
        if t.kube:
            res.list_paged, _ = await list_times(session, t, "bench-list", args.rounds, 500)
        report.progress(
            f"{t.name}: filled {fill.count} at {fill.rate:,.0f}/s; list {res.listed}: "
            f"{fmt_ms(median(res.list_full))}"
        )
    if t.kube and args.watchers:
        res.watch, res.watchers, res.watch_missing = await watch_fanout(
            t, "bench-watch", args.watchers, args.watch_events, args.watch_interval
        )
        report.progress(
            f"{t.name}: watch p99 {fmt_ms(percentile(res.watch, 0.99))}, missing {res.watch_missing}"
        )
    res.rss_mib = procs.tree_rss_mib(t.pid)
    return res


def kfed_target(
    name: str,
    data_dir: Path,
    store: str | None,
    log_dir: Path,
    run: Callable[[Target], Coroutine[Any, Any, Results]],
) -> Results:
    port = procs.free_port()
    argv = [
        *procs.kfed_cli(),
        "apiserver",
        "--data-dir",
        str(data_dir),
        "--port",
        str(port),
        "--no-kubeconfig",
    ]
    if store:
        argv += ["--store", store]
    ca = data_dir / "pki" / "ca.crt"
    token_file = data_dir / "tokens" / "admin.token"

    def ready() -> bool:
        return (
            token_file.exists()
            and ca.exists()
            and _https_ready(f"https://127.0.0.1:{port}/readyz", ca, token_file.read_text().strip())
        )

    with procs.running(argv, log=log_dir / f"{name}.log", ready=ready, what=name, cpu=SERVER_CPU) as proc:
        token = token_file.read_text().strip()
        t = Target(
            name,
            f"https://127.0.0.1:{port}",
            _client_ssl(ca),
            {"Authorization": f"Bearer {token}"},
            proc.pid,
            kube=True,
        )
        return asyncio.run(run(t))


def echo_target(
    name: str,
    tls: tuple[Path, Path, Path] | None,
    log_dir: Path,
    run: Callable[[Target], Coroutine[Any, Any, Results]],
) -> Results:
    port = procs.free_port()
    argv = [sys.executable, __file__, "--role", "echo", "--port", str(port)]
    scheme = "http"
    ca: Path | None = None
    if tls is not None:
        ca, cert, key = tls
        argv += ["--cert", str(cert), "--key", str(key)]
        scheme = "https"
    base = f"{scheme}://127.0.0.1:{port}"

    def ready() -> bool:
        return _https_ready(f"{base}/readyz", ca, None) if ca else procs.tcp_open(port)

    with procs.running(
        argv, log=log_dir / f"echo-{scheme}.log", ready=ready, what=name, cpu=SERVER_CPU
    ) as proc:
        t = Target(name, base, _client_ssl(ca) if ca else False, {}, proc.pid, kube=False)
        return asyncio.run(run(t))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="reduced scale: shorter runs, 2,000 listed, 200 watchers"
    )
    parser.add_argument("--backends", default="sqlite,etcd,echo-https,echo-http,etcd-raw")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--peak-seconds", type=float, default=8.0)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--sustain-seconds", type=float, default=10.0)
    parser.add_argument("--list-size", type=int, default=10_000)
    parser.add_argument("--watchers", type=int, default=1000)
    parser.add_argument("--watch-events", type=int, default=20)
    parser.add_argument("--watch-interval", type=float, default=0.2)
    parser.add_argument("--role", choices=["echo"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--cert", help=argparse.SUPPRESS)
    parser.add_argument("--key", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "echo":
        run_echo(args.port, args.cert, args.key)
        return
    if args.quick:
        args.peak_seconds, args.sustain_seconds, args.list_size = 3.0, 5.0, 2000
        args.watchers, args.watch_events = 200, 10

    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    if (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {CLIENT_CPU})  # the load generator keeps off the servers' CPU

    load = report.load_average()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    results: dict[str, Results] = {}
    etcd_bin = shutil.which("etcd")
    raw: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="kfed-api-bench-") as tmp:
        work = Path(tmp)

        async def run(t: Target) -> Results:
            return await bench_target(t, args)

        if "sqlite" in backends:
            results["sqlite"] = kfed_target("kfed apiserver (SQLite)", work / "sqlite", None, work, run)
        if etcd_bin and ({"etcd", "etcd-raw"} & set(backends)):
            # one etcd, on the server side's CPU like the API servers
            with procs.etcd(work / "etcd-data", work / "etcd.log", cpu=SERVER_CPU) as (endpoint, etcd_proc):
                if "etcd" in backends:
                    results["etcd"] = kfed_target(
                        "kfed apiserver (etcd)", work / "etcd", f"etcd://{endpoint}/kfed", work, run
                    )
                    results["etcd"].rss_mib += procs.rss_mib(etcd_proc.pid)[0]
                if "etcd-raw" in backends:
                    raw["puts"] = [
                        asyncio.run(etcd_puts(endpoint, args.peak_seconds, args.concurrency))
                        for _ in range(args.rounds)
                    ]
                    raw["range"] = asyncio.run(etcd_range(endpoint, args.list_size, args.rounds + 2))
                    report.progress(f"etcd raw: {median([x.rate for x in raw['puts']]):,.0f} puts/s")
        if {"echo-https", "echo-http"} & set(backends):
            from kfed.api.certs import ensure_serving_certs

            certs = ensure_serving_certs(work / "echo-pki")
            if "echo-https" in backends:
                results["echo-https"] = echo_target(
                    "aiohttp echo into a dict (HTTPS)", (certs.ca_cert, certs.cert, certs.key), work, run
                )
            if "echo-http" in backends:
                results["echo-http"] = echo_target("aiohttp echo into a dict (HTTP)", None, work, run)
    print_report(args, results, raw, load)


def print_report(
    args: argparse.Namespace, results: dict[str, Results], raw: dict[str, Any], load: str
) -> None:
    scale = "full scale" if not args.quick else "REDUCED SCALE (--quick)"
    notes = [
        f"scale: {scale}; {args.rounds} rounds of each measurement, medians shown",
        f"servers pinned to CPU {SERVER_CPU}, the load generator (this script: Python, aiohttp, uvloop) to "
        f"CPU {CLIENT_CPU}; HTTPS with bearer tokens unless marked HTTP",
        f"peak: {args.concurrency} concurrent clients, closed loop, {args.peak_seconds:g} s per round; sustained: "
        f"{args.rate:g} creates/s open loop for {args.sustain_seconds:g} s per round (latency from the due time)",
        f"list: {args.list_size:,} Services in one namespace; watch: {args.watchers:,} watch connections, "
        f"{args.watch_events} Services created {args.watch_interval:g} s apart, every delivery timed",
    ]
    out = [
        report.header(
            "Federation API server: creates, list, watch (kfed apiserver vs etcd vs aiohttp echo)",
            load=load,
            notes=notes,
        )
    ]
    rows = []
    for r in results.values():
        peak_p99 = median([percentile(p.latencies, 0.99) for p in r.peaks])
        errors = sum(p.errors for p in r.peaks) + sum(s.errors for s in r.sustained)
        rows.append(
            [
                r.name,
                fmt_rate(r.peak_rate),
                fmt_ms(peak_p99),
                fmt_ms(r.sustained_p(0.5)),
                fmt_ms(r.sustained_p(0.99)),
                f"{fmt_ms(median(r.list_full))} ({r.listed:,})",
                fmt_ms(median(r.list_paged)) if r.list_paged else "-",
                f"{r.rss_mib:,.0f} MiB",
                errors,
            ]
        )
    if raw.get("puts"):
        puts = raw["puts"]
        rows.append(
            [
                "etcd itself (aetcd gRPC puts of 1 KiB, range of the keys)",
                fmt_rate(median([p.rate for p in puts])),
                fmt_ms(median([percentile(p.latencies, 0.99) for p in puts])),
                "-",
                "-",
                f"{fmt_ms(median(raw['range']))} ({args.list_size:,})",
                "-",
                "-",
                0,
            ]
        )
    out.append(
        report.table(
            [
                "server",
                "peak creates/s",
                "p99 at peak",
                f"p50 at {args.rate:g}/s",
                f"p99 at {args.rate:g}/s",
                "list all (items)",
                "list in pages of 500",
                "server RSS after",
                "errors",
            ],
            rows,
        )
    )
    watch_rows = [
        [
            r.name,
            f"{r.watchers:,}",
            f"{len(r.watch):,}",
            r.watch_missing,
            fmt_ms(percentile(r.watch, 0.5)),
            fmt_ms(percentile(r.watch, 0.99)),
            fmt_ms(max(r.watch, default=math.nan)),
        ]
        for r in results.values()
        if r.watchers
    ]
    if watch_rows:
        out.append("Watch fan-out (create sent -> ADDED event read by each watcher):\n")
        out.append(
            report.table(["server", "watchers", "deliveries", "missing", "p50", "p99", "max"], watch_rows)
        )

    sqlite, etcd = results.get("sqlite"), results.get("etcd")
    echo = results.get("echo-https") or results.get("echo-http")
    ratios = []
    if sqlite and echo:
        ratios.append(
            f"kfed (SQLite) / aiohttp echo (same transport) peak creates/s: "
            f"{report.fmt_ratio(sqlite.peak_rate, results.get('echo-https', echo).peak_rate)}"
        )
    if sqlite and etcd:
        ratios.append(
            f"kfed on SQLite / kfed on etcd peak creates/s: {report.fmt_ratio(sqlite.peak_rate, etcd.peak_rate)}"
        )
    if sqlite and raw.get("puts"):
        ratios.append(
            f"kfed (SQLite) creates / etcd raw puts: "
            f"{report.fmt_ratio(sqlite.peak_rate, median([p.rate for p in raw['puts']]))}"
        )
    echo_http = results.get("echo-http")
    if echo_http:
        ratios.append(
            f"the load generator reached {fmt_rate(echo_http.peak_rate)} against the plain-HTTP echo: "
            "rates well below that are the server's, rates near it are the client's limit"
        )
    ratios.append(
        "anchors (not measured here): Kubernetes API SLO mutating p99 <= 1 s; aiohttp JSON POST into a "
        "dict 14.8k/s per core; SQLite WAL synchronous=FULL ~7.5k commits/s"
    )
    out.append("\n".join(f"- {r}" for r in ratios) + "\n")

    summaries = []
    if sqlite:
        full = not args.quick
        peer = f"echo {fmt_rate(echo.peak_rate)}" if echo else ""
        p99 = sqlite.sustained_p(0.99)
        summaries += [
            Summary(
                "API server",
                f"create p99 at {args.rate:g} creates/s sustained (SQLite)",
                "<= 50 ms",
                fmt_ms(p99),
                p99 <= 0.050,
                "Kubernetes SLO 1 s (anchor)",
            ),
            Summary(
                "API server",
                "peak creates/s (SQLite)",
                ">= 2,000/s",
                fmt_rate(sqlite.peak_rate),
                sqlite.peak_rate >= 2000,
                peer + (f"; etcd-backed {fmt_rate(etcd.peak_rate)}" if etcd else ""),
            ),
            Summary(
                "API server",
                f"list {sqlite.listed:,} Services",
                "<= 1 s (10,000)",
                fmt_ms(median(sqlite.list_full)),
                (median(sqlite.list_full) <= 1.0) if sqlite.listed >= 10_000 else None,
                f"etcd range {fmt_ms(median(raw['range']))}" if raw.get("range") else "",
                "" if full else f"{sqlite.listed:,} Services",
            ),
        ]
        if sqlite.watchers:
            w99 = percentile(sqlite.watch, 0.99)
            ok = w99 <= 0.100 and sqlite.watch_missing == 0
            summaries.append(
                Summary(
                    "API server",
                    f"{sqlite.watchers:,} watchers see an event, p99",
                    "<= 100 ms (1,000)",
                    fmt_ms(w99) + (f", {sqlite.watch_missing} missing" if sqlite.watch_missing else ""),
                    ok if sqlite.watchers >= 1000 else None,
                    "",
                    "" if sqlite.watchers >= 1000 else f"{sqlite.watchers} watchers",
                )
            )
    report.emit("\n".join(out), summaries)


if __name__ == "__main__":
    main()
