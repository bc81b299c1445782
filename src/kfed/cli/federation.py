"""`kfed init`, `kfed join`, `kfed unjoin` and `kfed status`."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from kfed.cli.common import (
    data_dir_option,
    federation_client,
    host_context_option,
    kubeconfig_option,
    read_kubeconfig,
    save_settings,
)
from kfed.cli.logsetup import setup_logging
from kfed.controllers import membership
from kfed.controllers.manager import FederationSettings
from kfed.controllers.shards import SHARDS_ANNOTATION, decode_shards
from kfed.members.client import ApiCallError, KubeConfigError, Unreachable

PROVIDERS = ("builtin", "rfc2136", "route53", "clouddns")


def _fail_on_api_errors(coro: Any) -> Any:
    try:
        return asyncio.run(coro)
    except (ApiCallError, Unreachable, KubeConfigError) as e:
        raise click.ClickException(str(e)) from e


@click.command("init")
@click.argument("federation", default="myfederation")
@click.option("--dns-provider", type=click.Choice(PROVIDERS), default="builtin", show_default=True)
@click.option("--dns-zone-name", default="example.com.", show_default=True, help="The DNS zone kfed writes into.")
@click.option("--dns-provider-config", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="YAML or JSON file with the provider's settings (server, TSIG key, zone id, ...).")
@click.option("--dns-ttl", default=180, show_default=True, help="Default TTL of the records kfed writes.")
@data_dir_option
def init(federation: str, dns_provider: str, dns_zone_name: str, dns_provider_config: Path | None, dns_ttl: int,
         data_dir: Path) -> None:
    """Write the federation's settings (name, DNS provider and zone); `kfed up` uses them."""
    import yaml

    if not dns_zone_name.endswith("."):
        dns_zone_name += "."
    config: dict[str, Any] = {}
    if dns_provider_config is not None:
        config = yaml.safe_load(dns_provider_config.read_text()) or {}
        if not isinstance(config, dict):
            raise click.ClickException(f"{dns_provider_config}: expected a mapping of settings")
    settings = FederationSettings(federation=federation, dns_zone=dns_zone_name, dns_provider=dns_provider,
                                  dns_provider_config=config, default_ttl=dns_ttl)
    path = save_settings(data_dir, settings)
    click.echo(f"federation {federation} (DNS zone {dns_zone_name} via {dns_provider}) written to {path}")


@click.command("join")
@click.argument("cluster")
@click.option("--cluster-context", required=True, help="Kubeconfig context of the cluster to join.")
@kubeconfig_option
@host_context_option
def join(cluster: str, cluster_context: str, kubeconfig: Path | None, host_context: str) -> None:
    """Join CLUSTER to the federation, with the credentials of --cluster-context."""
    setup_logging()
    config = read_kubeconfig(kubeconfig)

    async def run() -> None:
        fed = await federation_client(kubeconfig, host_context)
        try:
            await membership.join(fed, cluster, config, cluster_context)
        finally:
            await fed.close()

    _fail_on_api_errors(run())
    click.echo(f'cluster "{cluster}" joined (kubectl --context={host_context} describe clusters {cluster})')


@click.command("unjoin")
@click.argument("cluster")
@click.option("--delete-services", is_flag=True, help="Also delete the Services kfed created there (never adopted ones).")
@click.option("--timeout", default=60.0, show_default=True)
@kubeconfig_option
@host_context_option
def unjoin(cluster: str, delete_services: bool, timeout: float, kubeconfig: Path | None, host_context: str) -> None:
    """Stop managing CLUSTER: its DNS records go, its Secret goes; with --delete-services its Services too."""
    setup_logging()
    console = Console(stderr=True)

    async def run() -> None:
        fed = await federation_client(kubeconfig, host_context)
        try:
            with console.status(f"unjoining {cluster}: waiting for the controller-manager to clean up"):
                await membership.unjoin(fed, cluster, delete_services=delete_services, timeout=timeout)
        finally:
            await fed.close()

    try:
        _fail_on_api_errors(run())
    except KeyError as e:
        raise click.ClickException(str(e).strip("'\"")) from e
    except TimeoutError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f'cluster "{cluster}" unjoined')


@click.command("status")
@click.argument("service", required=False)
@click.option("-n", "--namespace", default=None, help="Namespace (default: all).")
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True)
@kubeconfig_option
@host_context_option
def status(service: str | None, namespace: str | None, output: str, kubeconfig: Path | None, host_context: str) -> None:
    """Show every shard of the federated Services: cluster, region, zones, addresses, health."""

    async def run() -> list[dict[str, Any]]:
        fed = await federation_client(kubeconfig, host_context)
        try:
            path = f"/api/v1/namespaces/{namespace}/services" if namespace else "/api/v1/services"
            items: list[dict[str, Any]] = (await fed.get(path)).get("items", [])
        finally:
            await fed.close()
        return [s for s in items if service is None or s["metadata"]["name"] == service]

    services = _fail_on_api_errors(run())
    if service and not services:
        raise click.ClickException(f'service "{service}" not found')
    rows = []
    for svc in services:
        meta = svc["metadata"]
        for sh in decode_shards((meta.get("annotations") or {}).get(SHARDS_ANNOTATION)):
            rows.append({"service": f"{meta.get('namespace')}/{meta['name']}", **sh.to_dict()})
    if output == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table(box=None, header_style="bold")
    for col in ("SERVICE", "CLUSTER", "REGION", "ZONES", "ADDRESSES", "READY ENDPOINTS", "HEALTHY", "REASON"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["service"], r["cluster"], r["region"] or "-", ",".join(r["zones"]) or "-",
                      ",".join(r["addresses"] + r["hostnames"]) or "-", str(r["readyEndpoints"]),
                      "[green]yes[/green]" if r["healthy"] else "[red]no[/red]", r["reason"])
    # piped output (scripts, CI) gets whole lines rather than columns cut to 80 characters
    Console(width=None if sys.stdout.isatty() else 250).print(table)
