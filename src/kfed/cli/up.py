"""`kfed up`: the API server, controllers, built-in DNS and (optionally) simulated clusters, in one process."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from kfed.cli import eventloop
from kfed.cli.common import data_dir_option, kubeconfig_option
from kfed.cli.logsetup import setup_logging


def _hostport(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    return host or "127.0.0.1", int(port)


@click.command("up")
@data_dir_option
@kubeconfig_option
@click.option("--port", default=6443, show_default=True, help="Federation API port (0: any free port).")
@click.option("--dns-listen", default="127.0.0.1:5353", show_default=True, help="Built-in DNS server address.")
@click.option("--sim-layout", type=click.Choice(["seed"]), default=None,
              help="Start simulated member clusters: `seed` is the guide's 13 clusters in 4 regions.")
@click.option("--sim-cluster", "sim_clusters", multiple=True, metavar="NAME=REGION/ZONE[,ZONE...]",
              help="A simulated member cluster to start and join (repeatable).")
@click.option("--cluster-monitor-period", default=5.0, show_default=True)
@click.option("--log-level", default="warning", show_default=True)
def up(data_dir: Path, kubeconfig: Path | None, port: int, dns_listen: str, sim_layout: str | None,
       sim_clusters: tuple[str, ...], cluster_monitor_period: float, log_level: str) -> None:
    """Run the whole federation in one process until Ctrl-C."""
    from kfed.cli.embedded import EmbeddedFederation, EmbeddedOptions
    from kfed.controllers.manager import ManagerOptions

    setup_logging(log_level)
    console = Console()
    options = EmbeddedOptions(data_dir=data_dir, kubeconfig=kubeconfig, api_port=port,
                              dns_listen=_hostport(dns_listen), sim_layout=sim_layout,
                              sim_clusters=list(sim_clusters),
                              manager=ManagerOptions(monitor_period=cluster_monitor_period))

    async def run() -> None:
        fed = EmbeddedFederation(options)
        with console.status("starting the federation API, the controllers and the built-in DNS server"
                            + (", and the simulated clusters" if fed.sim_requested else "")):
            await fed.start()
        try:
            print_summary(console, fed)
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await stop.wait()
        finally:
            with console.status("stopping"):
                await fed.stop()

    try:
        with contextlib.suppress(KeyboardInterrupt):
            eventloop.run(run())
    except OSError as e:
        # e.g. the API or DNS port is taken by another kfed up
        raise click.ClickException(f"{e.strerror or e} (choose other ports with --port / --dns-listen)") from e


def print_summary(console: Console, fed: object) -> None:
    from kfed.cli.embedded import EmbeddedFederation

    assert isinstance(fed, EmbeddedFederation)
    s = fed.settings
    assert fed.api is not None
    console.print(f"[bold]kfed[/bold] federation [cyan]{s.federation}[/cyan], DNS zone [cyan]{s.dns_zone}[/cyan] "
                  f"({s.dns_provider})")
    console.print(f"  federation API  {fed.api.url}   context [green]federation-cluster[/green]")
    if fed.dns_server is not None:
        host, port = fed.dns_address
        console.print(f"  DNS server      {host}:{port} (UDP and TCP)")
    console.print(f"  kubeconfig      {fed.kubeconfig_path}")
    if fed.fleet is not None:
        table = Table(title="member clusters (kubectl contexts)", box=None, header_style="bold")
        for col in ("CONTEXT", "REGION", "ZONES", "API"):
            table.add_column(col)
        for c in fed.fleet.clusters:
            table.add_row(c.spec.name, c.spec.region, ",".join(c.spec.zones), c.url)
        console.print(table)
    ns, svc = "mynamespace", "nginx"
    console.print("\nTry:")
    console.print("  kubectl --context=federation-cluster get clusters")
    console.print(f"  kubectl --context=federation-cluster create namespace {ns}")
    console.print(f"  kubectl --context=federation-cluster -n {ns} create service loadbalancer {svc} --tcp=80:80")
    if fed.fleet is not None:
        first = fed.fleet.names[0]
        console.print(f"  kubectl --context={first} -n {ns} run {svc} --image=nginx:1.11.1-alpine --port=80 "
                      f"--labels=app={svc}")
    console.print(f"  kfed status {svc}")
    if fed.dns_server is not None:
        host, port = fed.dns_address
        console.print(f"  dig @{host} -p {port} {svc}.{ns}.{s.federation}.svc.{s.dns_zone} A")
        console.print(f"  kfed dns records --server {host}:{port}")
    console.print("\nCtrl-C stops everything.")
