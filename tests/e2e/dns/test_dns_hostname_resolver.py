"""HostnameResolver: answers trusted for their TTL, looked up again when it runs out; and the
dnspython lookup against a real DNS responder (the simulated clusters' load-balancer DNS)."""

from __future__ import annotations

import pytest

from kfed.controllers.dns_hostnames import HostnameResolver, dnspython_lookup, parse_nameserver
from kfed.sim.lbdns import LoadBalancerDns


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_answers_are_trusted_for_their_ttl_then_looked_up_again() -> None:
    table = {"a.elb.test": ("192.0.2.1",), "b.elb.test": ("192.0.2.2", "2001:db8::2")}
    asked: list[str] = []

    async def lookup(hostname: str) -> tuple[tuple[str, ...], float]:
        asked.append(hostname)
        return table.get(hostname, ()), 30.0

    clock = Clock()
    resolver = HostnameResolver(lookup, max_refresh=10.0, clock=clock)
    assert await resolver.ensure(["A.elb.test.", "b.elb.test"]) == {"a.elb.test", "b.elb.test"}
    assert resolver.addresses("a.elb.test.") == ("192.0.2.1",)
    assert resolver.addresses("b.elb.test") == ("192.0.2.2", "2001:db8::2")
    assert await resolver.ensure(["a.elb.test"]) == set() and len(asked) == 2  # fresh: no lookup
    assert resolver.next_expiry({"a.elb.test", "b.elb.test"}) == 10.0  # TTL 30 s, capped at 10 s

    clock.now += 10.0
    table["a.elb.test"] = ("192.0.2.9",)
    assert await resolver.ensure(["a.elb.test", "b.elb.test"]) == {"a.elb.test"}  # only what moved
    assert resolver.addresses("a.elb.test") == ("192.0.2.9",) and len(asked) == 4
    resolver.forget(keep={"a.elb.test"})
    assert resolver.addresses("b.elb.test") == () and resolver.lookups == 4


def test_nameservers_are_addresses_with_ports() -> None:
    assert parse_nameserver("127.0.0.1:5353") == ("127.0.0.1", 5353)
    assert parse_nameserver("[::1]:53") == ("::1", 53)
    assert parse_nameserver("192.0.2.53") == ("192.0.2.53", 53)
    for bad in ("dns.example.com:53", "127.0.0.1:0", "127.0.0.1:x"):
        with pytest.raises(ValueError):
            parse_nameserver(bad)


async def test_dnspython_lookup_over_the_wire() -> None:
    responder = LoadBalancerDns()
    await responder.start()
    try:
        responder.set("web-1.us-east1.elb.sim.kfed.test", "127.200.0.7")
        lookup = dnspython_lookup([f"127.0.0.1:{responder.port}"], timeout=2.0)
        addresses, ttl = await lookup("web-1.us-east1.elb.sim.kfed.test")
        assert addresses == ("127.200.0.7",) and ttl == 30.0  # the responder's TTL
        missing, retry = await lookup("gone.us-east1.elb.sim.kfed.test")
        assert missing == () and retry > 0
    finally:
        await responder.stop()
