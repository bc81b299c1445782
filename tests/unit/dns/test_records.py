"""Record sets from shards: the guide's example listing, multi-zone clusters, hostname LBs, TTL."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kfed.dns.names import InvalidNameError, ServiceNames, ZoneNameStyle
from kfed.dns.records import (
    DNS_TTL_ANNOTATION,
    FederatedService,
    InvalidTTLError,
    RecordSet,
    Shard,
    desired_records,
    hostnames_to_resolve,
    parse_ttl,
    ttl_from_annotations,
)

P = "nginx.mynamespace.myfederation.svc"

# The guide's 13 clusters, one zone each; the addresses of the guide's listing where it shows them.
GUIDE_ADDRESSES = {
    "us-central1-a": "104.197.247.191",
    "us-central1-b": "104.197.244.180",
    "us-central1-c": "104.197.245.170",
    "us-central1-f": "104.197.240.10",
    "asia-east1-a": "130.211.57.243",
    "asia-east1-b": "130.211.50.1",
    "asia-east1-c": "130.211.56.221",
    "europe-west1-b": "104.155.1.1",
    "europe-west1-c": "104.155.1.2",
    "europe-west1-d": "104.155.1.3",
    "us-east1-b": "104.196.14.231",
    "us-east1-c": "104.196.14.232",
    "us-east1-d": "104.196.14.233",
}
NO_BACKENDS = {"us-central1-f", "asia-east1-b", "europe-west1-b", "europe-west1-c", "europe-west1-d"}


def region_of(zone: str) -> str:
    return zone.rsplit("-", 1)[0]


def guide_service() -> FederatedService:
    shards = []
    for zone, address in GUIDE_ADDRESSES.items():
        ready = 0 if zone in NO_BACKENDS else 1
        shards.append(Shard(cluster=zone, region=region_of(zone), zones=(zone,) if ready else (),
                            addresses=(address,), ready_endpoints=ready, cluster_ready=True))
    return FederatedService("nginx", "mynamespace", tuple(shards),
                            all_zones=frozenset((region_of(z), z) for z in GUIDE_ADDRESSES))


def listing(records: list[RecordSet]) -> dict[tuple[str, str], tuple[str, ...]]:
    return {(r.name, r.type): r.data for r in records}


def test_guide_example_listing_shape() -> None:
    records = desired_records(guide_service(), "myfederation", "example.com")
    got = listing(records)
    healthy = sorted((a for z, a in GUIDE_ADDRESSES.items() if z not in NO_BACKENDS),
                     key=lambda a: tuple(int(x) for x in a.split(".")))
    want = {
        (f"{P}.example.com.", "A"): tuple(healthy),
        (f"{P}.us-central1-a.example.com.", "A"): ("104.197.247.191",),
        (f"{P}.us-central1-b.example.com.", "A"): ("104.197.244.180",),
        (f"{P}.us-central1-c.example.com.", "A"): ("104.197.245.170",),
        (f"{P}.us-central1-f.example.com.", "CNAME"): (f"{P}.us-central1.example.com.",),
        (f"{P}.us-central1.example.com.", "A"): ("104.197.244.180", "104.197.245.170", "104.197.247.191"),
        (f"{P}.asia-east1-a.example.com.", "A"): ("130.211.57.243",),
        (f"{P}.asia-east1-b.example.com.", "CNAME"): (f"{P}.asia-east1.example.com.",),
        (f"{P}.asia-east1-c.example.com.", "A"): ("130.211.56.221",),
        (f"{P}.asia-east1.example.com.", "A"): ("130.211.56.221", "130.211.57.243"),
        (f"{P}.europe-west1.example.com.", "CNAME"): (f"{P}.example.com.",),
        (f"{P}.europe-west1-b.example.com.", "CNAME"): (f"{P}.europe-west1.example.com.",),
        (f"{P}.europe-west1-c.example.com.", "CNAME"): (f"{P}.europe-west1.example.com.",),
        (f"{P}.europe-west1-d.example.com.", "CNAME"): (f"{P}.europe-west1.example.com.",),
        (f"{P}.us-east1.example.com.", "A"): ("104.196.14.231", "104.196.14.232", "104.196.14.233"),
        (f"{P}.us-east1-b.example.com.", "A"): ("104.196.14.231",),
        (f"{P}.us-east1-c.example.com.", "A"): ("104.196.14.232",),
        (f"{P}.us-east1-d.example.com.", "A"): ("104.196.14.233",),
    }
    assert got == want
    assert {r.ttl for r in records} == {180}
    # Sorted by name and type, no duplicates.
    assert [r.key for r in records] == sorted({r.key for r in records})


def test_europe_chain_reaches_global_and_global_vanishes_without_healthy_shards() -> None:
    svc = guide_service()
    down = FederatedService(svc.name, svc.namespace,
                            tuple(Shard(s.cluster, s.region, (), s.addresses, (), 0, True) for s in svc.shards),
                            all_zones=svc.all_zones)
    got = listing(desired_records(down, "myfederation", "example.com"))
    assert (f"{P}.example.com.", "A") not in got
    assert all(t == "CNAME" for _, t in got)
    assert got[(f"{P}.europe-west1-d.example.com.", "CNAME")] == (f"{P}.europe-west1.example.com.",)
    assert got[(f"{P}.europe-west1.example.com.", "CNAME")] == (f"{P}.example.com.",)
    assert len(got) == 13 + 4  # every zone and every region keeps its CNAME


def test_unready_cluster_or_missing_address_is_unhealthy() -> None:
    assert Shard("c", "r", ("z",), ("1.2.3.4",), (), 1, True).healthy
    assert not Shard("c", "r", ("z",), ("1.2.3.4",), (), 1, False).healthy
    assert not Shard("c", "r", ("z",), (), (), 3, True).healthy
    assert not Shard("c", "r", ("z",), ("1.2.3.4",), (), 0, True).healthy
    assert Shard("c", "r", ("z",), (), ("lb.example.net",), 1, True).healthy


def test_multi_zone_cluster_counts_in_every_zone_with_ready_endpoints() -> None:
    shard = Shard("big", "us-central1", ("us-central1-a", "us-central1-b"), ("10.0.0.1",), (), 4, True)
    svc = FederatedService("web", "prod", (shard,),
                           all_zones=frozenset({("us-central1", "us-central1-a"), ("us-central1", "us-central1-b"),
                                                ("us-central1", "us-central1-c")}))
    got = listing(desired_records(svc, "fed", "example.org"))
    base = "web.prod.fed.svc"
    assert got[(f"{base}.us-central1-a.example.org.", "A")] == ("10.0.0.1",)
    assert got[(f"{base}.us-central1-b.example.org.", "A")] == ("10.0.0.1",)
    assert got[(f"{base}.us-central1-c.example.org.", "CNAME")] == (f"{base}.us-central1.example.org.",)
    assert got[(f"{base}.us-central1.example.org.", "A")] == ("10.0.0.1",)
    assert got[(f"{base}.example.org.", "A")] == ("10.0.0.1",)


def test_ipv6_addresses_become_aaaa_and_bad_addresses_are_skipped() -> None:
    shard = Shard("c1", "eu", ("eu-1",), ("2001:DB8:0:0::1", "192.0.2.1", "not-an-ip"), (), 1, True)
    got = listing(desired_records(FederatedService("s", "n", (shard,)), "f", "example.com"))
    assert got[("s.n.f.svc.example.com.", "A")] == ("192.0.2.1",)
    assert got[("s.n.f.svc.example.com.", "AAAA")] == ("2001:db8::1",)
    assert got[("s.n.f.svc.eu-1.example.com.", "AAAA")] == ("2001:db8::1",)


def elb_shard(cluster: str, zone: str, hostname: str) -> Shard:
    return Shard(cluster, "us-east-1", (zone,), (), (hostname,), 2, True)


def test_single_hostname_level_is_cname_to_it() -> None:
    svc = FederatedService("api", "default", (elb_shard("a", "us-east-1a", "A-123.elb.amazonaws.com"),))
    got = listing(desired_records(svc, "f", "example.com"))
    assert got[("api.default.f.svc.example.com.", "CNAME")] == ("a-123.elb.amazonaws.com.",)
    assert got[("api.default.f.svc.us-east-1a.example.com.", "CNAME")] == ("a-123.elb.amazonaws.com.",)
    assert hostnames_to_resolve(svc, "f", "example.com") == frozenset()


def test_several_hostnames_are_resolved_into_addresses() -> None:
    svc = FederatedService("api", "default", (
        elb_shard("a", "us-east-1a", "a.elb.example.net"),
        elb_shard("b", "us-east-1b", "b.elb.example.net"),
        Shard("c", "us-east-1", ("us-east-1c",), ("198.51.100.9",), (), 1, True),
    ))
    answers = {"a.elb.example.net": ["198.51.100.1", "198.51.100.2"], "b.elb.example.net": ["198.51.100.3"]}
    asked: list[str] = []

    def resolve(host: str) -> list[str]:
        asked.append(host)
        return answers[host]

    assert hostnames_to_resolve(svc, "f", "example.com") == frozenset(answers)
    got = listing(desired_records(svc, "f", "example.com", resolve=resolve))
    assert got[("api.default.f.svc.example.com.", "A")] == (
        "198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.9")
    assert got[("api.default.f.svc.us-east-1.example.com.", "A")] == got[("api.default.f.svc.example.com.", "A")]
    # A zone with one load balancer still CNAMEs to it: its addresses follow the ELB's own TTL.
    assert got[("api.default.f.svc.us-east-1a.example.com.", "CNAME")] == ("a.elb.example.net.",)
    assert got[("api.default.f.svc.us-east-1c.example.com.", "A")] == ("198.51.100.9",)
    assert set(asked) == set(answers)


def test_unresolved_hostnames_fall_back() -> None:
    svc = FederatedService("api", "default", (
        elb_shard("a", "us-east-1a", "b.elb.example.net"),
        elb_shard("b", "us-east-1a", "a.elb.example.net"),
    ))
    got = listing(desired_records(svc, "f", "example.com", resolve=lambda host: []))
    assert got[("api.default.f.svc.example.com.", "CNAME")] == ("a.elb.example.net.",)
    mixed = FederatedService("api", "default", (elb_shard("a", "us-east-1a", "a.elb.example.net"),
                                                Shard("c", "us-east-1", ("us-east-1a",), ("192.0.2.7",), (), 1)))
    got = listing(desired_records(mixed, "f", "example.com"))
    assert got[("api.default.f.svc.example.com.", "A")] == ("192.0.2.7",)


def test_ttl_from_service_else_default() -> None:
    svc = guide_service()
    with_ttl = FederatedService(svc.name, svc.namespace, svc.shards, ttl=30, all_zones=svc.all_zones)
    assert {r.ttl for r in desired_records(with_ttl, "myfederation", "example.com")} == {30}
    assert {r.ttl for r in desired_records(svc, "myfederation", "example.com", default_ttl=60)} == {60}


@pytest.mark.parametrize(("text", "seconds"), [("180", 180), ("0", 0), ("3m", 180), ("1h30m", 5400), (" 90s ", 90)])
def test_parse_ttl(text: str, seconds: int) -> None:
    assert parse_ttl(text) == seconds


@pytest.mark.parametrize("text", ["", "-5", "3x", "m", "1.5", "3m3", str(2**31)])
def test_parse_ttl_rejects(text: str) -> None:
    with pytest.raises(InvalidTTLError):
        parse_ttl(text)


def test_ttl_from_annotations() -> None:
    assert ttl_from_annotations(None) is None
    assert ttl_from_annotations({"other": "1"}) is None
    assert ttl_from_annotations({DNS_TTL_ANNOTATION: "60"}) == 60
    with pytest.raises(InvalidTTLError):
        ttl_from_annotations({DNS_TTL_ANNOTATION: "soon"})


def test_zone_in_region_style() -> None:
    got = listing(desired_records(guide_service(), "myfederation", "example.com",
                                  zone_style=ZoneNameStyle.ZONE_IN_REGION))
    assert got[(f"{P}.us-central1-f.us-central1.example.com.", "CNAME")] == (f"{P}.us-central1.example.com.",)
    assert got[(f"{P}.us-central1-a.us-central1.example.com.", "A")] == ("104.197.247.191",)


def test_zone_label_repeated_across_regions_is_merged() -> None:
    svc = FederatedService("s", "n", (
        Shard("c1", "east", ("a",), ("192.0.2.1",), (), 1),
        Shard("c2", "west", ("a",), ("192.0.2.2",), (), 0),
    ), all_zones=frozenset({("east", "a"), ("west", "a"), ("west", "b"), ("b", "b")}))
    got = listing(desired_records(svc, "f", "example.com"))
    assert got[("s.n.f.svc.a.example.com.", "A")] == ("192.0.2.1",)
    # Zone "b" of region "west" has the same name as region "b": the region keeps the name.
    assert got[("s.n.f.svc.b.example.com.", "CNAME")] == ("s.n.f.svc.example.com.",)
    empty = FederatedService("s", "n", (), all_zones=frozenset({("east", "a"), ("west", "a")}))
    got = listing(desired_records(empty, "f", "example.com"))
    assert got[("s.n.f.svc.a.example.com.", "CNAME")] == ("s.n.f.svc.example.com.",)


def test_names_are_checked() -> None:
    names = ServiceNames("nginx", "mynamespace", "myfederation", "Example.COM")
    assert names.global_name == f"{P}.example.com."
    assert names.region_name("us-central1") == f"{P}.us-central1.example.com."
    with pytest.raises(InvalidNameError):
        ServiceNames("x" * 64, "n", "f", "example.com").global_name  # noqa: B018
    with pytest.raises(InvalidNameError):
        ServiceNames("s", "n", "f", ("d" * 60 + ".") * 5).global_name  # noqa: B018


def test_recordset_canonical_form() -> None:
    a = RecordSet("Host.Example.com", "a", 60, ("10.0.0.2", "10.0.0.10", "10.0.0.2"))
    assert a == RecordSet("host.example.com.", "A", 60, ("10.0.0.10", "10.0.0.2"))
    assert a.data == ("10.0.0.2", "10.0.0.10")
    assert RecordSet("x.", "CNAME", 1, ("Target.Example.",)).data == ("target.example.",)


@settings(max_examples=500, deadline=None)
@given(value=st.one_of(
    st.ip_addresses().map(str),
    st.ip_addresses(v=4).map(lambda ip: ".".join(f"0{o}" if o < 10 else str(o) for o in ip.packed)),
    st.lists(st.integers(-1, 300), min_size=3, max_size=5).map(lambda xs: ".".join(map(str, xs))),
    st.text(alphabet="0123456789.:abcdefABCDEF٣ ", max_size=20),
))
def test_address_parsing_agrees_with_ipaddress(value: str) -> None:
    """The fast dotted-quad path must accept, reject and order exactly as ipaddress does."""
    import ipaddress

    from kfed.dns.records import _ip

    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        assert _ip(value) is None
    else:
        assert _ip(value) == (ip.version, int(ip), str(ip))
