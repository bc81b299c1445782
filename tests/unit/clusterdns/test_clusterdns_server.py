"""The cluster DNS listeners and upstream handling, on loopback, with tiny scripted upstreams."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable

import dns.asyncquery
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from kfed.controllers.clusterdns import ClusterDNSServer, Upstreams
from kfed.dns.clusterdns import ClusterDNSCore, UpstreamRoute
from tests.unit.clusterdns.test_clusterdns_answers import FED_TARGET, FEDERATED, make_index

Answerer = Callable[[dns.message.Message], dns.message.Message | None]


class ScriptedUpstream(asyncio.DatagramProtocol):
    """A UDP DNS server answering with `answer(query)` (None: stay silent); counts what it saw."""

    def __init__(self, answer: Answerer) -> None:
        self.answer = answer
        self.seen: list[str] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        query = dns.message.from_wire(data)
        self.seen.append(query.question[0].name.to_text())
        reply = self.answer(query)
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply.to_wire(), addr)


async def start_upstream(
    answer: Answerer,
) -> tuple[ScriptedUpstream, UpstreamRoute, asyncio.DatagramTransport]:
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: ScriptedUpstream(answer), local_addr=("127.0.0.1", 0)
    )
    port = transport.get_extra_info("sockname")[1]
    return protocol, UpstreamRoute.parse(f"127.0.0.1:{port}"), transport


def records(zone: dict[str, list[tuple[str, str]]]) -> Answerer:
    """An authoritative-like upstream: name -> [(type, data)]; NXDOMAIN otherwise; CNAMEs not followed."""

    def answer(query: dns.message.Message) -> dns.message.Message:
        reply = dns.message.make_response(query)
        q = query.question[0]
        found = zone.get(q.name.to_text().lower())
        if found is None:
            reply.set_rcode(dns.rcode.NXDOMAIN)
            return reply
        for rtype, data in found:
            if rtype == "CNAME" or dns.rdatatype.from_text(rtype) == q.rdtype:
                reply.answer.append(dns.rrset.from_text(q.name, 60, "IN", rtype, data))
        return reply

    return answer


@pytest.fixture
async def servers() -> AsyncIterator[list[object]]:
    started: list[object] = []
    yield started
    for item in started:
        if isinstance(item, ClusterDNSServer):
            await item.stop()
        else:
            item.close()  # type: ignore[attr-defined]


async def start_server(
    started: list[object], routes: list[UpstreamRoute], upstream_timeout: float = 2.0
) -> ClusterDNSServer:
    core = ClusterDNSCore(make_index(), recursion=bool(routes))
    server = ClusterDNSServer(core, Upstreams(routes), upstream_timeout=upstream_timeout)
    await server.start()
    started.append(server)
    return server


async def ask(
    server: ClusterDNSServer, name: str, rdtype: str = "A", tcp: bool = False
) -> dns.message.Message:
    q = dns.message.make_query(name, rdtype)
    if tcp:
        return await dns.asyncquery.tcp(q, "127.0.0.1", port=server.port, timeout=5)
    return await dns.asyncquery.udp(q, "127.0.0.1", port=server.port, timeout=5)


async def test_forwarding_by_zone(servers: list[object]) -> None:
    default, default_route, t1 = await start_upstream(records({"www.example.org.": [("A", "192.0.2.1")]}))
    fed, fed_route, t2 = await start_upstream(records({"www.example.com.": [("A", "192.0.2.2")]}))
    servers += [t1, t2]
    fed_route = UpstreamRoute("example.com.", fed_route.host, fed_route.port)
    server = await start_server(servers, [default_route, fed_route])
    for tcp in (False, True):
        msg = await ask(server, "www.example.org.", tcp=tcp)
        assert [rr.to_text() for r in msg.answer for rr in r] == ["192.0.2.1"]
        msg = await ask(server, "www.example.com.", tcp=tcp)
        assert [rr.to_text() for r in msg.answer for rr in r] == ["192.0.2.2"]
    assert default.seen == ["www.example.org."] * 2 and fed.seen == ["www.example.com."] * 2
    # local names never reach an upstream
    assert (await ask(server, "nginx.mynamespace.svc.cluster.local.")).rcode() == dns.rcode.NOERROR
    assert len(default.seen) == 2


async def test_next_upstream_when_one_fails(servers: list[object]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as hole:
        hole.bind(("127.0.0.1", 0))
        silent = UpstreamRoute.parse(f"127.0.0.1:{hole.getsockname()[1]}")

        def refuse(query: dns.message.Message) -> dns.message.Message:
            reply = dns.message.make_response(query)
            reply.set_rcode(dns.rcode.REFUSED)
            return reply

        refusing, refusing_route, t1 = await start_upstream(refuse)
        good, good_route, t2 = await start_upstream(records({"www.example.org.": [("A", "192.0.2.1")]}))
        servers += [t1, t2]
        server = await start_server(servers, [silent, refusing_route, good_route], upstream_timeout=1.5)
        msg = await ask(server, "www.example.org.")
        assert msg.rcode() == dns.rcode.NOERROR and refusing.seen and good.seen


async def test_chase_through_authoritative_upstreams(servers: list[object]) -> None:
    region = "nginx.mynamespace.myfederation.svc.us-central1.example.com."
    elb = "a1b2.us-east-1.elb.amazonaws.com."
    auth, route, t = await start_upstream(
        records({FED_TARGET: [("CNAME", region)], region: [("CNAME", elb)], elb: [("A", "192.0.2.9")]})
    )
    servers.append(t)
    server = await start_server(servers, [route])
    msg = await ask(server, FEDERATED)
    assert msg.rcode() == dns.rcode.NOERROR
    assert [(r.name.to_text(), dns.rdatatype.to_text(r.rdtype)) for r in msg.answer] == [
        (FEDERATED, "CNAME"),
        (FED_TARGET, "CNAME"),
        (region, "CNAME"),
        (elb, "A"),
    ]
    assert auth.seen == [FED_TARGET, region, elb]
    assert server.stats.upstream_failures == 0


async def test_silent_upstream_gives_servfail_in_bounded_time(servers: list[object]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as hole:
        hole.bind(("127.0.0.1", 0))
        silent = UpstreamRoute.parse(f"127.0.0.1:{hole.getsockname()[1]}")
        server = await start_server(servers, [silent], upstream_timeout=0.3)
        for name, tcp in (("www.example.org.", False), (FEDERATED, False), ("www.example.org.", True)):
            started = time.monotonic()
            msg = await ask(server, name, tcp=tcp)
            elapsed = time.monotonic() - started
            assert msg.rcode() == dns.rcode.SERVFAIL
            assert 0.25 <= elapsed < 1.5, elapsed
        assert server.stats.upstream_failures == 3


async def test_shedding_keeps_local_answers_fast(servers: list[object]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as hole:
        hole.bind(("127.0.0.1", 0))
        silent = UpstreamRoute.parse(f"127.0.0.1:{hole.getsockname()[1]}")
        server = await start_server(servers, [silent], upstream_timeout=5.0)
        server.max_pending = 2
        pending = [asyncio.ensure_future(ask(server, f"n{i}.example.org.")) for i in range(2)]
        deadline = time.monotonic() + 5
        while server.pending < 2:
            assert time.monotonic() < deadline, "the first queries never reached the server"
            await asyncio.sleep(0.01)
        started = time.monotonic()
        shed = await ask(server, "n3.example.org.")
        local = await ask(server, "nginx.mynamespace.svc.cluster.local.")
        assert time.monotonic() - started < 1.0
        assert shed.rcode() == dns.rcode.SERVFAIL and server.stats.shed >= 1
        assert local.rcode() == dns.rcode.NOERROR and local.flags & dns.flags.AA
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


async def test_port_is_released(servers: list[object]) -> None:
    server = await start_server(servers, [])
    port = server.port
    await server.stop()
    servers.remove(server)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, socket.socket() as tcp:
        udp.bind(("127.0.0.1", port))
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        tcp.bind(("127.0.0.1", port))
