"""`kfed controller-manager`: the federation's controllers, as a client of the federation API."""

from __future__ import annotations

import contextlib
from pathlib import Path

import click

from kfed.cli import eventloop
from kfed.cli.common import federation_client, host_context_option, kubeconfig_option
from kfed.cli.logsetup import setup_logging


@click.command("controller-manager")
@kubeconfig_option
@host_context_option
@click.option("--cluster-monitor-period", default=5.0, show_default=True, help="Seconds between cluster probes.")
@click.option("--cluster-probe-timeout", default=3.0, show_default=True)
@click.option("--cluster-failure-threshold", default=2, show_default=True, help="Failed probes before not Ready.")
@click.option("--leader-elect-lease-duration", default=15.0, show_default=True)
@click.option("--leader-elect-renew-deadline", default=10.0, show_default=True)
@click.option("--leader-elect-retry-period", default=2.0, show_default=True)
@click.option("--identity", default=None, help="Leader election identity (default: host_pid).")
@click.option("--no-dns", is_flag=True, help="Run without the DNS controller.")
@click.option("--lb-nameserver", "lb_nameservers", multiple=True, metavar="IP[:PORT]",
              help="Nameserver for resolving load balancers' hostnames (repeatable; default: the system's).")
@click.option("--metrics-port", type=click.IntRange(0, 65535), default=None,
              help="Serve Prometheus metrics (DNS provider calls, retries, failures) on 127.0.0.1:PORT/metrics.")
@click.option("--log-level", default="warning", show_default=True)
def controller_manager(kubeconfig: Path | None, host_context: str, cluster_monitor_period: float,
                       cluster_probe_timeout: float, cluster_failure_threshold: int,
                       leader_elect_lease_duration: float, leader_elect_renew_deadline: float,
                       leader_elect_retry_period: float, identity: str | None, no_dns: bool,
                       lb_nameservers: tuple[str, ...], metrics_port: int | None,
                       log_level: str) -> None:
    """Run the cluster, service and DNS controllers (one active leader among replicas)."""
    from kfed.controllers.manager import ControllerManager, ManagerOptions
    from kfed.controllers.membership import read_settings

    setup_logging(log_level)
    options = ManagerOptions(monitor_period=cluster_monitor_period, probe_timeout=cluster_probe_timeout,
                             failure_threshold=cluster_failure_threshold, lease_duration=leader_elect_lease_duration,
                             renew_deadline=leader_elect_renew_deadline, retry_period=leader_elect_retry_period,
                             dns=not no_dns, lb_nameservers=list(lb_nameservers))
    if identity:
        options.identity = identity

    async def run() -> None:
        fed = await federation_client(kubeconfig, host_context)
        manager = ControllerManager(fed, await read_settings(fed), options)
        metrics = None
        if metrics_port is not None:
            from prometheus_client import CollectorRegistry

            from kfed.controllers.dns_metrics import DNSControllerCollector, serve_metrics

            registry = CollectorRegistry()
            registry.register(DNSControllerCollector(lambda: manager.dns))
            metrics = await serve_metrics(registry, "127.0.0.1", metrics_port)
        try:
            await manager.run()
        finally:
            if metrics is not None:
                await metrics.cleanup()
            with contextlib.suppress(Exception):
                await manager.shutdown()
            await fed.close()

    with contextlib.suppress(KeyboardInterrupt):
        eventloop.run(run())
