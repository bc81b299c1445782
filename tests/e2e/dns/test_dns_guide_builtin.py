"""The guide's DNS walkthrough on kfed's built-in DNS server, with 13 simulated clusters and dig.

One federation for the whole scenario: the guide's listing, backends failing and returning, a
cluster unjoined, the Service deleted; `kfed dns records` shows what dig shows.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from kfed.cli.dns import dns
from tests.e2e.dns import guide
from tests.support.federation import running_federation


def dns_records_cli(kubeconfig: Path, *args: str, subprocess_: bool = False) -> str:
    argv = ["records", "--kubeconfig", str(kubeconfig), *args]
    if subprocess_:  # as a user runs it
        p = subprocess.run([sys.executable, "-m", "kfed.cli.dns", *argv], capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stdout + p.stderr
        return p.stdout
    result = CliRunner().invoke(dns, argv, catch_exceptions=False)  # in-process: no interpreter start-up
    assert result.exit_code == 0, result.output
    return result.output


def table_records(text: str) -> guide.Records:
    lines = text.strip().splitlines()
    assert lines[0].split() == ["NAME", "TYPE", "TTL", "DATA"]
    out: guide.Records = {}
    for line in lines[1:]:
        name, rtype, ttl, data = line.split(None, 3)
        out[(name, rtype)] = (int(ttl), frozenset(v.strip() for v in data.split(", ")))
    return out


def test_guide_walkthrough_on_the_builtin_server(tmp_path: Path) -> None:
    with running_federation(tmp_path, sim_layout="seed") as (thread, kubectl):
        server = thread.federation.dns_address

        def read() -> guide.Records:
            return guide.axfr(server)

        # The builtin provider keeps ownership in the DNSRecordSet objects, not in the served zone.
        zone_view = guide.ZoneView(read, markers=False)
        members = guide.guide_walkthrough(thread, kubectl, tmp_path, zone_view)

        # A resolver asking for europe-west1-d climbs the CNAMEs to the global addresses.
        p = guide.prefix()
        answer = guide.parse_records(guide.dig(server, f"{p}.europe-west1-d.example.com.", "A", "+noall", "+answer"))
        assert answer[(f"{p}.europe-west1-d.example.com.", "CNAME")][1] == {f"{p}.europe-west1.example.com."}
        assert answer[(f"{p}.europe-west1.example.com.", "CNAME")][1] == {f"{p}.example.com."}
        assert len(answer[(f"{p}.example.com.", "A")][1]) == 8

        # `kfed dns records` lists the same records as the zone transfer, markers only when asked.
        zone = read()
        listed = table_records(dns_records_cli(kubectl.kubeconfig, subprocess_=True))
        assert listed == {k: v for k, v in zone.items() if k[1] not in ("SOA", "NS") and
                          not k[0].startswith("_kfed-owner.")}
        with_markers = table_records(dns_records_cli(kubectl.kubeconfig, "--show-ownership"))
        assert with_markers == {**listed, **guide.markers(guide.kfed_records(zone))}
        # All of the Service's names are in one DNSRecordSet object, kfed's, as kubectl shows it.
        objects = kubectl.run("get", "dnsrecordsets", "-o", "json").json()["items"]
        assert [o["metadata"]["name"] for o in objects] == ["nginx.mynamespace.myfederation"]
        assert objects[0]["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "kfed"
        assert {(r["name"], r["type"]) for r in objects[0]["spec"]["records"]} == set(listed)
        row = kubectl.run("get", "dnsrecordsets").stdout.splitlines()[1].split()
        assert row[:4] == ["nginx.mynamespace.myfederation", "example.com.", str(len({n for n, _ in listed})),
                           str(len(listed))]
        as_json = json.loads(dns_records_cli(kubectl.kubeconfig, "-o", "json"))
        assert as_json["zone"] == "example.com." and as_json["source"] == "builtin"
        assert {(r["name"], r["type"]) for r in as_json["records"]} == set(listed)
        # Through the server itself (AXFR), the SOA and NS show too.
        host, port = server
        via_server = table_records(dns_records_cli(kubectl.kubeconfig, "--server", f"{host}:{port}"))
        assert {("example.com.", "SOA"), ("example.com.", "NS")} <= set(via_server)

        guide.failures_and_recovery(thread, kubectl, members, zone_view)
        guide.unjoin_and_delete(thread, kubectl, members, zone_view)
        # Nothing of kfed's is left: no DNSRecordSet objects either.
        left = kubectl.run("get", "dnsrecordsets", "-o", "json").json()["items"]
        assert left == []
