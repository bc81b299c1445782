"""A real BIND 9 for the end-to-end DNS tests (started by tests.integration's rfc2136_peers), which
the tests can also stop and start again on the same port, and edit by hand as an operator would."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dns.query
import dns.rcode
import dns.tsig
import dns.update

from tests.integration.dns_providers.rfc2136_peers import DNSServer, need, start_bind, stop, wait_for_soa


@contextmanager
def running_bind(tmp: Path) -> Iterator[DNSServer]:
    server: DNSServer | None = None
    for attempt in range(3):  # another process may take the free port before named binds it
        server = start_bind(tmp / f"bind{attempt}")
        try:
            wait_for_soa(server)
            break
        except RuntimeError:
            stop(server.process)
            if attempt == 2:
                raise
    assert server is not None
    try:
        yield server
    finally:
        stop(server.process)
        for path in server.cleanup:
            shutil.rmtree(path, ignore_errors=True)


def stop_bind(server: DNSServer) -> None:
    stop(server.process)


def start_again(server: DNSServer) -> None:
    """named again with the same configuration, port and zone (its journal keeps the updates)."""
    conf = server.log.parent / "named.conf"
    with server.log.open("ab") as out:
        server.process = subprocess.Popen([need("named"), "-g", "-4", "-n", "1", "-c", str(conf)], stdout=out,
                                          stderr=out, stdin=subprocess.DEVNULL, cwd=conf.parent)
    wait_for_soa(server)


def provider_config(server: DNSServer) -> dict[str, object]:
    return {"server": server.address, "port": server.port, "tsig_key_name": server.key_name,
            "tsig_secret": server.secret, "tsig_algorithm": "hmac-sha256", "timeout": 2.0}


def dig_key(server: DNSServer) -> str:
    return f"hmac-sha256:{server.key_name}:{server.secret}"


def by_hand(server: DNSServer, *, add: tuple[str, int, str, str] | None = None,
            delete: tuple[str, str] | None = None) -> None:
    """An operator's dynamic update (nsupdate-style), outside kfed."""
    key = dns.tsig.Key(server.key_name, server.secret, dns.tsig.HMAC_SHA256)
    update = dns.update.UpdateMessage(server.zone, keyring=key)
    if add is not None:
        update.add(*add)
    if delete is not None:
        update.delete(*delete)
    response = dns.query.tcp(update, server.address, port=server.port, timeout=5.0)
    assert response.rcode() == dns.rcode.NOERROR, dns.rcode.to_text(response.rcode())
