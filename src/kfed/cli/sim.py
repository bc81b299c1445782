"""`kfed sim`: simulated member clusters on 127.0.0.1 (tests and demos), and their faults."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import signal
from pathlib import Path
from typing import Any

import click

from kfed.cli import eventloop
from kfed.cli.logsetup import setup_logging
from kfed.sim.layout import ClusterSpec

DEFAULT_DATA_DIR = Path.home() / ".kfed" / "sim"
_SERVER_FAULTS = ("down", "unhealthy", "slow", "revoke-credentials", "forbid-writes")


def _data_dir_option(default: Path | None) -> Any:
    return click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=default,
                        show_default=default is not None,
                        help="Where the clusters' CAs, tokens and the control file live.")


@click.group("sim", invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--layout", type=click.Choice(["seed"]), default=None,
              help="seed: the guide's 13 clusters (asia-east1-{a,b,c}, europe-west1-{b,c,d}, "
                   "us-central1-{a,b,c,f}, us-east1-{b,c,d}).")
@click.option("--cluster", "clusters", multiple=True, metavar="NAME=REGION/ZONE[,ZONE...]",
              help="A cluster (repeatable), e.g. us-central1-f=us-central1/us-central1-f.")
@_data_dir_option(DEFAULT_DATA_DIR)
@click.option("--kubeconfig", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Kubeconfig to merge one context per cluster into (default: $KUBECONFIG or ~/.kube/config).")
@click.option("--no-kubeconfig", is_flag=True, help="Do not write any kubeconfig.")
@click.option("--nodes-per-zone", default=2, show_default=True, type=click.IntRange(1, 100))
@click.option("--pod-start-delay", default=0.1, show_default=True, type=click.FloatRange(0),
              help="Seconds from scheduled to Running.")
@click.option("--pod-ready-delay", default=0.2, show_default=True, type=click.FloatRange(0),
              help="Seconds from Running to Ready.")
@click.option("--lb-hostnames", multiple=True, metavar="NAME|all",
              help="Clusters whose load balancers get AWS-style hostnames instead of IPs (repeatable).")
@click.option("--dns-port", default=0, type=click.IntRange(0, 65535),
              help="Port of the load-balancer hostname DNS responder (0: a free port).")
@click.option("--no-events", is_flag=True, help="Record no Events (less memory for big fleets).")
@click.option("--log-level", default="warning", show_default=True)
@click.pass_context
def sim(ctx: click.Context, layout: str | None, clusters: tuple[str, ...], data_dir: Path, kubeconfig: Path | None,
        no_kubeconfig: bool, nodes_per_zone: int, pod_start_delay: float, pod_ready_delay: float,
        lb_hostnames: tuple[str, ...], dns_port: int, no_events: bool, log_level: str) -> None:
    """Run simulated member clusters until Ctrl-C: each has its own HTTPS endpoint, CA and token,
    and a kubeconfig context named after it. `kfed sim fault ...` breaks and mends them."""
    ctx.ensure_object(dict)
    ctx.obj["data_dir"] = data_dir
    if ctx.invoked_subcommand is not None:
        return
    from kfed.sim.cluster import SimOptions
    from kfed.sim.layout import parse_cluster, seed_layout

    setup_logging(log_level)
    everyone = "all" in lb_hostnames
    try:
        specs = seed_layout() if layout == "seed" else []
        specs += [parse_cluster(c) for c in clusters]
        specs = [_with_hostnames(s, everyone or s.name in lb_hostnames) for s in specs]
        unknown = set(lb_hostnames) - {"all"} - {s.name for s in specs}
        if unknown:
            raise ValueError(f"--lb-hostnames names no cluster of the layout: {', '.join(sorted(unknown))}")
        if not specs:
            raise ValueError("no clusters: give --layout seed or at least one --cluster NAME=REGION/ZONE")
    except ValueError as e:
        raise click.BadParameter(str(e)) from e
    options = SimOptions(nodes_per_zone=nodes_per_zone, pod_start_delay=pod_start_delay,
                         pod_ready_delay=pod_ready_delay, events=not no_events)
    eventloop.run(_run(specs, data_dir, options, kubeconfig, not no_kubeconfig, dns_port))


def _with_hostnames(spec: ClusterSpec, on: bool) -> ClusterSpec:
    return dataclasses.replace(spec, lb_hostnames=on) if on else spec


async def _run(specs: list[ClusterSpec], data_dir: Path, options: Any, kubeconfig: Path | None, write_kubeconfig: bool,
               dns_port: int) -> None:
    from kfed.sim.control import ControlServer
    from kfed.sim.fleet import SimFleet

    fleet = SimFleet(specs, data_dir=data_dir, options=options, kubeconfig=kubeconfig,
                     write_kubeconfig=write_kubeconfig, dns_port=dns_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, stop.set)
    await fleet.start()  # the fleet keeps full garbage collections short itself (kfed.runtime.heap)
    control = ControlServer(fleet, data_dir)
    try:
        await control.start()
        _print_contexts(fleet, control.path)
        await stop.wait()
    finally:
        await control.stop()
        await fleet.stop()


def _console() -> Any:
    from rich.console import Console

    console = Console()
    # Piped or in a log file: do not squeeze URLs into an 80-column table.
    return console if console.is_terminal else Console(width=200)


def _print_contexts(fleet: Any, control_path: Path) -> None:
    from rich.table import Table

    table = Table(title="simulated clusters", title_justify="left")
    for col in ("CONTEXT", "REGION", "ZONES", "SERVER", "LOAD BALANCERS"):
        table.add_column(col)
    for c in fleet.clusters:
        lb = "hostnames *.elb.sim.kfed.test" if c.spec.lb_hostnames else str(c.plan.lb_pool)
        table.add_row(c.name, c.spec.region, ",".join(c.spec.zones), c.url, lb)
    console = _console()
    console.print(table)
    host, port = fleet.dns_address
    if fleet.kubeconfig_path is not None:
        console.print(f"kubeconfig: {fleet.kubeconfig_path}  (try: kubectl --context={fleet.names[0]} get nodes)")
    console.print(f"load-balancer DNS: {host}:{port}  control: {control_path}")
    console.print("running until Ctrl-C", style="dim")
    console.file.flush()  # piped to a file or a test: show it now, not at exit


# -- talking to a running simulation ------------------------------------------------------


def _send(ctx: click.Context, data_dir: Path | None, request: dict[str, Any]) -> dict[str, Any]:
    from kfed.sim.control import ControlError, send

    where = data_dir or (ctx.obj or {}).get("data_dir") or DEFAULT_DATA_DIR
    try:
        return send(where, request)
    except ControlError as e:
        raise click.ClickException(str(e)) from e


@sim.group("fault")
def fault() -> None:
    """Break a running simulated cluster (or its pods); `fault clear` mends it."""


def _server_fault_command(name: str, help_text: str) -> None:
    @fault.command(name, help=help_text)
    @click.argument("cluster")
    @_data_dir_option(None)
    @click.pass_context
    def command(ctx: click.Context, cluster: str, data_dir: Path | None, **kw: Any) -> None:
        request: dict[str, Any] = {"action": "fault", "cluster": cluster, "fault": name}
        if kw.get("latency") is not None:
            request["latency"] = kw["latency"]
        _send(ctx, data_dir, request)
        click.echo(f"{cluster}: {name}")

    if name == "slow":
        click.option("--latency", type=click.FloatRange(0), default=0.5, show_default=True,
                     help="Seconds added to every request.")(command)


_server_fault_command("down", "The cluster's API refuses connections.")
_server_fault_command("unhealthy", "The cluster's /readyz answers 500.")
_server_fault_command("slow", "Every request to the cluster's API waits first.")
_server_fault_command("revoke-credentials", "Every credential of the cluster gets 401.")
_server_fault_command("forbid-writes", "Every write to the cluster gets 403.")


def _pod_target(f: Any) -> Any:
    f = click.option("--pod", default=None, help="One pod, by name.")(f)
    f = click.option("--zone", default=None, help="Every pod of a zone.")(f)
    f = click.option("-n", "--namespace", default="default", show_default=True, help="Namespace of --pod.")(f)
    return f


@fault.command("unready")
@click.argument("cluster")
@_pod_target
@_data_dir_option(None)
@click.pass_context
def unready(ctx: click.Context, cluster: str, pod: str | None, zone: str | None, namespace: str,
            data_dir: Path | None) -> None:
    """Hold a pod, or every pod of a zone, unready (their endpoints become not ready)."""
    _send(ctx, data_dir, {"action": "unready", "cluster": cluster, "pod": pod, "zone": zone, "namespace": namespace})
    click.echo(f"{cluster}: {'pod ' + pod if pod else 'zone ' + str(zone)} unready")


@fault.command("delete-pods")
@click.argument("cluster")
@_pod_target
@_data_dir_option(None)
@click.pass_context
def delete_pods(ctx: click.Context, cluster: str, pod: str | None, zone: str | None, namespace: str,
                data_dir: Path | None) -> None:
    """Delete a pod, or every pod of a zone (the zone is cordoned until cleared)."""
    result = _send(ctx, data_dir, {"action": "delete-pods", "cluster": cluster, "pod": pod, "zone": zone,
                                   "namespace": namespace})
    for key in result.get("deleted", []):
        click.echo(f"{cluster}: pod {key} deleted")


@fault.command("clear")
@click.argument("cluster")
@click.argument("kind", required=False, type=click.Choice([*_SERVER_FAULTS, "unready", "delete-pods"]))
@_pod_target
@_data_dir_option(None)
@click.pass_context
def clear(ctx: click.Context, cluster: str, kind: str | None, pod: str | None, zone: str | None, namespace: str,
          data_dir: Path | None) -> None:
    """Undo one fault of a cluster, or all of them (pod faults too) when no KIND is given."""
    if kind in ("unready", "delete-pods"):
        action = "ready" if kind == "unready" else "restore-pods"
        _send(ctx, data_dir, {"action": action, "cluster": cluster, "pod": pod, "zone": zone, "namespace": namespace})
    else:
        _send(ctx, data_dir, {"action": "clear", "cluster": cluster, "fault": kind})
    click.echo(f"{cluster}: {kind or 'all faults'} cleared")


@fault.command("list")
@_data_dir_option(None)
@click.pass_context
def list_faults(ctx: click.Context, data_dir: Path | None) -> None:
    """The active faults of every cluster."""
    _status(ctx, data_dir, faults_only=True)


@sim.command("status")
@_data_dir_option(None)
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table")
@click.pass_context
def status(ctx: click.Context, data_dir: Path | None, output: str) -> None:
    """The clusters of the running simulation and their faults."""
    if output == "json":
        click.echo(json.dumps(_send(ctx, data_dir, {"action": "status"}), indent=2))
        return
    _status(ctx, data_dir, faults_only=False)


def _status(ctx: click.Context, data_dir: Path | None, faults_only: bool) -> None:
    from rich.table import Table

    result = _send(ctx, data_dir, {"action": "status"})
    table = Table()
    columns = ["CLUSTER", "FAULTS", "UNREADY", "PODS DELETED"]
    if not faults_only:
        columns[1:1] = ["SERVER", "ZONES"]
    for col in columns:
        table.add_column(col)
    for c in result["clusters"]:
        faults = ", ".join(f"{k}({v}s)" if k == "slow" else k for k, v in c["faults"].items()) or "-"
        unready_cell = ", ".join([*c["unreadyPods"], *(f"zone {z}" for z in c["unreadyZones"])]) or "-"
        deleted = ", ".join([*(f"zone {z}" for z in c["cordonedZones"]), *c["deletedPods"]]) or "-"
        row = [c["name"], faults, unready_cell, deleted]
        if not faults_only:
            row[1:1] = [c["server"], ",".join(c["zones"])]
        table.add_row(*row)
    _console().print(table)


@sim.command("restart")
@click.argument("cluster")
@_data_dir_option(None)
@click.pass_context
def restart(ctx: click.Context, cluster: str, data_dir: Path | None) -> None:
    """Restart one cluster's API server and controllers (same port, credentials and objects)."""
    _send(ctx, data_dir, {"action": "restart", "cluster": cluster})
    click.echo(f"{cluster}: restarted")


if __name__ == "__main__":  # `python -m kfed.cli.sim ...`: the same as `kfed sim ...`
    sim(prog_name="kfed sim")
