"""The cluster DNS of simulated member clusters, asked over the wire as pods and resolvers would."""

from __future__ import annotations

import contextlib
import json
import socket
import time
from typing import Any

import dns.flags
import dns.name
import dns.rcode
import dns.rdatatype
import dns.resolver
import pytest

from kfed.dns.clusterdns import UpstreamRoute
from tests.e2e.clusterdns.conftest import (
    NAMESPACE,
    ClusterDNSFactory,
    Federation,
    addresses,
    cname_target,
    query,
)
from tests.support.waiting import wait_for

FEDS = {"myfederation": "example.com."}
FEDERATED = f"nginx.{NAMESPACE}.myfederation.svc.cluster.local."


def upstream(fed: Federation) -> list[UpstreamRoute]:
    host, port = fed.dns_address
    return [UpstreamRoute.parse(f"{host}:{port}")]


def pod_resolver(address: tuple[str, int], namespace: str) -> dns.resolver.Resolver:
    """A stub resolver configured as kubelet configures a pod's: search path and ndots:5."""
    r = dns.resolver.Resolver(configure=False)
    r.nameservers = [address[0]]
    r.port = address[1]
    r.search = [
        dns.name.from_text(f"{namespace}.svc.cluster.local."),
        dns.name.from_text("svc.cluster.local."),
        dns.name.from_text("cluster.local."),
    ]
    r.ndots = 5
    r.use_search_by_default = True
    r.timeout = r.lifetime = 5.0
    r.cache = None
    return r


def test_local_names(federation: Federation, cluster_dns: ClusterDNSFactory) -> None:
    member = federation.member_service("us-central1-a", "nginx")
    assert member is not None
    cluster_ip = member["spec"]["clusterIP"]
    headless = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "nginx-pods", "namespace": NAMESPACE},
        "spec": {
            "clusterIP": "None",
            "selector": {"run": "nginx"},
            "ports": [{"name": "http", "port": 80, "protocol": "TCP"}],
        },
    }
    federation.kubectl.run("apply", "-f", "-", input=json.dumps(headless), context="us-central1-a")
    pod = federation.kubectl.run(
        "-n", NAMESPACE, "get", "pod", "nginx", "-o", "json", context="us-central1-a"
    ).json()
    pod_ip = pod["status"]["podIP"]
    server = cluster_dns.start("us-central1-a", federations=FEDS)

    msg = query(server.address, f"nginx.{NAMESPACE}.svc.cluster.local.")
    assert msg.rcode() == dns.rcode.NOERROR and addresses(msg) == {cluster_ip}
    assert msg.flags & dns.flags.AA
    # headless: the ready pods' addresses, found by watch once the endpoints exist
    wait_for(
        lambda: addresses(query(server.address, f"nginx-pods.{NAMESPACE}.svc.cluster.local.")) == {pod_ip},
        timeout=20,
        what="headless service answers with the pod IP",
    )
    endpoint = pod_ip.replace(".", "-")
    assert addresses(query(server.address, f"{endpoint}.nginx-pods.{NAMESPACE}.svc.cluster.local.")) == {
        pod_ip
    }
    srv = query(server.address, f"_http._tcp.nginx.{NAMESPACE}.svc.cluster.local.", "SRV")
    assert [rr.to_text() for rrset in srv.answer for rr in rrset] == [
        f"0 100 80 nginx.{NAMESPACE}.svc.cluster.local."
    ]
    # over TCP the same
    assert addresses(query(server.address, f"nginx.{NAMESPACE}.svc.cluster.local.", tcp=True)) == {cluster_ip}
    # names that do not exist, and the forms a search path tries first: NXDOMAIN with the SOA
    for name in (
        f"nope.{NAMESPACE}.svc.cluster.local.",
        f"nginx.{NAMESPACE}.myfederation.{NAMESPACE}.svc.cluster.local.",
        "nginx.cluster.local.",
    ):
        msg = query(server.address, name)
        assert msg.rcode() == dns.rcode.NXDOMAIN, name
        assert msg.authority and msg.authority[0].rdtype == dns.rdatatype.SOA
    # what a pod in mynamespace gets for the short forms, through its search path
    pod_view = pod_resolver(server.address, NAMESPACE)
    assert {a.to_text() for a in pod_view.resolve("nginx", "A")} == {cluster_ip}
    assert {a.to_text() for a in pod_view.resolve(f"nginx.{NAMESPACE}", "A")} == {cluster_ip}
    other_ns = pod_resolver(server.address, "default")
    assert {a.to_text() for a in other_ns.resolve(f"nginx.{NAMESPACE}", "A")} == {cluster_ip}


def test_federated_name_with_local_healthy_shard(
    federation: Federation, cluster_dns: ClusterDNSFactory
) -> None:
    member = federation.member_service("us-central1-a", "nginx")
    assert member is not None
    server = cluster_dns.start("us-central1-a", federations=FEDS, upstreams=upstream(federation))
    msg = query(server.address, FEDERATED)
    assert msg.rcode() == dns.rcode.NOERROR
    assert cname_target(msg) == f"nginx.{NAMESPACE}.svc.cluster.local."
    assert addresses(msg) == {member["spec"]["clusterIP"]}
    # as a pod asks it: the short federated form, expanded by the search path
    answer = pod_resolver(server.address, "default").resolve(f"nginx.{NAMESPACE}.myfederation", "A")
    assert {a.to_text() for a in answer} == {member["spec"]["clusterIP"]}


def test_federated_name_without_local_shard_goes_to_the_zone(
    federation: Federation, cluster_dns: ClusterDNSFactory
) -> None:
    server = cluster_dns.start("us-central1-f", federations=FEDS, upstreams=upstream(federation))
    msg = query(server.address, FEDERATED)
    assert msg.rcode() == dns.rcode.NOERROR
    # the zone name of this cluster, then what the federation's DNS says for it
    assert cname_target(msg) == f"nginx.{NAMESPACE}.myfederation.svc.us-central1-f.example.com."
    assert addresses(msg) == {federation.lb_ip}
    names = [r.name.to_text() for r in msg.answer]
    assert names[0] == FEDERATED and f"nginx.{NAMESPACE}.myfederation.svc.us-central1-f.example.com." in names
    answer = pod_resolver(server.address, NAMESPACE).resolve(f"nginx.{NAMESPACE}.myfederation", "A")
    assert {a.to_text() for a in answer} == {federation.lb_ip}
    # without an upstream the server gives the CNAME and leaves the chain to the client
    bare = cluster_dns.start("us-central1-f", federations=FEDS)
    msg = query(bare.address, FEDERATED)
    assert msg.rcode() == dns.rcode.NOERROR and len(msg.answer) == 1
    assert cname_target(msg) == f"nginx.{NAMESPACE}.myfederation.svc.us-central1-f.example.com."
    assert not msg.flags & dns.flags.RA


def test_unknown_federation_is_nxdomain(federation: Federation, cluster_dns: ClusterDNSFactory) -> None:
    server = cluster_dns.start("us-central1-f", federations=FEDS, upstreams=upstream(federation))
    msg = query(server.address, f"nginx.{NAMESPACE}.notafederation.svc.cluster.local.")
    assert msg.rcode() == dns.rcode.NXDOMAIN
    # labels no Service can have: NXDOMAIN as well, never a CNAME to a broken name
    assert (
        query(server.address, f"bad_label.{NAMESPACE}.myfederation.svc.cluster.local.").rcode()
        == dns.rcode.NXDOMAIN
    )


def test_other_names_are_forwarded(federation: Federation, cluster_dns: ClusterDNSFactory) -> None:
    server = cluster_dns.start("us-central1-f", federations=FEDS, upstreams=upstream(federation))
    msg = query(server.address, f"nginx.{NAMESPACE}.myfederation.svc.example.com.")
    assert msg.rcode() == dns.rcode.NOERROR and addresses(msg) == {federation.lb_ip}
    assert msg.flags & dns.flags.RA and not msg.flags & dns.flags.AA
    assert query(server.address, "nothing-here.example.com.").rcode() == dns.rcode.NXDOMAIN
    tcp = query(server.address, f"nginx.{NAMESPACE}.myfederation.svc.example.com.", tcp=True)
    assert addresses(tcp) == {federation.lb_ip}


def test_unreachable_upstream_gives_servfail_in_bounded_time(
    federation: Federation, cluster_dns: ClusterDNSFactory
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as hole:  # takes queries, never answers
        hole.bind(("127.0.0.1", 0))
        silent = UpstreamRoute.parse(f"127.0.0.1:{hole.getsockname()[1]}")
        server = cluster_dns.start(
            "us-central1-f", federations=FEDS, upstreams=[silent], upstream_timeout=0.5
        )
        for name in ("www.example.org.", FEDERATED):
            started = time.monotonic()
            msg = query(server.address, name, timeout=5)
            elapsed = time.monotonic() - started
            assert msg.rcode() == dns.rcode.SERVFAIL, name
            assert 0.4 <= elapsed < 2.0, f"{name}: SERVFAIL after {elapsed:.2f}s"
        # the chase keeps the CNAME it made: it shows where the chain broke
        assert cname_target(msg) == f"nginx.{NAMESPACE}.myfederation.svc.us-central1-f.example.com."
        # local names do not need the upstream and stay fast
        started = time.monotonic()
        assert query(server.address, f"nginx.{NAMESPACE}.svc.cluster.local.").rcode() == dns.rcode.NOERROR
        assert time.monotonic() - started < 1.0


def test_unhealthy_local_shard_changes_the_answer(
    federation: Federation, cluster_dns: ClusterDNSFactory
) -> None:
    server = cluster_dns.start("us-central1-a", federations=FEDS)
    local = f"nginx.{NAMESPACE}.svc.cluster.local."
    zone_name = f"nginx.{NAMESPACE}.myfederation.svc.us-central1-a.example.com."
    assert cname_target(query(server.address, FEDERATED)) == local
    fleet_call = federation.thread.call
    fleet_call(lambda f: f.fleet.make_unready("us-central1-a", pod="nginx", namespace=NAMESPACE))
    try:
        started = time.monotonic()
        wait_for(
            lambda: cname_target(query(server.address, FEDERATED)) == zone_name,
            timeout=20,
            interval=0.01,
            what="answer moves to the zone name",
        )
        assert time.monotonic() - started < 10
    finally:
        fleet_call(lambda f: f.fleet.make_ready("us-central1-a", pod="nginx", namespace=NAMESPACE))
    wait_for(
        lambda: cname_target(query(server.address, FEDERATED)) == local,
        timeout=20,
        interval=0.01,
        what="answer back to the local service",
    )
    federation.wait_published()  # the federation's records too, for the tests after this one


def test_federations_follow_the_kube_dns_configmap(
    federation: Federation, cluster_dns: ClusterDNSFactory
) -> None:
    # kfed join recorded myfederation in the member's kube-dns ConfigMap: no flag needed
    cm = federation.kubectl.run(
        "-n", "kube-system", "get", "configmap", "kube-dns", "-o", "json", context="europe-west1-b"
    ).json()
    assert cm["data"]["federations"] == "myfederation=example.com"
    server = cluster_dns.start("europe-west1-b", upstreams=upstream(federation))
    zone_name = f"nginx.{NAMESPACE}.myfederation.svc.europe-west1-b.example.com."

    def global_answer() -> Any:
        msg = query(server.address, FEDERATED)
        return msg if cname_target(msg) == zone_name and addresses(msg) == {federation.lb_ip} else None

    # europe has no healthy shard: the chain ends at the global name (once the records are published)
    wait_for(global_answer, timeout=20, what="the chain to end at the global addresses")
    other = f"web.{NAMESPACE}.otherfed.svc.cluster.local."
    assert query(server.address, other).rcode() == dns.rcode.NXDOMAIN
    patch = json.dumps({"data": {"federations": "myfederation=example.com,otherfed=example.org"}})
    federation.kubectl.run(
        "-n",
        "kube-system",
        "patch",
        "configmap",
        "kube-dns",
        "--type=merge",
        "-p",
        patch,
        context="europe-west1-b",
    )
    try:
        wait_for(
            lambda: (
                cname_target(query(server.address, other, "CNAME"))
                == f"web.{NAMESPACE}.otherfed.svc.europe-west1-b.example.org."
            ),
            timeout=20,
            what="otherfed known",
        )
    finally:
        patch = json.dumps({"data": {"federations": "myfederation=example.com"}})
        federation.kubectl.run(
            "-n",
            "kube-system",
            "patch",
            "configmap",
            "kube-dns",
            "--type=merge",
            "-p",
            patch,
            context="europe-west1-b",
        )
    wait_for(
        lambda: query(server.address, other).rcode() == dns.rcode.NXDOMAIN, timeout=20, what="otherfed gone"
    )


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"\x00",
        b"\x12\x34" + b"\xff" * 10,
        b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x3fabc",
        b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" + b"\xc0\x0c\x00\x01\x00\x01",  # pointer loop
        b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" + b"\x40" + b"a" * 64 + b"\x00\x00\x01\x00\x01",
        bytes(range(256)) * 16,
    ],
)
def test_garbage_never_breaks_the_server(
    federation: Federation, cluster_dns: ClusterDNSFactory, payload: bytes
) -> None:
    server = cluster_dns.start("us-central1-f", federations=FEDS)
    host, port = server.address
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.settimeout(0.5)
        udp.sendto(payload, (host, port))
        try:
            reply = udp.recv(65535)
        except TimeoutError:
            reply = b""
        if reply:  # an answer is a clean error for the same ID, never a crash
            assert reply[:2] == payload[:2] and reply[2] & 0x80
            assert reply[3] & 0x0F in (dns.rcode.FORMERR, dns.rcode.NOTIMP, dns.rcode.REFUSED)
    with socket.create_connection((host, port), timeout=2) as tcp:
        tcp.sendall(len(payload[:65535]).to_bytes(2, "big") + payload[:65535])
        tcp.settimeout(0.5)
        with contextlib.suppress(TimeoutError, ConnectionError):
            tcp.recv(65535)
    assert query(server.address, f"nginx.{NAMESPACE}.svc.cluster.local.").rcode() == dns.rcode.NOERROR
    assert server.call(lambda c: _internal_errors(c)) == 0


async def _internal_errors(cdns: object) -> int:
    return int(cdns.server.stats.internal_errors)  # type: ignore[attr-defined]
