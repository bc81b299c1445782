"""`kfed dns-server`: kfed's authoritative DNS server (the `builtin` provider) on its own.

Two ways to feed it a zone:

    # what the federation's DNS controller wrote (its DNSRecordSet objects), the usual way; run
    # as many replicas as you like, they all serve the same records under the same SOA serial
    kfed dns-server --context federation-cluster --listen 0.0.0.0:53 --notify 192.0.2.53:53

    # a records file (YAML, see kfed.dns.server.sources.parse_records_file), re-read when it changes
    kfed dns-server --zone example.com. --records records.yaml --listen 127.0.0.1:5353 \\
        --tsig-key xfr:hmac-sha256:c2VjcmV0... --notify 127.0.0.1:5354

Either way each change gets a new SOA serial, is journalled for IXFR and NOTIFYed to secondaries.
In the federation mode the zone is the federation's (the federation-system/kfed-federation
ConfigMap that `kfed init` wrote) unless --zone says otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from pathlib import Path
from typing import Any

import click
import dns.name

from kfed.cli import eventloop
from kfed.cli.common import kubeconfig_option
from kfed.cli.logsetup import setup_logging


def parse_listen(value: str) -> tuple[str, int]:
    """`host:port`, `[v6]:port`, or `:port` (127.0.0.1)."""
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port = rest.removeprefix(":")
    else:
        host, _, port = value.rpartition(":")
    if not port.isdigit() or not 0 <= int(port) < 65536:
        raise click.BadParameter(f"expected host:port, got {value!r}")
    return host or "127.0.0.1", int(port)


@click.command("dns-server")
@click.option(
    "--listen", default="127.0.0.1:5353", show_default=True, help="host:port for UDP and TCP (port 0: any)."
)
@click.option(
    "--zone",
    "zone",
    default=None,
    help="Zone origin, e.g. example.com. (else the records file's `zone:`, or the federation's zone).",
)
@kubeconfig_option
@click.option(
    "--context",
    "context",
    default=None,
    help="Serve the zone the federation API at this kubeconfig context holds (e.g. federation-cluster).",
)
@click.option(
    "--records",
    "records_path",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="YAML file of record sets, re-read when it changes.",
)
@click.option(
    "--ns", "ns_names", multiple=True, help="Name server of the zone (repeatable; default ns1.<zone>)."
)
@click.option("--hostmaster", default=None, help="SOA RNAME (default hostmaster.<zone>).")
@click.option(
    "--tsig-key",
    "tsig_keys",
    multiple=True,
    help="name:algorithm:base64secret or a BIND key file (repeatable). Transfers then need a key.",
)
@click.option(
    "--notify", "notify", multiple=True, help="Secondary to NOTIFY on every change, host:port (repeatable)."
)
@click.option("--notify-key", default=None, help="Sign NOTIFY messages with this key (one of --tsig-key).")
@click.option(
    "--max-udp", default=1232, show_default=True, type=click.IntRange(512, 65535), help="EDNS UDP size."
)
@click.option(
    "--poll-interval", default=1.0, show_default=True, type=float, help="Seconds between file checks."
)
@click.option(
    "--uvloop/--no-uvloop", "use_uvloop", default=True, show_default=True, help="Use uvloop when installed."
)
@click.option("--log-level", default="warning", show_default=True)
def dns_server(
    listen: str,
    zone: str | None,
    kubeconfig: Path | None,
    context: str | None,
    records_path: Path | None,
    ns_names: tuple[str, ...],
    hostmaster: str | None,
    tsig_keys: tuple[str, ...],
    notify: tuple[str, ...],
    notify_key: str | None,
    max_udp: int,
    poll_interval: float,
    use_uvloop: bool,
    log_level: str,
) -> None:
    """Serve a zone authoritatively over UDP and TCP, with AXFR/IXFR and NOTIFY for secondaries."""
    from kfed.dns.server import (
        DNSServer,
        FileZoneSource,
        InMemoryZoneSource,
        NotifyTarget,
        TSIGKeyError,
        ZoneSettings,
        ZoneSource,
        load_keys,
    )

    setup_logging(log_level)
    host, port = parse_listen(listen)
    from_federation = context is not None or kubeconfig is not None
    if from_federation and records_path is not None:
        raise click.UsageError("give either --records or the federation's --context, not both")
    if records_path is None and zone is None and not from_federation:
        raise click.UsageError("give --records FILE, the federation's --context, or --zone (an empty zone)")
    try:
        keyring = load_keys(tsig_keys)
    except (TSIGKeyError, OSError) as e:
        raise click.BadParameter(str(e), param_hint="--tsig-key") from e
    notify_key_name = dns.name.from_text(notify_key) if notify_key else None
    if notify_key_name is not None and notify_key_name not in keyring:
        raise click.BadParameter(f"{notify_key} is not one of the --tsig-key keys", param_hint="--notify-key")
    try:
        targets = [NotifyTarget.parse(t, key_name=notify_key_name) for t in notify]
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--notify") from e

    overrides: dict[str, Any] = {}
    if ns_names:
        overrides["ns_names"] = list(ns_names)
    if hostmaster:
        overrides["hostmaster"] = hostmaster

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        async with contextlib.AsyncExitStack() as cleanup:
            source: ZoneSource
            if from_federation:
                source = await _federation_source(cleanup, kubeconfig, context or "federation-cluster", zone,
                                                  overrides)
            elif records_path is not None:
                source = FileZoneSource(records_path, origin=zone, settings=overrides, poll_interval=poll_interval)
            else:
                assert zone is not None
                source = InMemoryZoneSource(ZoneSettings.for_origin(zone, **overrides))
            server = DNSServer(source, host, port, tsig_keyring=keyring or None, notify=targets, max_udp=max_udp)
            await server.start()
            cleanup.push_async_callback(server.stop)
            zones = ", ".join(str(z.origin) for z in server.zones) or "(none yet)"
            click.echo(f"kfed dns-server: serving {zones} on {host}:{server.port} (udp+tcp)", err=True)
            await stop.wait()

    try:
        eventloop.run(run(), use_uvloop=use_uvloop)
    except Exception as e:
        raise click.ClickException(str(e)) from e


async def _federation_source(cleanup: contextlib.AsyncExitStack, kubeconfig: Path | None, context: str,
                             zone: str | None, overrides: dict[str, Any]) -> Any:
    """A RecordSetZoneSource following the federation API at `context`, started."""
    from kfed.cli.common import federation_client
    from kfed.controllers.membership import read_settings
    from kfed.controllers.zonesource import RecordSetZoneSource
    from kfed.dns.server import ZoneSettings
    from kfed.members.client import ApiCallError, Unreachable

    fed = await federation_client(kubeconfig, context)
    cleanup.push_async_callback(fed.close)
    if zone is None:
        try:
            zone = (await read_settings(fed)).dns_zone
        except (ApiCallError, Unreachable) as e:
            raise click.ClickException(f"cannot read the federation's DNS zone (give --zone): {e}") from e
    source = RecordSetZoneSource(fed, ZoneSettings.for_origin(zone, **overrides))
    # Not waiting here: the server waits a while for the first snapshot and then serves anyway,
    # so replicas come up (and answer REFUSED for the zone) while the API is still unreachable.
    await source.start(wait=False)
    cleanup.push_async_callback(source.stop)
    return source


if __name__ == "__main__":  # `python -m kfed.cli.dns_server ...`, before the command is registered
    dns_server(sys.argv[1:])
