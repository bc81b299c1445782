"""`kfed dns records`: the federation's DNS zone as its DNS provider holds it.

    $ kfed dns records
    NAME                                                           TYPE   TTL   DATA
    example.com.                                                   SOA    3600  ns1.example.com. hostmaster...
    example.com.                                                   NS     3600  ns1.example.com.
    nginx.mynamespace.myfederation.svc.example.com.                A      180   104.197.246.190, 130.211.57.243
    nginx.mynamespace.myfederation.svc.us-central1-f.example.com.  CNAME  180   nginx.mynamespace.myfederation...

The records are read through the federation's configured provider (the `federation-system/
kfed-federation` ConfigMap that `kfed init` wrote): the DNSRecordSet objects for `builtin`, a zone
transfer for `rfc2136`, the provider's API for `route53` and `clouddns`, with the zone's SOA and NS
where the provider shows them. `--server HOST:PORT` reads the zone by AXFR from any authoritative
server instead (kfed's own `dns-server`, or a secondary). kfed's ownership markers
(`_kfed-owner.<name>` TXT records) are hidden unless `--show-ownership`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from kfed.cli.common import kubeconfig_option
from kfed.dns.names import absolute
from kfed.dns.plan import owned_name
from kfed.dns.records import RecordSet

_APEX_ORDER = {"SOA": 0, "NS": 1}


@click.group("dns")
def dns() -> None:
    """The federation's DNS records."""


def sorted_records(records: Sequence[RecordSet], zone: str) -> list[RecordSet]:
    """The zone's apex (SOA, NS) first, then by name and type."""
    apex = absolute(zone)
    return sorted(records, key=lambda r: (r.name != apex, r.name, _APEX_ORDER.get(r.type, 2), r.type))


def visible(records: Sequence[RecordSet], show_ownership: bool) -> list[RecordSet]:
    if show_ownership:
        return list(records)
    return [r for r in records if not (r.type == "TXT" and owned_name(r.name) is not None)]


def render_table(records: Sequence[RecordSet]) -> str:
    """NAME TYPE TTL DATA, values of one record set joined by ", " as the guide's listing shows them."""
    rows = [("NAME", "TYPE", "TTL", "DATA")] + [(r.name, r.type, str(r.ttl), ", ".join(r.data)) for r in records]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return "\n".join(f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:<{widths[2]}}  {row[3]}".rstrip()
                     for row in rows)


def render_json(records: Sequence[RecordSet], zone: str, source: str) -> str:
    return json.dumps({"zone": absolute(zone), "source": source,
                       "records": [{"name": r.name, "type": r.type, "ttl": r.ttl, "data": list(r.data)}
                                   for r in records]}, indent=2)


@dns.command("records")
@kubeconfig_option
@click.option("--context", default="federation-cluster", show_default=True,
              help="Kubeconfig context of the federation API.")
@click.option("--zone", default=None, help="The zone (default: the federation's).")
@click.option("--server", default=None, metavar="HOST:PORT",
              help="Read the zone by AXFR from this authoritative server instead of through the provider.")
@click.option("--tsig-key", default=None, metavar="NAME:ALGORITHM:SECRET",
              help="TSIG key for the --server transfer.")
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--show-ownership", is_flag=True, help="Also show kfed's _kfed-owner TXT ownership markers.")
def records(kubeconfig: Path | None, context: str, zone: str | None, server: str | None, tsig_key: str | None,
            output: str, show_ownership: bool) -> None:
    """Print the zone's records as NAME TYPE TTL DATA."""
    try:
        zone, source, listed = asyncio.run(_read(kubeconfig, context, zone, server, tsig_key))
    except click.ClickException:
        raise
    except Exception as e:  # noqa: BLE001 - a provider or connection failure, told plainly
        raise click.ClickException(str(e)) from e
    shown = sorted_records(visible(listed, show_ownership), zone)
    click.echo(render_json(shown, zone, source) if output == "json" else render_table(shown))


async def _read(kubeconfig: Path | None, context: str, zone: str | None, server: str | None,
                tsig_key: str | None) -> tuple[str, str, list[RecordSet]]:
    from kfed.cli.common import federation_client
    from kfed.controllers.membership import read_settings
    from kfed.dns.providers import DNSProvider, ProviderError, make_provider

    fed = None
    try:
        provider: DNSProvider
        if server is not None and zone is not None:
            provider = _axfr_provider(server, tsig_key)
        else:
            fed = await federation_client(kubeconfig, context)
            settings = await read_settings(fed)
            zone = zone or settings.dns_zone
            if server is not None:
                provider = _axfr_provider(server, tsig_key)
            elif settings.dns_provider == "builtin":
                from kfed.controllers.dns import FederationRecordSets

                provider = make_provider("builtin", {"store": FederationRecordSets(fed)})
            else:
                provider = make_provider(settings.dns_provider, settings.dns_provider_config)
        try:
            listed = await provider.list_records(zone)
        except ProviderError as e:
            raise click.ClickException(f"reading {zone} from the {provider.name} provider: {e}") from e
        finally:
            await provider.close()
        source = f"axfr {server}" if server is not None else provider.name
        return zone, source, listed
    finally:
        if fed is not None:
            await fed.close()


def _axfr_provider(server: str, tsig_key: str | None) -> Any:
    """A zone transfer from `server` (the rfc2136 provider's listing, which is exactly that)."""
    from kfed.cli.dns_server import parse_listen
    from kfed.dns.providers.rfc2136 import RFC2136Config, RFC2136Provider

    host, port = parse_listen(server)
    config: dict[str, Any] = {"server": host, "port": port, "timeout": 5.0}
    if tsig_key:
        name, _, rest = tsig_key.partition(":")
        algorithm, _, secret = rest.partition(":")
        if not (name and algorithm and secret):
            raise click.BadParameter("expected NAME:ALGORITHM:SECRET", param_hint="--tsig-key")
        config.update(tsig_key_name=name, tsig_algorithm=algorithm, tsig_secret=secret)
    return RFC2136Provider(RFC2136Config(**config))


if __name__ == "__main__":  # `python -m kfed.cli.dns records ...`, before the command is registered
    dns()
