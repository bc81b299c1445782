"""The load-balancer hostname DNS responder."""

from __future__ import annotations

import dns.asyncquery
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype

from kfed.sim.lbdns import LoadBalancerDns

HOST = "web-0123456789abcdef.us-east1.elb.sim.kfed.test"


def ask(server: LoadBalancerDns, name: str, rdtype: str = "A") -> dns.message.Message:
    wire = server.answer(dns.message.make_query(name, rdtype).to_wire())
    assert wire is not None
    return dns.message.from_wire(wire)


def test_answers_registered_hostnames() -> None:
    server = LoadBalancerDns()
    server.set(HOST, "127.101.0.2")
    r = ask(server, HOST)
    assert r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AA
    assert [rd.address for rd in r.answer[0]] == ["127.101.0.2"]
    assert server.lookup(HOST) == "127.101.0.2"
    nodata = ask(server, HOST, "AAAA")
    assert nodata.rcode() == dns.rcode.NOERROR and not nodata.answer and nodata.authority[0].rdtype == dns.rdatatype.SOA
    server.remove(HOST)
    gone = ask(server, HOST)
    assert gone.rcode() == dns.rcode.NXDOMAIN and gone.authority[0].rdtype == dns.rdatatype.SOA
    assert server.lookup(HOST) is None


def test_refuses_other_zones_and_ignores_garbage() -> None:
    server = LoadBalancerDns()
    assert ask(server, "example.com").rcode() == dns.rcode.REFUSED
    assert ask(server, "elb.sim.kfed.test", "SOA").answer[0].rdtype == dns.rdatatype.SOA
    assert server.answer(b"\x00\x01garbage") is None


async def test_serves_udp_and_tcp_on_one_loopback_port() -> None:
    server = LoadBalancerDns()
    await server.start()
    try:
        server.set(HOST, "127.101.0.9")
        host, port = server.address
        assert host == "127.0.0.1" and port > 0
        q = dns.message.make_query(HOST, "A")
        udp = await dns.asyncquery.udp(q, host, port=port, timeout=5)
        tcp = await dns.asyncquery.tcp(q, host, port=port, timeout=5)
        for r in (udp, tcp):
            assert [rd.address for rd in r.answer[0]] == ["127.101.0.9"]
    finally:
        await server.stop()
