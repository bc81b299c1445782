"""ClusterDNSCore: query bytes to response bytes from a ClusterIndex, and the upstream steps."""

from __future__ import annotations

from typing import Any

import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdatatype
import dns.rrset
import dns.tsigkeyring
import pytest

from kfed.dns.clusterdns import ClusterDNSCore, ClusterDNSSettings, ClusterIndex, UpstreamStep
from kfed.dns.names import ZoneNameStyle

Obj = dict[str, Any]
FED_TARGET = "nginx.mynamespace.myfederation.svc.us-central1-f.example.com."
FEDERATED = "nginx.mynamespace.myfederation.svc.cluster.local."


def make_index(**kwargs: Any) -> ClusterIndex:
    index = ClusterIndex(static_federations={"myfederation": "example.com."}, **kwargs)
    index.apply_node(
        "ADDED",
        {
            "metadata": {
                "name": "n1",
                "labels": {
                    "topology.kubernetes.io/zone": "us-central1-f",
                    "topology.kubernetes.io/region": "us-central1",
                },
            }
        },
    )
    index.apply_service(
        "ADDED",
        {
            "metadata": {"name": "nginx", "namespace": "mynamespace"},
            "spec": {
                "clusterIP": "10.96.0.10",
                "clusterIPs": ["10.96.0.10", "fd00::10"],
                "ports": [
                    {"name": "http", "port": 80, "protocol": "TCP"},
                    {"name": "dns", "port": 53, "protocol": "UDP"},
                ],
            },
        },
    )
    index.apply_service(
        "ADDED",
        {
            "metadata": {"name": "db", "namespace": "mynamespace"},
            "spec": {"clusterIP": "None", "ports": [{"name": "pg", "port": 5432}]},
        },
    )
    index.apply_endpoint_slice(
        "ADDED",
        {
            "metadata": {
                "name": "db-x",
                "namespace": "mynamespace",
                "labels": {"kubernetes.io/service-name": "db"},
            },
            "addressType": "IPv4",
            "endpoints": [
                {"addresses": ["10.1.0.2"], "hostname": "db-0"},
                {"addresses": ["10.1.0.3"]},
                {"addresses": ["10.1.0.4"], "conditions": {"ready": False}},
            ],
        },
    )
    index.apply_service(
        "ADDED",
        {
            "metadata": {"name": "ext", "namespace": "mynamespace"},
            "spec": {"type": "ExternalName", "externalName": "db.example.org"},
        },
    )
    index.apply_service(
        "ADDED",
        {
            "metadata": {"name": "alias", "namespace": "mynamespace"},
            "spec": {"type": "ExternalName", "externalName": "nginx.mynamespace.svc.cluster.local"},
        },
    )
    index.mark_synced()
    return index


def ready_nginx(index: ClusterIndex, ready: bool = True) -> None:
    index.apply_endpoint_slice(
        "MODIFIED",
        {
            "metadata": {
                "name": "nginx-x",
                "namespace": "mynamespace",
                "labels": {"kubernetes.io/service-name": "nginx"},
            },
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.1.0.1"], "conditions": {"ready": ready}}],
        },
    )


def ask(core: ClusterDNSCore, name: str, rdtype: str = "A", **kw: Any) -> dns.message.Message:
    out = core.handle(dns.message.make_query(name, rdtype, **kw).to_wire())
    assert isinstance(out, bytes), out
    return dns.message.from_wire(out)


def parsed(out: bytes | UpstreamStep | None) -> dns.message.Message:
    assert isinstance(out, bytes), out
    return dns.message.from_wire(out)


def records(msg: dns.message.Message, section: str = "answer") -> list[str]:
    return [
        f"{r.name} {dns.rdatatype.to_text(r.rdtype)} {rr.to_text()}"
        for r in getattr(msg, section)
        for rr in r
    ]


@pytest.fixture
def core() -> ClusterDNSCore:
    return ClusterDNSCore(make_index(), recursion=True)


def test_service_names(core: ClusterDNSCore) -> None:
    msg = ask(core, "nginx.mynamespace.svc.cluster.local.")
    assert msg.flags & dns.flags.AA and msg.flags & dns.flags.RA
    assert records(msg) == ["nginx.mynamespace.svc.cluster.local. A 10.96.0.10"]
    assert records(ask(core, "nginx.mynamespace.svc.cluster.local.", "AAAA")) == [
        "nginx.mynamespace.svc.cluster.local. AAAA fd00::10"
    ]
    srv = ask(core, "_http._tcp.nginx.mynamespace.svc.cluster.local.", "SRV")
    assert records(srv) == [
        "_http._tcp.nginx.mynamespace.svc.cluster.local. SRV 0 100 80 nginx.mynamespace.svc.cluster.local."
    ]
    assert "nginx.mynamespace.svc.cluster.local. A 10.96.0.10" in records(srv, "additional")
    assert ask(core, "_http._udp.nginx.mynamespace.svc.cluster.local.", "SRV").rcode() == dns.rcode.NXDOMAIN
    assert ask(core, "_udp.nginx.mynamespace.svc.cluster.local.").rcode() == dns.rcode.NOERROR  # ENT


def test_headless_and_endpoints(core: ClusterDNSCore) -> None:
    assert sorted(records(ask(core, "db.mynamespace.svc.cluster.local."))) == [
        "db.mynamespace.svc.cluster.local. A 10.1.0.2",
        "db.mynamespace.svc.cluster.local. A 10.1.0.3",
    ]  # ready only
    assert records(ask(core, "db-0.db.mynamespace.svc.cluster.local.")) == [
        "db-0.db.mynamespace.svc.cluster.local. A 10.1.0.2"
    ]
    assert records(ask(core, "10-1-0-3.db.mynamespace.svc.cluster.local.")) == [
        "10-1-0-3.db.mynamespace.svc.cluster.local. A 10.1.0.3"
    ]
    assert ask(core, "10-1-0-4.db.mynamespace.svc.cluster.local.").rcode() == dns.rcode.NXDOMAIN  # not ready
    srv = ask(core, "_pg._tcp.db.mynamespace.svc.cluster.local.", "SRV")
    assert sorted(records(srv)) == [
        "_pg._tcp.db.mynamespace.svc.cluster.local. SRV 0 100 5432 10-1-0-3.db.mynamespace.svc.cluster.local.",
        "_pg._tcp.db.mynamespace.svc.cluster.local. SRV 0 100 5432 db-0.db.mynamespace.svc.cluster.local.",
    ]
    # endpoint names only exist for headless services
    assert ask(core, "anything.nginx.mynamespace.svc.cluster.local.").rcode() == dns.rcode.NXDOMAIN


def test_pods_and_structure(core: ClusterDNSCore) -> None:
    assert records(ask(core, "10-2-3-4.default.pod.cluster.local.")) == [
        "10-2-3-4.default.pod.cluster.local. A 10.2.3.4"
    ]
    assert ask(core, "10-2-3-4.default.pod.cluster.local.", "AAAA").rcode() == dns.rcode.NOERROR
    assert ask(core, "nope.default.pod.cluster.local.").rcode() == dns.rcode.NXDOMAIN
    soa = ask(core, "cluster.local.", "SOA")
    assert soa.answer[0].rdtype == dns.rdatatype.SOA
    for ent in (
        "svc.cluster.local.",
        "mynamespace.svc.cluster.local.",
        "myfederation.svc.cluster.local.",
        "mynamespace.myfederation.svc.cluster.local.",
        "pod.cluster.local.",
    ):
        msg = ask(core, ent)
        assert msg.rcode() == dns.rcode.NOERROR and not msg.answer and msg.authority, ent
    for missing in (
        "other.svc.cluster.local.",
        "x.other.svc.cluster.local.",
        "a.b.c.d.e.svc.cluster.local.",
        "foo.cluster.local.",
        "nginx.mynamespace.myfederation.mynamespace.svc.cluster.local.",
    ):
        msg = ask(core, missing)
        assert msg.rcode() == dns.rcode.NXDOMAIN, missing
        assert msg.authority[0].rdtype == dns.rdatatype.SOA


def test_external_name(core: ClusterDNSCore) -> None:
    out = core.handle(dns.message.make_query("ext.mynamespace.svc.cluster.local.", "A").to_wire())
    assert isinstance(out, UpstreamStep) and out.kind == "chase"
    assert out.qname == dns.name.from_text("db.example.org.")
    # pointing inside the cluster: followed right here
    assert records(ask(core, "alias.mynamespace.svc.cluster.local.")) == [
        "alias.mynamespace.svc.cluster.local. CNAME nginx.mynamespace.svc.cluster.local.",
        "nginx.mynamespace.svc.cluster.local. A 10.96.0.10",
    ]


def test_federated_local_then_zone(core: ClusterDNSCore) -> None:
    step = core.handle(dns.message.make_query(FEDERATED, "A").to_wire())
    assert isinstance(step, UpstreamStep) and step.kind == "chase"
    assert step.qname.to_text() == FED_TARGET
    assert records(step.response) == [f"{FEDERATED} CNAME {FED_TARGET}"]
    # the local Service gets a ready endpoint: the answer is local at once
    ready_nginx(core.index)
    assert records(ask(core, FEDERATED)) == [
        f"{FEDERATED} CNAME nginx.mynamespace.svc.cluster.local.",
        "nginx.mynamespace.svc.cluster.local. A 10.96.0.10",
    ]
    assert records(ask(core, FEDERATED, "CNAME")) == [
        f"{FEDERATED} CNAME nginx.mynamespace.svc.cluster.local."
    ]
    txt = ask(core, FEDERATED, "TXT")
    assert len(txt.answer) == 1 and txt.authority  # CNAME, and NODATA for the target
    ready_nginx(core.index, ready=False)
    assert isinstance(core.handle(dns.message.make_query(FEDERATED, "A").to_wire()), UpstreamStep)
    # CNAME questions are answered without going upstream
    assert records(ask(core, FEDERATED, "CNAME")) == [f"{FEDERATED} CNAME {FED_TARGET}"]
    # any service name under a known federation works: the federation may have it elsewhere
    assert records(ask(core, "web.shop.myfederation.svc.cluster.local.", "CNAME")) == [
        "web.shop.myfederation.svc.cluster.local. CNAME web.shop.myfederation.svc.us-central1-f.example.com."
    ]


def test_federated_bad_names_and_unknown_federations(core: ClusterDNSCore) -> None:
    for name in (
        "nginx.mynamespace.notafed.svc.cluster.local.",
        "bad_label.mynamespace.myfederation.svc.cluster.local.",
        "-x.mynamespace.myfederation.svc.cluster.local.",
        b"\xff\xfe.mynamespace.myfederation.svc.cluster.local.",
    ):
        qname = dns.name.Name([*name.split(b".")[:-1], b""]) if isinstance(name, bytes) else name
        msg = ask(core, qname)  # type: ignore[arg-type]
        assert msg.rcode() == dns.rcode.NXDOMAIN, name
    long_label = "s" * 63
    assert (
        ask(core, f"{long_label}.{long_label}.myfederation.svc.cluster.local.", "CNAME").rcode()
        == dns.rcode.NOERROR
    )


def test_zone_fallbacks() -> None:
    index = ClusterIndex(static_federations={"f": "example.com."})
    index.mark_synced()
    core = ClusterDNSCore(index)
    # no labels on the nodes: the global name
    assert records(ask(core, "a.b.f.svc.cluster.local.", "CNAME")) == [
        "a.b.f.svc.cluster.local. CNAME a.b.f.svc.example.com."
    ]
    index.apply_node("ADDED", {"metadata": {"name": "n", "labels": {"topology.kubernetes.io/region": "eu"}}})
    assert records(ask(core, "a.b.f.svc.cluster.local.", "CNAME")) == [
        "a.b.f.svc.cluster.local. CNAME a.b.f.svc.eu.example.com."
    ]
    styled = ClusterDNSCore(make_index(), ClusterDNSSettings(zone_style=ZoneNameStyle.ZONE_IN_REGION))
    assert records(ask(styled, "a.b.myfederation.svc.cluster.local.", "CNAME")) == [
        "a.b.myfederation.svc.cluster.local. CNAME a.b.myfederation.svc.us-central1-f.us-central1.example.com."
    ]


def test_not_synced_is_servfail() -> None:
    core = ClusterDNSCore(ClusterIndex(static_federations={"f": "example.com."}))
    assert ask(core, "a.b.svc.cluster.local.").rcode() == dns.rcode.SERVFAIL
    core.index.mark_synced()
    assert ask(core, "a.b.svc.cluster.local.").rcode() == dns.rcode.NXDOMAIN


def test_cache_is_dropped_on_every_change(core: ClusterDNSCore) -> None:
    wire = dns.message.make_query("nginx.mynamespace.svc.cluster.local.", "A").to_wire()
    first = core.handle(wire)
    assert core.handle(wire) == first  # served from the cache
    assert core._caches["udp"]
    core.index.apply_service(
        "MODIFIED",
        {"metadata": {"name": "nginx", "namespace": "mynamespace"}, "spec": {"clusterIP": "10.96.0.99"}},
    )
    assert records(ask(core, "nginx.mynamespace.svc.cluster.local.")) == [
        "nginx.mynamespace.svc.cluster.local. A 10.96.0.99"
    ]
    # the cached copy answers with the asker's ID and letter case
    query = dns.message.make_query("NGINX.MyNamespace.svc.cluster.local.", "A")
    query.id = 4242
    out = core.handle(query.to_wire())
    core.handle(query.to_wire())
    msg = parsed(out)
    assert msg.id == 4242 and msg.question[0].name.to_text() == "NGINX.MyNamespace.svc.cluster.local."


def test_forward_and_its_outcomes(core: ClusterDNSCore) -> None:
    step = core.handle(dns.message.make_query("www.example.org.", "A").to_wire())
    assert isinstance(step, UpstreamStep) and step.kind == "forward"
    reply = dns.message.make_response(dns.message.make_query("www.example.org.", "A"))
    reply.answer = [dns.rrset.from_text("www.example.org.", 60, "IN", "A", "192.0.2.1")]
    out = parsed(core.finish(step, reply))
    assert records(out) == ["www.example.org. A 192.0.2.1"] and not out.flags & dns.flags.AA
    assert out.id == step.query.id
    step = core.handle(dns.message.make_query("www.example.org.", "A").to_wire())
    assert isinstance(step, UpstreamStep)
    assert parsed(core.finish(step, None)).rcode() == dns.rcode.SERVFAIL
    refused = dns.message.make_response(step.query)
    refused.set_rcode(dns.rcode.REFUSED)
    step = core.handle(dns.message.make_query("www.example.org.", "A").to_wire())
    assert isinstance(step, UpstreamStep)
    assert parsed(core.finish(step, refused)).rcode() == dns.rcode.SERVFAIL
    # without upstreams: foreign names are refused, and no RA
    bare = ClusterDNSCore(make_index(), recursion=False)
    msg = ask(bare, "www.example.org.")
    assert msg.rcode() == dns.rcode.REFUSED and not msg.flags & dns.flags.RA
    assert records(ask(bare, FEDERATED)) == [f"{FEDERATED} CNAME {FED_TARGET}"]  # the chain is the client's


def _reply(
    name: str, *rrsets: dns.rrset.RRset, rcode: dns.rcode.Rcode = dns.rcode.NOERROR
) -> dns.message.Message:
    msg = dns.message.make_response(dns.message.make_query(name, "A"))
    msg.answer = list(rrsets)
    msg.set_rcode(rcode)
    return msg


def test_chase_outcomes(core: ClusterDNSCore) -> None:
    def start() -> UpstreamStep:
        step = core.handle(dns.message.make_query(FEDERATED, "A").to_wire())
        assert isinstance(step, UpstreamStep)
        return step

    region = "nginx.mynamespace.myfederation.svc.us-central1.example.com."
    full = _reply(
        FED_TARGET,
        dns.rrset.from_text(FED_TARGET, 180, "IN", "CNAME", region),
        dns.rrset.from_text(region, 180, "IN", "A", "104.197.247.191"),
    )
    msg = parsed(core.finish(start(), full))
    assert msg.rcode() == dns.rcode.NOERROR
    assert records(msg) == [
        f"{FEDERATED} CNAME {FED_TARGET}",
        f"{FED_TARGET} CNAME {region}",
        f"{region} A 104.197.247.191",
    ]
    # an authoritative upstream that stops at a CNAME out of its zone: one more step
    elb = "a1.elb.amazonaws.com."
    step = core.finish(start(), _reply(FED_TARGET, dns.rrset.from_text(FED_TARGET, 180, "IN", "CNAME", elb)))
    assert isinstance(step, UpstreamStep) and step.qname.to_text() == elb and step.hops == 2
    msg = parsed(core.finish(step, _reply(elb, dns.rrset.from_text(elb, 60, "IN", "A", "192.0.2.7"))))
    assert records(msg)[-1] == f"{elb} A 192.0.2.7"
    # NXDOMAIN at the end of the chain: the client's rcode, with the upstream's SOA
    nx = _reply(FED_TARGET, rcode=dns.rcode.NXDOMAIN)
    nx.authority = [
        dns.rrset.from_text("example.com.", 60, "IN", "SOA", "ns1.example.com. h.example.com. 1 2 3 4 60")
    ]
    msg = parsed(core.finish(start(), nx))
    assert msg.rcode() == dns.rcode.NXDOMAIN and records(msg) == [f"{FEDERATED} CNAME {FED_TARGET}"]
    assert msg.authority[0].rdtype == dns.rdatatype.SOA
    # a loop stops
    loop = _reply(FED_TARGET, dns.rrset.from_text(FED_TARGET, 180, "IN", "CNAME", FEDERATED))
    assert isinstance(core.finish(start(), loop), bytes)
    # failure: SERVFAIL, keeping our CNAME
    msg = parsed(core.finish(start(), None))
    assert msg.rcode() == dns.rcode.SERVFAIL and records(msg) == [f"{FEDERATED} CNAME {FED_TARGET}"]


def test_clean_errors(core: ClusterDNSCore) -> None:
    chaos = dns.message.make_query("version.bind.", "TXT", rdclass="CH")
    assert ask_wire(core, chaos.to_wire()).rcode() == dns.rcode.REFUSED
    for rdtype in ("AXFR", "IXFR"):
        assert ask(core, "cluster.local.", rdtype).rcode() == dns.rcode.REFUSED
    assert ask(core, "cluster.local.", "MAILB").rcode() == dns.rcode.NOTIMP
    assert ask(core, "cluster.local.", "TKEY").rcode() == dns.rcode.FORMERR
    badvers = dns.message.make_query("cluster.local.", "SOA", use_edns=1)
    assert ask_wire(core, badvers.to_wire()).rcode() == dns.rcode.BADVERS
    signed = dns.message.make_query("nginx.mynamespace.svc.cluster.local.", "A")
    signed.use_tsig(dns.tsigkeyring.from_text({"k.": "c2VjcmV0c2VjcmV0"}), keyname="k.")
    assert ask_wire(core, signed.to_wire()).rcode() == dns.rcode.REFUSED
    notify = dns.message.make_query("cluster.local.", "SOA")
    notify.set_opcode(dns.opcode.NOTIFY)
    assert ask_wire(core, notify.to_wire()).rcode() == dns.rcode.NOTIMP
    two = dns.message.make_query("cluster.local.", "SOA")
    two.question.append(two.question[0])
    assert ask_wire(core, two.to_wire()).rcode() == dns.rcode.FORMERR
    assert core.handle(b"\x00\x01") is None  # shorter than a header
    response = dns.message.make_response(dns.message.make_query("cluster.local.", "SOA"))
    assert core.handle(response.to_wire()) is None  # never answer a response


def ask_wire(core: ClusterDNSCore, wire: bytes) -> dns.message.Message:
    out = core.handle(wire)
    assert isinstance(out, bytes)
    return dns.message.from_wire(out)


def test_udp_size_and_truncation() -> None:
    index = make_index()
    endpoints = [{"addresses": [f"10.2.{i // 250}.{i % 250 + 1}"]} for i in range(200)]
    index.apply_endpoint_slice(
        "ADDED",
        {
            "metadata": {
                "name": "db-big",
                "namespace": "mynamespace",
                "labels": {"kubernetes.io/service-name": "db"},
            },
            "addressType": "IPv4",
            "endpoints": endpoints,
        },
    )
    core = ClusterDNSCore(index)
    plain = ask(core, "db.mynamespace.svc.cluster.local.")
    assert plain.flags & dns.flags.TC and not plain.answer  # 200 addresses do not fit 512 octets
    big = ask(core, "db.mynamespace.svc.cluster.local.", use_edns=0, payload=4096)
    assert big.flags & dns.flags.TC  # we cap at 1232
    out = core.handle(dns.message.make_query("db.mynamespace.svc.cluster.local.", "A").to_wire(), "tcp")
    assert isinstance(out, bytes)
    assert len(dns.message.from_wire(out).answer[0]) == 202


def test_only_stale_answers_leave_the_cache(core: ClusterDNSCore) -> None:
    names = [
        "nginx.mynamespace.svc.cluster.local.",
        "db.mynamespace.svc.cluster.local.",
        "missing.mynamespace.svc.cluster.local.",
        FEDERATED,
        "web.shop.myfederation.svc.cluster.local.",
    ]
    wires = {n: dns.message.make_query(n, "CNAME" if "myfederation" in n else "A").to_wire() for n in names}
    for wire in wires.values():
        core.handle(wire)
    cache = core._caches["udp"]
    assert len(cache) == len(names)
    # endpoints of nginx change: its own name and its federated name go, the others stay
    ready_nginx(core.index)
    core.handle(wires["db.mynamespace.svc.cluster.local."])
    assert len(cache) == len(names) - 2
    assert records(ask(core, FEDERATED, "CNAME")) == [
        f"{FEDERATED} CNAME nginx.mynamespace.svc.cluster.local."
    ]
    # a Service appearing turns its cached NXDOMAIN into an answer
    core.index.apply_service(
        "ADDED",
        {"metadata": {"name": "missing", "namespace": "mynamespace"}, "spec": {"clusterIP": "10.96.0.77"}},
    )
    assert records(ask(core, "missing.mynamespace.svc.cluster.local.")) == [
        "missing.mynamespace.svc.cluster.local. A 10.96.0.77"
    ]
    # a local `web` in `shop` makes the federated name local once it has a ready endpoint
    core.index.apply_service(
        "ADDED", {"metadata": {"name": "web", "namespace": "shop"}, "spec": {"clusterIP": "10.96.0.8"}}
    )
    core.index.apply_endpoint_slice(
        "ADDED",
        {
            "metadata": {
                "name": "web-1",
                "namespace": "shop",
                "labels": {"kubernetes.io/service-name": "web"},
            },
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.1.9.9"]}],
        },
    )
    assert records(ask(core, "web.shop.myfederation.svc.cluster.local.", "CNAME")) == [
        "web.shop.myfederation.svc.cluster.local. CNAME web.shop.svc.cluster.local."
    ]
    # the cluster's zone changes: every answer goes
    core.index.apply_node(
        "ADDED",
        {
            "metadata": {
                "name": "n0",
                "labels": {
                    "topology.kubernetes.io/zone": "us-central1-a",
                    "topology.kubernetes.io/region": "us-central1",
                },
            }
        },
    )
    core.handle(wires["db.mynamespace.svc.cluster.local."])
    assert len(cache) == 1
    ready_nginx(core.index, ready=False)
    assert records(ask(core, FEDERATED, "CNAME")) == [
        f"{FEDERATED} CNAME nginx.mynamespace.myfederation.svc.us-central1-a.example.com."
    ]
