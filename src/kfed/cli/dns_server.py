"""`kfed dns-server`: kfed's authoritative DNS server (the `builtin` provider) on its own.

    kfed dns-server --zone example.com. --records records.yaml --listen 127.0.0.1:5353 \\
        --tsig-key xfr:hmac-sha256:c2VjcmV0... --notify 127.0.0.1:5354

The records file (YAML, see kfed.dns.server.sources.parse_records_file) is re-read when it
changes; each change gets a new SOA serial, is journalled for IXFR and NOTIFYed to secondaries.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import click
import dns.name

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
    "--zone", "zone", default=None, help="Zone origin, e.g. example.com. (else the records file's `zone:`)."
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
    if records_path is None and zone is None:
        raise click.UsageError("give --zone, --records, or both")
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
    source: ZoneSource
    if records_path is not None:
        source = FileZoneSource(records_path, origin=zone, settings=overrides, poll_interval=poll_interval)
    else:
        assert zone is not None
        source = InMemoryZoneSource(ZoneSettings.for_origin(zone, **overrides))

    server = DNSServer(source, host, port, tsig_keyring=keyring or None, notify=targets, max_udp=max_udp)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await server.start()
        try:
            zones = ", ".join(str(z.origin) for z in server.zones) or "(none yet)"
            click.echo(f"kfed dns-server: serving {zones} on {host}:{server.port} (udp+tcp)", err=True)
            await stop.wait()
        finally:
            await server.stop()

    try:
        _run(run, use_uvloop)
    except Exception as e:
        raise click.ClickException(str(e)) from e


def _run(main: Callable[[], Coroutine[Any, Any, None]], use_uvloop: bool) -> None:
    loop_factory = None
    if use_uvloop:
        try:
            import uvloop

            loop_factory = uvloop.new_event_loop
        except ImportError:
            pass
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(main())


if __name__ == "__main__":  # `python -m kfed.cli.dns_server ...`, before the command is registered
    dns_server(sys.argv[1:])
