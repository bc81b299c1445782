"""A real resolver (unbound) in front of the cluster DNS, resolving federated names as a client would.

unbound forwards cluster.local to the cluster DNS and asks kfed's authoritative server for
example.com (a stub zone), with no DNSSEC validation: the client gets the CNAME chain and the final
addresses, whether the cluster DNS chased the chain itself or left it to unbound.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from kfed.dns.clusterdns import UpstreamRoute
from tests.e2e.clusterdns.conftest import NAMESPACE, ClusterDNSFactory, Federation
from tests.support.processes import free_port
from tests.support.waiting import wait_for

UNBOUND = shutil.which("unbound") or "/usr/sbin/unbound"
FEDERATED = f"nginx.{NAMESPACE}.myfederation.svc.cluster.local."



@contextmanager
def running_unbound(
    workdir: Path, cluster_dns: tuple[str, int], federation_dns: tuple[str, int]
) -> Iterator[int]:
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = workdir / "unbound.conf"
    conf.write_text(f"""\
server:
    interface: 127.0.0.1
    port: {port}
    do-ip6: no
    do-daemonize: no
    use-systemd: no
    username: ""
    chroot: ""
    directory: "{workdir}"
    pidfile: "{workdir}/unbound.pid"
    use-syslog: no
    logfile: ""
    verbosity: 1
    num-threads: 1
    access-control: 127.0.0.0/8 allow
    do-not-query-localhost: no
    module-config: "iterator"
    domain-insecure: "cluster.local."
    domain-insecure: "example.com."
remote-control:
    control-enable: no
forward-zone:
    name: "cluster.local."
    forward-addr: {cluster_dns[0]}@{cluster_dns[1]}
stub-zone:
    name: "example.com."
    stub-addr: {federation_dns[0]}@{federation_dns[1]}
""")
    check = subprocess.run(["unbound-checkconf", str(conf)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    log = open(workdir / "unbound.log", "wb")  # noqa: SIM115 - closed below, after the process
    proc = subprocess.Popen([UNBOUND, "-d", "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)
    try:

        def up() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"unbound exited: {(workdir / 'unbound.log').read_text()[-2000:]}")
            return dig(port, "cluster.local.", "SOA").returncode == 0

        wait_for(up, timeout=20, what="unbound answering")
        yield port
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def dig(port: int, name: str, rdtype: str = "A") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "dig",
            "@127.0.0.1",
            "-p",
            str(port),
            "+time=2",
            "+tries=1",
            "+noall",
            "+answer",
            "+comments",
            name,
            rdtype,
        ],
        capture_output=True,
        text=True,
        timeout=15,
    )


def answer_records(output: str) -> list[tuple[str, str, str]]:
    """(owner, type, data) of each answer line of dig's output."""
    out = []
    for line in output.splitlines():
        if line.startswith(";") or not line.strip():
            continue
        owner, _ttl, _cls, rtype, data = line.split(None, 4)
        out.append((owner, rtype, data))
    return out


@pytest.mark.parametrize("chase", [True, False], ids=["cluster-dns-chases", "unbound-chases"])
def test_unbound_resolves_federated_name_from_cluster_without_shard(
    federation: Federation, cluster_dns: ClusterDNSFactory, tmp_path: Path, chase: bool
) -> None:
    host, port = federation.dns_address
    upstreams = [UpstreamRoute.parse(f"example.com.={host}:{port}")] if chase else []
    server = cluster_dns.start(
        "us-central1-f", federations={"myfederation": "example.com."}, upstreams=upstreams
    )
    with running_unbound(tmp_path / "unbound", server.address, federation.dns_address) as resolver_port:
        result = dig(resolver_port, FEDERATED)
        assert "status: NOERROR" in result.stdout, result.stdout
        records = answer_records(result.stdout)
        zone_name = f"nginx.{NAMESPACE}.myfederation.svc.us-central1-f.example.com."
        assert (FEDERATED, "CNAME", zone_name) in records
        assert [d for _, t, d in records if t == "A"] == [federation.lb_ip]
        # the short form through unbound is what a pod's resolver library would then ask
        unknown = dig(resolver_port, f"nginx.{NAMESPACE}.notafederation.svc.cluster.local.")
        assert "status: NXDOMAIN" in unknown.stdout


def test_unbound_resolves_federated_name_to_local_service(
    federation: Federation, cluster_dns: ClusterDNSFactory, tmp_path: Path
) -> None:
    member = federation.member_service("us-central1-a", "nginx")
    assert member is not None
    server = cluster_dns.start("us-central1-a", federations={"myfederation": "example.com."})
    with running_unbound(tmp_path / "unbound", server.address, federation.dns_address) as resolver_port:
        records = answer_records(dig(resolver_port, FEDERATED).stdout)
        assert records == [
            (FEDERATED, "CNAME", f"nginx.{NAMESPACE}.svc.cluster.local."),
            (f"nginx.{NAMESPACE}.svc.cluster.local.", "A", member["spec"]["clusterIP"]),
        ]
