"""Fixtures for the DNS provider tests: real BIND 9 and Knot servers (rfc2136_peers), and the
Route 53 API of moto's server mode behind a throttling proxy (route53_peers), and a fake of the
Cloud DNS REST API (clouddns_fake)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.integration.dns_providers.clouddns_fake import FakeCloudDNS
from tests.integration.dns_providers.rfc2136_peers import (
    DNSServer,
    start_bind,
    start_knot,
    stop,
    wait_for_soa,
)
from tests.integration.dns_providers.route53_peers import MotoRoute53, ThrottlingProxy


@pytest.fixture(params=["bind", "knot"])
def dns_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DNSServer]:
    start = start_bind if request.param == "bind" else start_knot
    server: DNSServer | None = None
    for attempt in range(3):  # another process may take the free port before the server binds it
        server = start(tmp_path / f"try{attempt}")
        try:
            wait_for_soa(server)
            break
        except RuntimeError:
            stop(server.process)
            for path in server.cleanup:
                shutil.rmtree(path, ignore_errors=True)
            if attempt == 2:
                raise
    assert server is not None
    try:
        yield server
    finally:
        stop(server.process)
        for path in server.cleanup:
            shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def moto_route53() -> Iterator[MotoRoute53]:
    server = MotoRoute53()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def throttling_proxy(moto_route53: MotoRoute53) -> Iterator[ThrottlingProxy]:
    proxy = ThrottlingProxy(moto_route53.port)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()


@pytest.fixture
async def fake_clouddns() -> AsyncIterator[FakeCloudDNS]:
    fake = FakeCloudDNS("kfed-test")
    fake.add_zone("example-dot-com", "example.com.")
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()
