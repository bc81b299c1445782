"""`kfed cluster-dns` and `kfed coredns-config`: federated names for the pods of one member cluster.

    kfed cluster-dns --cluster us-central1-f --federations myfederation=example.com. \\
        --listen 127.0.0.1:10053 --upstream 10.0.0.2:53 --upstream example.com.=127.0.0.1:5353
    kfed coredns-config --cluster us-central1-f --federation-dns 10.0.0.9:53

See docs/cluster-dns.md.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import signal
import sys
from pathlib import Path
from typing import Any

import click

from kfed.cli import eventloop
from kfed.cli.common import kubeconfig_option, read_kubeconfig
from kfed.cli.dns_server import parse_listen
from kfed.cli.logsetup import setup_logging
from kfed.dns.clusterdns import (
    DEFAULT_DOMAIN,
    DEFAULT_TTL,
    ClusterDNSSettings,
    FederationsError,
    UpstreamRoute,
    parse_federations,
)
from kfed.dns.corefile import DEFAULT_COREFILE_TTL, CorefileError, CorefileSettings, corefile_fragment
from kfed.dns.names import ZoneNameStyle
from kfed.members.client import ApiCallError, KubeClient, KubeConfigError, Unreachable

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")

federations_option = click.option(
    "--federations",
    "federations",
    multiple=True,
    metavar="NAME=DOMAIN[,NAME=DOMAIN...]",
    help="Federations whose names pods may use (repeatable). Added to those in the cluster's "
    "kube-system/kube-dns ConfigMap (`federations` key, which `kfed join` writes); these win on a clash.",
)
zone_style_option = click.option(
    "--zone-style",
    type=click.Choice([s.value for s in ZoneNameStyle]),
    default=ZoneNameStyle.ZONE.value,
    show_default=True,
    help="Zone names as <zone>.<domain> (the guide) or <zone>.<region>.<domain>.",
)
cluster_option = click.option("--cluster", required=True, help="The member cluster (its kubeconfig context).")
context_option = click.option(
    "--cluster-context", default=None, help="Kubeconfig context of the cluster, when not named like it."
)


def _federations(values: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    try:
        for value in values:
            out.update(parse_federations(value))
    except FederationsError as e:
        raise click.BadParameter(str(e), param_hint="--federations") from e
    return out


def _in_cluster_kubeconfig() -> dict[str, Any]:
    """A kubeconfig for the pod's service account (for `--in-cluster`)."""
    host, port = os.environ.get("KUBERNETES_SERVICE_HOST"), os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    if not host:
        raise click.ClickException("--in-cluster: KUBERNETES_SERVICE_HOST is not set (not running in a pod?)")
    try:
        token = (SERVICE_ACCOUNT_DIR / "token").read_text().strip()
        ca = (SERVICE_ACCOUNT_DIR / "ca.crt").read_bytes()
    except OSError as e:
        raise click.ClickException(f"--in-cluster: cannot read the service account: {e}") from e
    server = f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "in-cluster",
        "clusters": [
            {
                "name": "in-cluster",
                "cluster": {"server": server, "certificate-authority-data": base64.b64encode(ca).decode()},
            }
        ],
        "users": [{"name": "in-cluster", "user": {"token": token}}],
        "contexts": [{"name": "in-cluster", "context": {"cluster": "in-cluster", "user": "in-cluster"}}],
    }


async def _member_client(kubeconfig: Path | None, context: str, in_cluster: bool) -> KubeClient:
    config = _in_cluster_kubeconfig() if in_cluster else read_kubeconfig(kubeconfig)
    try:
        return await KubeClient.from_kubeconfig(config, None if in_cluster else context)
    except KubeConfigError as e:
        raise click.ClickException(str(e)) from e


@click.command("cluster-dns")
@cluster_option
@context_option
@kubeconfig_option
@click.option("--in-cluster", is_flag=True, help="Use the pod's service account instead of a kubeconfig.")
@federations_option
@click.option(
    "--listen", default="127.0.0.1:10053", show_default=True, help="host:port for UDP and TCP (port 0: any)."
)
@click.option(
    "--upstream",
    "upstreams",
    multiple=True,
    metavar="[ZONE=]IP[:PORT]",
    help="Where other names go (repeatable); with ZONE=, only names under ZONE (e.g. the federation's "
    "domain to kfed's DNS server). Without any, other names are REFUSED and CNAMEs are not chased.",
)
@click.option(
    "--upstream-timeout",
    default=2.0,
    show_default=True,
    type=click.FloatRange(0.05, 30),
    help="Seconds an upstream answer may take before the client gets SERVFAIL.",
)
@click.option("--domain", default=DEFAULT_DOMAIN, show_default=True, help="The cluster domain.")
@click.option("--zone", default="", help="This cluster's zone (default: its nodes' labels, first zone).")
@click.option("--region", default="", help="This cluster's region (default: its nodes' labels).")
@zone_style_option
@click.option(
    "--ttl", default=DEFAULT_TTL, show_default=True, type=click.IntRange(0, 86400), help="TTL of answers."
)
@click.option(
    "--sync-timeout",
    default=30.0,
    show_default=True,
    help="Seconds to wait for the first list of the cluster.",
)
@click.option(
    "--uvloop/--no-uvloop", "use_uvloop", default=True, show_default=True, help="Use uvloop when installed."
)
@click.option("--log-level", default="warning", show_default=True)
def cluster_dns(
    cluster: str,
    cluster_context: str | None,
    kubeconfig: Path | None,
    in_cluster: bool,
    federations: tuple[str, ...],
    listen: str,
    upstreams: tuple[str, ...],
    upstream_timeout: float,
    domain: str,
    zone: str,
    region: str,
    zone_style: str,
    ttl: int,
    sync_timeout: float,
    use_uvloop: bool,
    log_level: str,
) -> None:
    """The DNS server of one member cluster: cluster.local names from its API, federated names
    (<svc>.<ns>.<federation>) to the local Service or the nearest healthy shard, the rest upstream."""
    from kfed.controllers.clusterdns import ClusterDNS, ClusterDNSOptions

    setup_logging(log_level)
    host, port = parse_listen(listen)
    feds = _federations(federations)
    try:
        routes = [UpstreamRoute.parse(u) for u in upstreams]
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--upstream") from e
    settings = ClusterDNSSettings(domain=domain, ttl=ttl, zone_style=ZoneNameStyle(zone_style))
    options = ClusterDNSOptions(
        federations=feds,
        upstreams=routes,
        host=host,
        port=port,
        settings=settings,
        zone=zone,
        region=region,
        upstream_timeout=upstream_timeout,
    )

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        client = await _member_client(kubeconfig, cluster_context or cluster, in_cluster)
        server = ClusterDNS(client, options)
        try:
            await server.start(sync_timeout=sync_timeout)
            index = server.index
            click.echo(
                f"kfed cluster-dns: cluster {cluster} (zone {index.zone or '?'}, region {index.region or '?'}, "
                f"federations {', '.join(sorted(index.federations)) or 'none yet'}) on "
                f"{host}:{server.port} (udp+tcp)",
                err=True,
            )
            await stop.wait()
        finally:
            await server.stop()
            await client.close()

    try:
        eventloop.run(run(), use_uvloop=use_uvloop)
    except OSError as e:
        raise click.ClickException(f"cannot listen on {listen}: {e}") from e


@click.command("coredns-config")
@cluster_option
@context_option
@kubeconfig_option
@federations_option
@click.option("--zone", default="", help="The cluster's zone (default: read from its nodes).")
@click.option("--region", default="", help="The cluster's region (default: read from its nodes).")
@click.option("--domain", default=DEFAULT_DOMAIN, show_default=True, help="The cluster domain.")
@zone_style_option
@click.option(
    "--ttl",
    default=DEFAULT_COREFILE_TTL,
    show_default=True,
    type=click.IntRange(0, 86400),
    help="TTL of the CNAME CoreDNS answers.",
)
@click.option(
    "--port",
    default=53,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="Port of the Corefile's main server block (the extra blocks must share it).",
)
@click.option(
    "--federation-dns",
    multiple=True,
    metavar="IP[:PORT]",
    help="A server answering the federation's domain (kfed's DNS): adds a forwarding block.",
)
@click.option(
    "--delegate",
    multiple=True,
    metavar="IP[:PORT]",
    help="kfed cluster-dns running in the cluster: forward federated names to it (exact behaviour) "
    "instead of the template.",
)
def coredns_config(
    cluster: str,
    cluster_context: str | None,
    kubeconfig: Path | None,
    federations: tuple[str, ...],
    zone: str,
    region: str,
    domain: str,
    zone_style: str,
    ttl: int,
    port: int,
    federation_dns: tuple[str, ...],
    delegate: tuple[str, ...],
) -> None:
    """Print the Corefile fragment that gives CoreDNS of CLUSTER the federated names."""
    from kfed.controllers.clusterdns import read_cluster_facts

    feds = _federations(federations)
    if not (zone and region and feds):

        async def read() -> tuple[str, str, dict[str, str]]:
            client = await _member_client(kubeconfig, cluster_context or cluster, False)
            try:
                facts = await read_cluster_facts(client)
            finally:
                await client.close()
            return facts.region, facts.zone, facts.federations

        try:
            found_region, found_zone, found_feds = asyncio.run(read())
        except (ApiCallError, Unreachable) as e:
            raise click.ClickException(
                f"cannot read cluster {cluster}: {e} (or give --zone, --region and --federations)"
            ) from e
        zone, region = zone or found_zone, region or found_region
        feds = {**found_feds, **feds}
    settings = CorefileSettings(
        cluster=cluster,
        federations=feds,
        zone=zone,
        region=region,
        cluster_domain=domain,
        ttl=ttl,
        zone_style=ZoneNameStyle(zone_style),
        port=port,
        federation_dns=federation_dns,
        delegate=delegate,
    )
    try:
        click.echo(corefile_fragment(settings), nl=False)
    except CorefileError as e:
        raise click.ClickException(str(e)) from e


if __name__ == "__main__":  # `python -m kfed.cli.cluster_dns ...`, before the command is registered
    cluster_dns(sys.argv[1:])
