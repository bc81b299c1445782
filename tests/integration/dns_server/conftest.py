"""The authoritative server on 127.0.0.1 with a free port, plus helpers to query it for real."""

from __future__ import annotations

import asyncio
import base64
import shutil
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import dns.name
import pytest

from kfed.dns.server import DNSServer, InMemoryZoneSource, RecordSetSpec, ZoneSettings, parse_tsig_key

T = TypeVar("T")

SECRET = base64.b64encode(b"kfed-test-transfer-secret-32byte").decode()
KEY_SPEC = f"xfr-key:hmac-sha256:{SECRET}"
KEY = parse_tsig_key(KEY_SPEC)
KEYRING = {KEY.name: KEY}

RECORDS = [
    RecordSetSpec("ns1", "A", 300, ("127.0.0.1",)),
    RecordSetSpec("www", "A", 300, ("192.0.2.1", "192.0.2.2")),
    RecordSetSpec("c1", "CNAME", 60, ("c2",)),
    RecordSetSpec("c2", "CNAME", 60, ("www",)),
    RecordSetSpec("deep.a.b", "A", 60, ("192.0.2.3",)),
    RecordSetSpec("big", "TXT", 60, tuple(f'"{"z" * 200}-{i}"' for i in range(12))),
]


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 right now (for peers that need one given)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return int(port)
    raise RuntimeError("no free port")


async def eventually(
    check: Callable[[], Awaitable[T | None]], *, timeout: float = 15.0, interval: float = 0.05
) -> T:
    """Poll `check` until it returns something truthy; fail after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last_error: Exception | None = None
    while True:
        try:
            result = await check()
            if result:
                return result
        except Exception as e:  # the peer may not be up yet
            last_error = e
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last error: {last_error!r})")
        await asyncio.sleep(interval)


async def run(*argv: str, timeout: float = 20.0) -> tuple[int, str, str]:
    """Run a command without blocking the loop the server under test runs on."""
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def dig(port: int, *args: str) -> str:
    code, out, err = await run("dig", "@127.0.0.1", "-p", str(port), "+time=3", "+tries=1", *args)
    assert code in (0, 9), err  # 9: no reply (the test asserts on the output)
    return out


@pytest.fixture
def zone_settings() -> ZoneSettings:
    return ZoneSettings.for_origin("example.com.", minimum=30, refresh=60, retry=10)


@pytest.fixture
def source(zone_settings: ZoneSettings) -> InMemoryZoneSource:
    return InMemoryZoneSource(zone_settings, RECORDS)


@pytest.fixture
async def server(source: InMemoryZoneSource) -> AsyncIterator[DNSServer]:
    srv = DNSServer(source, "127.0.0.1", 0, tsig_keyring=KEYRING, tcp_idle_timeout=2.0)
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


def need_binary(name: str) -> str:
    path = shutil.which(name) or shutil.which(f"/usr/sbin/{name}")
    if path is None:
        pytest.fail(f"{name} is not installed: run `make sysdeps` (make test does)")
    return path


class Tools:
    """The helpers above, handed to tests as the `tools` fixture (test modules here are not a
    package, so they cannot import from conftest)."""

    key = KEY
    key_spec = KEY_SPEC
    keyring = KEYRING
    records = RECORDS
    origin = dns.name.from_text("example.com.")
    free_port = staticmethod(free_port)
    eventually = staticmethod(eventually)
    run = staticmethod(run)
    dig = staticmethod(dig)
    need_binary = staticmethod(need_binary)


@pytest.fixture
def tools() -> type[Tools]:
    return Tools
