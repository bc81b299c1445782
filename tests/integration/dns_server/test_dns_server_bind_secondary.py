"""A real BIND 9 (named) as a secondary of our server: AXFR at start, NOTIFY + IXFR on change."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from pathlib import Path

import dns.asyncquery
import dns.flags
import dns.message
import dns.rcode
import pytest

from kfed.dns.server import DNSServer, InMemoryZoneSource, RecordSetSpec

NAMED_CONF = """
options {{
    directory "{dir}";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    pid-file "{dir}/named.pid";
    session-keyfile "{dir}/session.key";
    managed-keys-directory "{dir}";
    recursion no;
    dnssec-validation no;
    notify no;
    allow-notify {{ 127.0.0.1; }};
    allow-query {{ 127.0.0.1; }};
}};
controls {{ }};
key "{key_name}" {{
    algorithm hmac-sha256;
    secret "{secret}";
}};
zone "example.com" {{
    type secondary;
    file "{dir}/example.com.db";
    primaries {{ 127.0.0.1 port {primary_port} key "{key_name}"; }};
}};
"""


class Named:
    def __init__(self, process: asyncio.subprocess.Process, port: int, log: Path) -> None:
        self.process = process
        self.port = port
        self.log = log

    async def ask(self, name: str, rdtype: str) -> dns.message.Message:
        if self.process.returncode is not None:
            raise AssertionError(f"named exited ({self.process.returncode}):\n{self.log.read_text()[-3000:]}")
        return await dns.asyncquery.udp(
            dns.message.make_query(name, rdtype), "127.0.0.1", port=self.port, timeout=1
        )


@pytest.fixture
async def primary(source: InMemoryZoneSource, tools) -> AsyncIterator[DNSServer]:
    # The secondary's port must be known before our server starts (it NOTIFYs it).
    secondary_port = tools.free_port()
    server = DNSServer(
        source,
        "127.0.0.1",
        0,
        tsig_keyring=tools.keyring,
        notify=[f"127.0.0.1:{secondary_port}"],
        notify_first_timeout=0.5,
    )
    server.secondary_port = secondary_port  # type: ignore[attr-defined]
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def named(primary: DNSServer, tmp_path: Path, tools) -> AsyncIterator[Named]:
    binary = tools.need_binary("named")
    port: int = primary.secondary_port  # type: ignore[attr-defined]
    conf = tmp_path / "named.conf"
    conf.write_text(
        NAMED_CONF.format(
            dir=tmp_path,
            port=port,
            primary_port=primary.port,
            key_name=tools.key.name.to_text(omit_final_dot=True),
            secret=base64.b64encode(tools.key.secret).decode(),
        )
    )
    log = tmp_path / "named.log"
    with log.open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            binary, "-g", "-n", "1", "-c", str(conf), stdout=log_file, stderr=asyncio.subprocess.STDOUT
        )
    try:
        yield Named(process, port, log)
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()


async def test_bind_follows_our_changes(
    primary: DNSServer, named: Named, source: InMemoryZoneSource, tools
) -> None:
    first_serial = primary.zones.get(tools.origin).serial

    async def loaded() -> bool:
        response = await named.ask("www.example.com.", "A")
        return response.rcode() == dns.rcode.NOERROR and bool(response.flags & dns.flags.AA)

    await tools.eventually(loaded, timeout=20)
    soa = await named.ask("example.com.", "SOA")
    assert soa.answer[0][0].serial == first_serial
    assert primary.stats.axfr + primary.stats.ixfr_full >= 1  # the initial full transfer

    source.apply([RecordSetSpec("fresh", "A", 60, ("198.51.100.77",))], [("c1", "CNAME")])
    new_serial = (await primary.wait_for_zone(tools.origin, serial=first_serial + 1)).serial

    async def followed() -> bool:
        response = await named.ask("fresh.example.com.", "A")
        return response.rcode() == dns.rcode.NOERROR and [rd.address for rd in response.answer[0]] == [
            "198.51.100.77"
        ]

    await tools.eventually(followed, timeout=20)  # NOTIFY made it fetch at once (refresh is 60 s)
    gone = await named.ask("c1.example.com.", "A")
    assert gone.rcode() == dns.rcode.NXDOMAIN
    soa = await named.ask("example.com.", "SOA")
    assert soa.answer[0][0].serial == new_serial
    assert primary.stats.ixfr_incremental >= 1  # BIND asked for the diff and got it
    assert primary.notifier is not None
    assert primary.notifier.acknowledged[(primary.notifier.targets[0], tools.origin)] == new_serial
