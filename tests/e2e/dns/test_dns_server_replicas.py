"""`kfed dns-server --context federation-cluster`: replicas serving the zone the federation API holds.

Two replicas (processes, as an operator runs them) serve the same records under the same SOA
serial while DNSRecordSets change through kubectl; a real BIND 9 secondary of one replica follows
every change (NOTIFY, then IXFR/AXFR); a replica started later agrees with the others at once.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from tests.e2e.dns import guide
from tests.integration.dns_providers.rfc2136_peers import free_port, need, stop
from tests.support.federation import running_federation
from tests.support.kubectl import Kubectl
from tests.support.waiting import wait_for

SECONDARY_CONF = """
options {{
    directory "{dir}";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    pid-file "{dir}/named.pid";
    session-keyfile "{dir}/session.key";
    managed-keys-directory "{dir}";
    recursion no;
    dnssec-validation no;
    notify no;
    allow-notify {{ 127.0.0.1; }};
    allow-query {{ 127.0.0.1; }};
}};
controls {{ }};
zone "example.com" {{
    type secondary;
    file "{dir}/example.com.db";
    primaries {{ 127.0.0.1 port {primary_port}; }};
}};
"""


@contextmanager
def replica(tmp_path: Path, kubeconfig: Path, name: str, *extra: str) -> Iterator[int]:
    """A `kfed dns-server` process reading the federation API; yields its port."""
    log = tmp_path / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "kfed.cli.dns_server", "--kubeconfig", str(kubeconfig), "--context",
             "federation-cluster", "--listen", "127.0.0.1:0", "--no-uvloop", *extra],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        def banner() -> int | None:
            if process.poll() is not None:
                raise AssertionError(f"{name} exited: {log.read_text()}")
            match = re.search(r"serving example\.com\. on 127\.0\.0\.1:(\d+)", log.read_text())
            return int(match.group(1)) if match else None

        port = wait_for(banner, timeout=30, what=f"{name} serving")
        assert port is not None
        yield port
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextmanager
def secondary(tmp_path: Path, port: int, primary_port: int) -> Iterator[int]:
    conf = tmp_path / "named.conf"
    conf.write_text(SECONDARY_CONF.format(dir=tmp_path, port=port, primary_port=primary_port))
    log = tmp_path / "named.log"
    with log.open("wb") as out:
        process = subprocess.Popen([need("named"), "-g", "-4", "-n", "1", "-c", str(conf)], stdout=out,
                                   stderr=out, stdin=subprocess.DEVNULL, cwd=tmp_path)
    try:
        yield port
    finally:
        stop(process)


def recordset(name: str, rtype: str, *data: str) -> str:
    """A hand-made object holding one name's records, named after it."""
    return records_object(name.rstrip("."), (name, rtype, *data))


def records_object(object_name: str, *records: tuple[str, ...]) -> str:
    """A hand-made object holding any number of names: (name, type, data...) each."""
    lines = "".join(f"  - {{name: {r[0]}, type: {r[1]}, ttl: 60, data: [{', '.join(r[2:])}]}}\n" for r in records)
    return textwrap.dedent(f"""\
        apiVersion: federation.kfed.io/v1beta1
        kind: DNSRecordSet
        metadata: {{name: {object_name}}}
        spec:
          zone: example.com.
          records:
        """) + lines


def apply(kubectl: Kubectl, tmp_path: Path, text: str, *flags: str) -> None:
    path = tmp_path / "recordset.yaml"
    path.write_text(text)
    kubectl.run("apply", *flags, "-f", str(path))


def view(port: int) -> tuple[int, guide.Records]:
    """(SOA serial, every record) of a server, by zone transfer."""
    records = guide.axfr(("127.0.0.1", port))
    soa = next(iter(records[("example.com.", "SOA")][1]))
    return int(soa.split()[2]), records


def same_everywhere(ports: list[int], *, has: tuple[str, str] | None = None,
                    lacks: tuple[str, str] | None = None) -> tuple[int, guide.Records]:
    """Wait until every server serves the same zone (and serial), holding `has` and not `lacks`."""
    def agreed() -> tuple[int, guide.Records] | None:
        views = [view(p) for p in ports]
        first = views[0]
        if any(v != first for v in views[1:]):
            return None
        if has is not None and has not in first[1] or lacks is not None and lacks in first[1]:
            return None
        return first

    found = wait_for(agreed, timeout=30, interval=0.1, what=f"servers {ports} agree")
    assert found is not None
    return found


def test_replicas_agree_and_a_bind_secondary_follows(tmp_path: Path) -> None:
    with running_federation(tmp_path) as (thread, kubectl), ExitStack() as stack:
        kubeconfig = kubectl.kubeconfig
        apply(kubectl, tmp_path, recordset("www.example.com.", "A", "192.0.2.10"))
        bind_port = free_port()
        first = stack.enter_context(replica(tmp_path, kubeconfig, "replica-1", "--notify", f"127.0.0.1:{bind_port}"))
        second = stack.enter_context(replica(tmp_path, kubeconfig, "replica-2"))
        bind_dir = tmp_path / "bind"
        bind_dir.mkdir()
        stack.enter_context(secondary(bind_dir, bind_port, first))

        serial, records = same_everywhere([first, second], has=("www.example.com.", "A"))
        assert records[("www.example.com.", "A")] == (60, frozenset({"192.0.2.10"}))
        wait_for(lambda: guide.dig(("127.0.0.1", bind_port), "www.example.com.", "A", "+short").split() ==
                 ["192.0.2.10"], timeout=30, what="BIND loaded the zone")

        # Changes through the federation API: all replicas follow, with the same serial, and the
        # secondary follows on NOTIFY (its refresh timer is an hour).
        apply(kubectl, tmp_path, recordset("www.example.com.", "A", "192.0.2.10", "192.0.2.11"))
        apply(kubectl, tmp_path, recordset("api.example.com.", "CNAME", "www.example.com."))
        serial2, records = same_everywhere([first, second], has=("api.example.com.", "CNAME"))
        assert serial2 > serial
        assert records[("www.example.com.", "A")][1] == {"192.0.2.10", "192.0.2.11"}
        wait_for(lambda: view(bind_port) == (serial2, records), timeout=30, what="BIND followed the change")

        # A replica started now agrees at once, serial included.
        third = stack.enter_context(replica(tmp_path, kubeconfig, "replica-3"))
        assert view(third) == (serial2, records)

        kubectl.run("delete", "dnsrecordset", "api.example.com")
        serial3, records = same_everywhere([first, second], lacks=("api.example.com.", "CNAME"))
        assert serial3 > serial2
        wait_for(lambda: view(bind_port) == (serial3, records), timeout=30, what="BIND followed the delete")
        answer = guide.dig(("127.0.0.1", bind_port), "api.example.com.", "CNAME")
        assert "NXDOMAIN" in answer

        # One object of several names, by server-side apply; a second manager's apply adds a
        # record of another type at one of its names (records are keyed by name and type).
        apply(kubectl, tmp_path, records_object("web", ("web.example.com.", "A", "192.0.2.20"),
                                                ("img.example.com.", "CNAME", "web.example.com.")),
              "--server-side", "--field-manager=team-a")
        apply(kubectl, tmp_path, records_object("web", ("web.example.com.", "AAAA", "2001:db8::20")),
              "--server-side", "--field-manager=team-b")
        obj = kubectl.run("get", "dnsrecordset", "web", "-o", "json").json()
        assert sorted((r["name"], r["type"]) for r in obj["spec"]["records"]) == [
            ("img.example.com.", "CNAME"), ("web.example.com.", "A"), ("web.example.com.", "AAAA")]
        _, records = same_everywhere([first, second], has=("web.example.com.", "AAAA"))
        assert records[("img.example.com.", "CNAME")][1] == {"web.example.com."}
        assert records[("web.example.com.", "A")][1] == {"192.0.2.20"}
        table = kubectl.run("get", "dnsrecordsets").stdout.splitlines()
        assert table[0].split() == ["NAME", "ZONE", "NAMES", "RECORDS", "AGE"]
        assert table[-1].split()[:4] == ["www.example.com", "example.com.", "1", "1"]
        assert ["web", "example.com.", "2", "3"] in [line.split()[:4] for line in table]
