"""Cluster layouts and address plans of the simulated clusters."""

from __future__ import annotations

import ipaddress

import pytest

from kfed.sim.addresses import AddressPlanner, IpPool, PoolExhausted, PortPool
from kfed.sim.layout import ClusterSpec, check_layout, parse_cluster, seed_layout


def test_parse_cluster_with_several_zones() -> None:
    spec = parse_cluster("east=us-east1/us-east1-b,us-east1-c")
    assert spec == ClusterSpec("east", "us-east1", ("us-east1-b", "us-east1-c"))


@pytest.mark.parametrize("text", [
    "east", "east=us-east1", "east=/us-east1-b", "=us-east1/us-east1-b", "east=us-east1/",
    "East=us-east1/us-east1-b", "east=us_east1/us-east1-b", "east=us-east1/b,b", "e" * 64 + "=r/z",
])
def test_parse_cluster_rejects_bad_specs(text: str) -> None:
    with pytest.raises(ValueError):
        parse_cluster(text)


def test_seed_layout_is_the_guides_thirteen_clusters() -> None:
    layout = seed_layout(lb_hostnames=["us-east1-b"])
    assert [c.name for c in layout] == [
        "asia-east1-a", "asia-east1-b", "asia-east1-c", "europe-west1-b", "europe-west1-c", "europe-west1-d",
        "us-central1-a", "us-central1-b", "us-central1-c", "us-central1-f", "us-east1-b", "us-east1-c", "us-east1-d"]
    for c in layout:
        assert c.zones == (c.name,) and c.name.startswith(c.region + "-")
    assert [c.name for c in layout if c.lb_hostnames] == ["us-east1-b"]


def test_check_layout_rejects_duplicates_and_empty() -> None:
    a = parse_cluster("a=r/z")
    with pytest.raises(ValueError, match="unique"):
        check_layout([a, a])
    with pytest.raises(ValueError):
        check_layout([])


def test_address_plans_are_disjoint_and_in_the_right_ranges() -> None:
    planner = AddressPlanner()
    plans = [planner.plan(c.name, c.region) for c in seed_layout()]
    loopback = ipaddress.IPv4Network("127.0.0.0/8")
    ten = ipaddress.IPv4Network("10.0.0.0/8")
    nets = []
    for p in plans:
        assert p.lb_pool.subnet_of(loopback)
        for net in (p.service_cidr, p.pod_cidr, p.node_cidr):
            assert net.subnet_of(ten)
        nets += [p.lb_pool, p.service_cidr, p.pod_cidr, p.node_cidr]
    for i, a in enumerate(nets):
        for b in nets[i + 1:]:
            assert not a.overlaps(b), (a, b)
    assert planner.plan("asia-east1-a", "asia-east1") is plans[0]  # stable


def test_address_planner_limits() -> None:
    planner = AddressPlanner()
    for i in range(16):
        planner.plan(f"c{i}", "r")
    with pytest.raises(ValueError, match="per region"):
        planner.plan("c16", "r")


def test_ip_pool_allocates_round_robin_and_skips_reserved() -> None:
    pool = IpPool(ipaddress.IPv4Network("127.100.0.0/29"))  # hosts .1-.6, .1 reserved
    got = [pool.allocate() for _ in range(5)]
    assert got == [f"127.100.0.{i}" for i in range(2, 7)]
    with pytest.raises(PoolExhausted):
        pool.allocate()
    pool.release("127.100.0.3")
    assert pool.allocate() == "127.100.0.3"
    assert not pool.claim("127.100.0.3")  # taken
    assert not pool.claim("10.0.0.1")  # outside
    assert not pool.claim("not an ip")
    pool.release("127.100.0.4")
    assert pool.claim("127.100.0.4")


def test_ip_pool_reuses_released_addresses_late() -> None:
    pool = IpPool(ipaddress.IPv4Network("10.0.0.0/28"), reserved=0)
    first = pool.allocate()
    pool.release(first)
    assert pool.allocate() != first


def test_port_pool() -> None:
    pool = PortPool(30000, 30002)
    assert pool.claim(30001)
    assert [pool.allocate(), pool.allocate()] == [30000, 30002]
    with pytest.raises(PoolExhausted):
        pool.allocate()
    assert not pool.claim(29999)
    pool.release(30001)
    assert pool.allocate() == 30001
