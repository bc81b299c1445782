"""`kfed dns records` through the route53 provider (moto's Route 53 API in server mode): the hosted
zone's SOA and NS are listed, kfed's ownership markers only when asked."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from click.testing import CliRunner

from kfed.cli.dns import dns
from kfed.controllers.manager import FederationSettings
from tests.integration.dns_providers.route53_peers import MotoRoute53
from tests.support.federation import running_federation
from tests.support.waiting import wait_for

CREDS = {"access_key_id": "testing", "secret_access_key": "testing", "region": "us-east-1"}
# Another federation's records in the same zone: this federation's controller leaves them alone
# (its own marker on a Service that does not exist would be garbage it removes).
MARKER = '"heritage=kfed,federation=otherfed,owner=mynamespace/nginx"'
GLOBAL = "nginx.mynamespace.otherfed.svc.example.com."


@pytest.fixture
def moto() -> Iterator[MotoRoute53]:
    server = MotoRoute53()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_records_listed_through_route53(moto: MotoRoute53, tmp_path: Path) -> None:
    client = boto3.client("route53", endpoint_url=moto.url, aws_access_key_id="testing",
                          aws_secret_access_key="testing", region_name="us-east-1")
    zone_id = client.create_hosted_zone(Name="example.com.", CallerReference="kfed-e2e")["HostedZone"]["Id"]
    changes = [{"Action": "CREATE", "ResourceRecordSet": {"Name": name, "Type": rtype, "TTL": ttl,
                                                          "ResourceRecords": [{"Value": v} for v in values]}}
               for name, rtype, ttl, values in [(GLOBAL, "A", 180, ["192.0.2.1", "192.0.2.2"]),
                                                (f"_kfed-owner.{GLOBAL}", "TXT", 300, [MARKER])]]
    client.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": changes})
    settings = FederationSettings(dns_provider="route53", dns_provider_config={"endpoint_url": moto.url, **CREDS})
    with running_federation(tmp_path, settings=settings) as (thread, kubectl):
        def first_pass_done() -> bool:
            manager = thread.federation.manager
            return manager is not None and manager.dns is not None and manager.dns.syncs >= 1

        wait_for(first_pass_done, timeout=30, what="the DNS controller's first pass over the zone")
        result = CliRunner().invoke(dns, ["records", "--kubeconfig", str(kubectl.kubeconfig)],
                                    catch_exceptions=False)
        assert result.exit_code == 0, result.output
        rows = [line.split(None, 3) for line in result.output.strip().splitlines()]
        assert rows[0] == ["NAME", "TYPE", "TTL", "DATA"]
        assert [r[:2] for r in rows[1:3]] == [["example.com.", "SOA"], ["example.com.", "NS"]]
        assert [GLOBAL, "A", "180", "192.0.2.1, 192.0.2.2"] in rows
        assert not any(r[1] == "TXT" for r in rows)

        result = CliRunner().invoke(dns, ["records", "--kubeconfig", str(kubectl.kubeconfig), "-o", "json",
                                          "--show-ownership"], catch_exceptions=False)
        listing = json.loads(result.output)
        assert listing["source"] == "route53"
        assert {"name": f"_kfed-owner.{GLOBAL}", "type": "TXT", "ttl": 300, "data": [MARKER]} in listing["records"]
