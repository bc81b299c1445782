"""The server over real sockets on 127.0.0.1: dnspython clients and the real `dig`."""

from __future__ import annotations

import asyncio
import re
import struct

import dns.asyncquery
import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from kfed.dns.server import DNSServer, InMemoryZoneSource, RecordSetSpec, ZoneSettings


def _status(dig_output: str) -> str:
    match = re.search(r"status: (\w+)", dig_output)
    assert match, dig_output
    return match.group(1)


def _section(dig_output: str, name: str) -> list[str]:
    """The record lines of one section of dig's output, whitespace-normalised."""
    match = re.search(rf";; {name} SECTION:\n(.*?)(?:\n\n|\Z)", dig_output, re.S)
    return [" ".join(line.split()) for line in match.group(1).splitlines()] if match else []


async def test_dnspython_over_udp_and_tcp(server: DNSServer) -> None:
    query = dns.message.make_query("WWW.example.com.", "A")
    for send in (dns.asyncquery.udp, dns.asyncquery.tcp):
        response = await send(query, "127.0.0.1", port=server.port, timeout=5)
        assert response.rcode() == dns.rcode.NOERROR and response.flags & dns.flags.AA
        assert sorted(rd.address for rd in response.answer[0]) == ["192.0.2.1", "192.0.2.2"]
        assert response.question[0].name.to_text() == "WWW.example.com."
    assert server.stats.udp_queries >= 1 and server.stats.tcp_queries >= 1


async def test_dig_soa_ns_and_a(server: DNSServer, tools) -> None:
    soa = await tools.dig(server.port, "example.com.", "SOA", "+norec")
    assert _status(soa) == "NOERROR" and " aa" in soa.split("flags:")[1].split(";")[0]
    serial = server.zones.get(tools.origin).serial
    assert _section(soa, "ANSWER") == [
        f"example.com. 3600 IN SOA ns1.example.com. hostmaster.example.com. {serial} 60 10 1209600 30"
    ]
    ns = await tools.dig(server.port, "example.com.", "NS", "+norec")
    assert _section(ns, "ANSWER") == ["example.com. 3600 IN NS ns1.example.com."]
    assert _section(ns, "ADDITIONAL") == ["ns1.example.com. 300 IN A 127.0.0.1"]
    a = await tools.dig(server.port, "www.example.com.", "A", "+norec")
    assert sorted(_section(a, "ANSWER")) == [
        "www.example.com. 300 IN A 192.0.2.1",
        "www.example.com. 300 IN A 192.0.2.2",
    ]
    assert "WARNING: recursion requested but not available" not in a  # +norec


async def test_dig_cname_chain(server: DNSServer, tools) -> None:
    out = await tools.dig(server.port, "c1.example.com.", "A")
    answer = _section(out, "ANSWER")
    assert answer[:2] == [
        "c1.example.com. 60 IN CNAME c2.example.com.",
        "c2.example.com. 60 IN CNAME www.example.com.",
    ]
    assert sorted(answer[2:]) == [
        "www.example.com. 300 IN A 192.0.2.1",
        "www.example.com. 300 IN A 192.0.2.2",
    ]


async def test_dig_nxdomain_nodata_and_empty_non_terminal(server: DNSServer, tools) -> None:
    serial = server.zones.get(tools.origin).serial
    soa_line = f"example.com. 30 IN SOA ns1.example.com. hostmaster.example.com. {serial} 60 10 1209600 30"
    nx = await tools.dig(server.port, "missing.example.com.", "A")
    assert _status(nx) == "NXDOMAIN" and _section(nx, "AUTHORITY") == [soa_line]
    nodata = await tools.dig(server.port, "www.example.com.", "MX")
    assert _status(nodata) == "NOERROR" and not _section(nodata, "ANSWER")
    assert _section(nodata, "AUTHORITY") == [soa_line]
    ent = await tools.dig(server.port, "a.b.example.com.", "A")
    assert _status(ent) == "NOERROR" and _section(ent, "AUTHORITY") == [soa_line]


async def test_dig_refused_outside_the_zone_and_no_recursion(server: DNSServer, tools) -> None:
    out = await tools.dig(server.port, "www.example.org.", "A")
    assert _status(out) == "REFUSED"
    flags = out.split("flags:")[1].split(";")[0]
    assert " ra" not in flags and " aa" not in flags


async def test_dig_any_is_minimal(server: DNSServer, tools) -> None:
    out = await tools.dig(server.port, "example.com.", "ANY")
    assert [line.split()[3] for line in _section(out, "ANSWER")] == ["SOA"]


async def test_edns_echo_with_dig_cookies_and_do(server: DNSServer, tools) -> None:
    out = await tools.dig(server.port, "www.example.com.", "A", "+dnssec", "+bufsize=4096")
    assert re.search(r"EDNS: version: 0, flags: do; udp: 1232", out), out
    plain = await tools.dig(server.port, "www.example.com.", "A", "+noedns")
    assert "OPT PSEUDOSECTION" not in plain and _status(plain) == "NOERROR"
    badvers = await tools.dig(server.port, "www.example.com.", "A", "+edns=1", "+noednsnegotiation")
    assert _status(badvers) == "BADVERS"


async def test_truncation_then_tcp_retry(server: DNSServer, tools) -> None:
    truncated = await tools.dig(server.port, "big.example.com.", "TXT", "+ignore", "+noedns")
    assert " tc" in truncated.split("flags:")[1].split(";")[0]
    assert not _section(truncated, "ANSWER")
    retried = await tools.dig(server.port, "big.example.com.", "TXT", "+bufsize=1232")
    assert "Truncated, retrying in TCP mode" in retried
    assert len(_section(retried, "ANSWER")) == 12 and "(TCP)" in retried


async def test_axfr_needs_the_tsig_key(server: DNSServer, tools) -> None:
    refused = await tools.dig(server.port, "example.com.", "AXFR")
    assert "Transfer failed" in refused
    wrong_secret = await tools.dig(
        server.port, "example.com.", "AXFR", "-y", f"hmac-sha256:xfr-key:{'A' * 43}="
    )
    assert "Transfer failed" in wrong_secret and " BADSIG " in wrong_secret
    unknown_key = await tools.dig(
        server.port, "example.com.", "AXFR", "-y", f"hmac-sha256:nobody:{'A' * 43}="
    )
    assert "Transfer failed" in unknown_key and " BADKEY " in unknown_key
    key_name, _, secret = tools.key_spec.split(":", 2)
    ok = await tools.dig(server.port, "example.com.", "AXFR", "-y", f"hmac-sha256:{key_name}:{secret}")
    records = [line for line in ok.splitlines() if line and not line.startswith(";")]
    types = [line.split()[3] for line in records if line.split()[3] != "TSIG"]
    assert types[0] == "SOA" and types[-1] == "SOA"
    assert len(types) == server.zones.get(tools.origin).record_count + 1
    assert "tsig verify failure" not in ok.lower()
    assert server.stats.axfr == 1


async def test_ixfr_sends_only_the_changes(server: DNSServer, source: InMemoryZoneSource, tools) -> None:
    before = server.zones.get(tools.origin).serial
    source.apply([RecordSetSpec("new", "A", 60, ("192.0.2.50",))], [("deep.a.b", "A")])
    after = (await server.wait_for_zone(tools.origin, serial=before + 1)).serial
    key_name, _, secret = tools.key_spec.split(":", 2)
    out = await tools.dig(
        server.port, "example.com.", f"IXFR={before}", "-y", f"hmac-sha256:{key_name}:{secret}"
    )
    lines = [" ".join(line.split()) for line in out.splitlines() if line and not line.startswith(";")]
    lines = [line for line in lines if " TSIG " not in line]
    serials = [int(line.split()[6]) for line in lines if line.split()[3] == "SOA"]
    assert serials == [after, before, after, after]
    assert "deep.a.b.example.com. 60 IN A 192.0.2.3" in lines
    assert "new.example.com. 60 IN A 192.0.2.50" in lines
    assert len(lines) == 6
    assert server.stats.ixfr_incremental == 1


async def test_source_changes_are_served_at_once(
    server: DNSServer, source: InMemoryZoneSource, tools
) -> None:
    source.apply([RecordSetSpec("www", "A", 300, ("198.51.100.10",))])

    async def updated() -> bool:
        out = await tools.dig(server.port, "www.example.com.", "A")
        return _section(out, "ANSWER") == ["www.example.com. 300 IN A 198.51.100.10"]

    await tools.eventually(updated, timeout=5)


async def _tcp_exchange(port: int, queries: list[dns.message.Message]) -> list[dns.message.Message]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        # pipelined: every query before reading any answer
        for query in queries:
            wire = query.to_wire()
            writer.write(struct.pack("!H", len(wire)) + wire)
        await writer.drain()
        responses = []
        for _ in queries:
            (length,) = struct.unpack("!H", await asyncio.wait_for(reader.readexactly(2), 5))
            responses.append(dns.message.from_wire(await reader.readexactly(length)))
        return responses
    finally:
        writer.close()
        await writer.wait_closed()


async def test_several_queries_on_one_tcp_connection(server: DNSServer) -> None:
    queries = [
        dns.message.make_query(name, "A")
        for name in ("www.example.com.", "c1.example.com.", "no.example.com.")
    ]
    responses = await _tcp_exchange(server.port, queries)
    assert [r.id for r in responses] == [q.id for q in queries]
    assert [r.rcode() for r in responses] == [dns.rcode.NOERROR, dns.rcode.NOERROR, dns.rcode.NXDOMAIN]
    assert server.stats.tcp_connections == 1


async def test_idle_tcp_connections_are_closed(source: InMemoryZoneSource) -> None:
    async with DNSServer(source, "127.0.0.1", 0, tcp_idle_timeout=0.2) as srv:
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        try:
            assert await asyncio.wait_for(reader.read(), 5) == b""  # EOF: the server hung up
        finally:
            writer.close()


async def test_two_servers_on_free_ports_and_stop_releases_the_port(source: InMemoryZoneSource) -> None:
    async with DNSServer(source, "127.0.0.1", 0) as one, DNSServer(source, "127.0.0.1", 0) as two:
        assert one.port != two.port
        port = one.port
    again = DNSServer(source, "127.0.0.1", port)
    await again.start()  # the port is free again for UDP and TCP
    await again.stop()


class _Secondary(asyncio.DatagramProtocol):
    """A fake secondary that ignores the first `ignore` NOTIFYs, then acknowledges."""

    def __init__(self, ignore: int) -> None:
        self.ignore = ignore
        self.received: list[dns.message.Message] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport) -> None:  # type: ignore[no-untyped-def]
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:  # type: ignore[no-untyped-def]
        message = dns.message.from_wire(data)
        self.received.append(message)
        if len(self.received) > self.ignore:
            assert self.transport is not None
            self.transport.sendto(dns.message.make_response(message).to_wire(), addr)


async def test_notify_is_retried_until_acknowledged(tools) -> None:
    loop = asyncio.get_running_loop()
    transport, secondary = await loop.create_datagram_endpoint(
        lambda: _Secondary(ignore=2), local_addr=("127.0.0.1", 0)
    )
    port = transport.get_extra_info("sockname")[1]
    source = InMemoryZoneSource(ZoneSettings.for_origin("example.com."), tools.records)
    try:
        async with DNSServer(
            source, "127.0.0.1", 0, notify=[f"127.0.0.1:{port}"], notify_first_timeout=0.05
        ) as server:
            assert server.notifier is not None
            target = server.notifier.targets[0]
            # the start-up NOTIFY, then one per change
            first = await tools.eventually(lambda: _acked(server, target, tools.origin), timeout=10)
            assert len(secondary.received) == 3  # two ignored, the third acknowledged
            source.apply([RecordSetSpec("www", "A", 60, ("192.0.2.99",))])
            new_serial = (await server.wait_for_zone(tools.origin, serial=first + 1)).serial

            async def acked_new() -> bool:
                return server.notifier.acknowledged.get((target, tools.origin)) == new_serial  # type: ignore[union-attr]

            await tools.eventually(acked_new, timeout=10)
            last = secondary.received[-1]
            assert last.opcode() == dns.opcode.NOTIFY and last.flags & dns.flags.AA
            assert last.question[0].rdtype == dns.rdatatype.SOA
            assert last.answer[0][0].serial == new_serial
    finally:
        transport.close()


async def _acked(server: DNSServer, target, origin) -> int | None:  # type: ignore[no-untyped-def]
    assert server.notifier is not None
    return server.notifier.acknowledged.get((target, origin))


@pytest.mark.parametrize(
    "garbage", [b"\x00" * 5, b"\xff" * 40, b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07"]
)
async def test_garbage_over_udp_gets_formerr_or_nothing(server: DNSServer, garbage: bytes) -> None:
    loop = asyncio.get_running_loop()
    replies: asyncio.Queue[bytes] = asyncio.Queue()

    class Client(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr) -> None:  # type: ignore[no-untyped-def]
            replies.put_nowait(data)

    transport, _ = await loop.create_datagram_endpoint(Client, remote_addr=("127.0.0.1", server.port))
    try:
        transport.sendto(garbage)
        # then a good query, so "nothing" is observable as "the next reply is the good one"
        good = dns.message.make_query("www.example.com.", "A")
        transport.sendto(good.to_wire())
        first = await asyncio.wait_for(replies.get(), 5)
        if len(garbage) < 12 or garbage[2] & 0x80:
            assert dns.message.from_wire(first).id == good.id
        else:
            assert first[:2] == garbage[:2] and struct.unpack("!H", first[2:4])[0] & 0xF == dns.rcode.FORMERR
            assert dns.message.from_wire(await asyncio.wait_for(replies.get(), 5)).id == good.id
    finally:
        transport.close()
    assert server.stats.internal_errors == 0
