"""Prometheus metrics of the DNS controller, and a small /metrics endpoint to serve them.

The counters are read at scrape time from the controller that runs now (the leader's; None
elsewhere), so nothing has to be kept in step: `ProviderApplier.stats` for the provider calls,
the controller's own counters for its passes. A new leadership term starts a new controller and
its counters from zero, which Prometheus treats as a counter reset.

    registry = CollectorRegistry()
    registry.register(DNSControllerCollector(lambda: manager.dns))
    runner = await serve_metrics(registry, "127.0.0.1", 9464)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import fields
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from kfed.dns.providers import ApplierStats

_APPLIER_HELP = {
    "lists": "Zone listings read from the DNS provider.",
    "requests": "Change requests the DNS provider accepted.",
    "changes": "Record set changes applied in the DNS provider.",
    "retries": "DNS provider calls sent again after a retryable error.",
    "throttled": "DNS provider calls the provider asked to slow down.",
    "replans": "Times the zone was listed again because it was not what the plan assumed.",
    "failures": "DNS syncs that gave up with a provider error (retried later with backoff).",
    "conflicts": "Names left alone because kfed does not own them, summed over syncs.",
}


class DNSControllerCollector(Collector):
    """`kfed_dns_*` metrics from whichever DNS controller `current()` returns."""

    def __init__(self, current: Callable[[], Any]) -> None:
        self._current = current

    def collect(self) -> Iterator[Metric]:
        controller = self._current()
        applier = getattr(controller, "applier", None)
        stats = applier.stats if applier is not None else ApplierStats()
        provider = str(getattr(getattr(applier, "provider", None), "name", ""))
        for field in fields(ApplierStats):
            family = CounterMetricFamily(f"kfed_dns_provider_{field.name}", _APPLIER_HELP.get(field.name, field.name),
                                         labels=["provider"])
            family.add_metric([provider], float(getattr(stats, field.name)))
            yield family
        passes = CounterMetricFamily("kfed_dns_syncs", "DNS controller passes that completed.")
        passes.add_metric([], float(getattr(controller, "syncs", 0)))
        yield passes
        errors = CounterMetricFamily("kfed_dns_sync_errors",
                                     "DNS controller passes that failed (provider or federation API errors).")
        errors.add_metric([], float(getattr(controller, "sync_errors", 0)))
        yield errors
        failing = GaugeMetricFamily("kfed_dns_sync_failing", "1 while the last DNS controller pass failed.")
        failing.add_metric([], 1.0 if getattr(controller, "last_error", None) else 0.0)
        yield failing
        conflicts = GaugeMetricFamily("kfed_dns_conflicts", "Names left alone now because kfed does not own them.")
        conflicts.add_metric([], float(getattr(controller, "conflicts", 0)))
        yield conflicts
        resolver = getattr(controller, "hostnames", None)
        lookups = CounterMetricFamily("kfed_dns_hostname_lookups", "Load-balancer hostname lookups made.")
        lookups.add_metric([], float(getattr(resolver, "lookups", 0)))
        yield lookups


async def serve_metrics(registry: CollectorRegistry, host: str, port: int) -> web.AppRunner:
    """Serve `registry` at http://host:port/metrics until the returned runner is cleaned up."""

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(registry), content_type="text/plain",
                            charset="utf-8", headers={"X-Content-Type-Options": "nosniff"})

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


def bound_port(runner: web.AppRunner) -> int:
    """The port a runner listens on (for port 0)."""
    for site in runner.sites:
        server = getattr(site, "_server", None)
        for sock in getattr(server, "sockets", None) or []:
            return int(sock.getsockname()[1])
    raise RuntimeError("the metrics endpoint is not listening")
