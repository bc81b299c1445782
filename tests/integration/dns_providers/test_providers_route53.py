"""The Route 53 provider against moto's Route 53 API in server mode (over HTTP on 127.0.0.1)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import boto3
import pytest

from kfed.dns.plan import Change, Owner, plan_changes, plan_zone
from kfed.dns.providers.applier import ProviderApplier
from kfed.dns.providers.base import ProviderError
from kfed.dns.providers.factory import make_provider
from kfed.dns.providers.ratelimit import Backoff
from kfed.dns.providers.route53 import Route53Config, Route53Provider
from kfed.dns.records import FederatedService, RecordSet, Shard, desired_records
from tests.integration.dns_providers.route53_peers import MotoRoute53, ThrottlingProxy

ZONE = "example.com."
FED = "myfederation"
OWNER = Owner(FED, "mynamespace", "nginx")
P = "nginx.mynamespace.myfederation.svc"
CREDS: dict[str, Any] = {"access_key_id": "testing", "secret_access_key": "testing", "region": "us-east-1"}


def hosted_zone(url: str) -> str:
    client = boto3.client("route53", endpoint_url=url, aws_access_key_id="testing",
                          aws_secret_access_key="testing", region_name="us-east-1")
    answer = client.create_hosted_zone(Name=ZONE, CallerReference="kfed-test")
    return str(answer["HostedZone"]["Id"]).rsplit("/", 1)[-1]


def raw_client(url: str) -> Any:
    return boto3.client("route53", endpoint_url=url, aws_access_key_id="testing",
                        aws_secret_access_key="testing", region_name="us-east-1")


class CountingProvider(Route53Provider):
    """Route53Provider that remembers the batches it was asked to apply."""

    def __init__(self, config: Route53Config) -> None:
        super().__init__(config)
        self.batches: list[Sequence[Change]] = []

    async def apply(self, zone: str, batch: Sequence[Change]) -> None:
        self.batches.append(batch)
        await super().apply(zone, batch)


def service() -> FederatedService:
    return FederatedService("nginx", "mynamespace", (
        Shard("a", "us-central1", ("us-central1-a",), ("104.197.247.191",), (), 1, True),
        Shard("f", "us-central1", (), ("104.197.240.10",), (), 0, True),
        Shard("e", "us-east-1", ("us-east-1a",), (), ("a1.elb.amazonaws.com",), 3, True),
    ), all_zones=frozenset({("us-central1", "us-central1-a"), ("us-central1", "us-central1-f"),
                            ("us-east-1", "us-east-1a"), ("europe-west1", "europe-west1-d")}))


async def test_records_round_trip_and_converge(moto_route53: MotoRoute53) -> None:
    hosted_zone(moto_route53.url)
    provider = make_provider("route53", {"endpoint_url": moto_route53.url, **CREDS})  # zone found by name
    applier = ProviderApplier(provider)
    desired = desired_records(service(), FED, ZONE, resolve=lambda host: ["203.0.113.10"])
    result = await applier.sync_service(ZONE, OWNER, desired)
    assert result.applied == 2 * len(desired) and not result.conflicts

    listed = await provider.list_records(ZONE)
    got = {(r.name, r.type): r.data for r in listed}
    assert got[(f"{P}.us-central1-f.example.com.", "CNAME")] == (f"{P}.us-central1.example.com.",)
    assert got[(f"{P}.us-east-1a.example.com.", "CNAME")] == ("a1.elb.amazonaws.com.",)
    assert got[(f"{P}.example.com.", "A")] == ("104.197.247.191", "203.0.113.10")
    assert got[(f"_kfed-owner.{P}.example.com.", "TXT")] == (OWNER.txt(),)
    assert not plan_changes(desired, listed, OWNER)

    # Shard "f" gets endpoints: the region's A set and f's name change, nothing else.
    healed_service = service()
    shards = list(healed_service.shards)
    shards[1] = Shard("f", "us-central1", ("us-central1-f",), ("104.197.240.10",), (), 1, True)
    healed = desired_records(FederatedService("nginx", "mynamespace", tuple(shards),
                                              all_zones=healed_service.all_zones),
                             FED, ZONE, resolve=lambda host: ["203.0.113.10"])
    result = await applier.sync_service(ZONE, OWNER, healed)
    assert result.applied == 4 and result.requests == 1  # global, region, f: delete CNAME + create A
    assert not plan_changes(healed, await provider.list_records(ZONE), OWNER)

    await applier.sync_service(ZONE, OWNER, [])
    left = await provider.list_records(ZONE)
    assert {r.type for r in left} == {"SOA", "NS"}
    await provider.close()


def bulk(n: int) -> dict[Owner, list[RecordSet]]:
    return {Owner(FED, "bulk", f"svc{i}"): [RecordSet(f"svc{i}.bulk.{FED}.svc.{ZONE}", "A", 180,
                                                     (f"10.{i // 65536}.{(i // 256) % 256}.{i % 256}",))]
            for i in range(n)}


async def test_ten_thousand_changes_in_at_most_twenty_requests(moto_route53: MotoRoute53,
                                                               throttling_proxy: ThrottlingProxy) -> None:
    zone_id = hosted_zone(moto_route53.url)
    throttling_proxy.state.absorb_changes = True  # measured on the wire, answered as Route 53 would
    provider = make_provider("route53", {"zone_id": zone_id, "endpoint_url": throttling_proxy.url,
                                         "requests_per_second": 1000.0, **CREDS})
    result = await ProviderApplier(provider).sync(ZONE, bulk(5000), FED)
    sent = throttling_proxy.state.change_requests
    assert result.applied == 10_000  # 5,000 A sets and their 5,000 ownership markers
    assert sum(r.changes for r in sent) == 10_000
    assert result.requests == len(sent) <= 20
    assert all(r.records <= 1000 and r.chars <= 32_000 for r in sent), sent


async def test_thousands_of_records_through_moto_with_paging(moto_route53: MotoRoute53,
                                                             throttling_proxy: ThrottlingProxy) -> None:
    zone_id = hosted_zone(moto_route53.url)
    provider = CountingProvider(Route53Config(zone_id=zone_id, endpoint_url=throttling_proxy.url,
                                              requests_per_second=1000.0, **CREDS))
    owners = bulk(1000)
    result = await ProviderApplier(provider).sync(ZONE, owners, FED)
    assert result.applied == 2000 and result.requests == len(provider.batches) <= 4
    assert all(r.records <= 1000 and r.chars <= 32_000 for r in throttling_proxy.state.change_requests)
    listed = await provider.list_records(ZONE)  # 2,002 record sets: seven pages of ListResourceRecordSets
    assert len(listed) == 2002
    assert not plan_zone(owners, listed, FED)
    # Every Service deleted: one sync removes all 2,000 record sets again.
    result = await ProviderApplier(provider).sync(ZONE, {}, FED)
    assert result.applied == 2000
    assert {r.type for r in await provider.list_records(ZONE)} == {"SOA", "NS"}


@pytest.mark.parametrize("code", ["Throttling", "PriorRequestNotComplete"])
async def test_throttling_is_retried_with_backoff(moto_route53: MotoRoute53, throttling_proxy: ThrottlingProxy,
                                                  code: str) -> None:
    zone_id = hosted_zone(moto_route53.url)
    throttling_proxy.state.code = code
    throttling_proxy.state.fail_changes = 3
    provider = make_provider("route53", {"zone_id": f"/hostedzone/{zone_id}", "endpoint_url": throttling_proxy.url,
                                         **CREDS})
    applier = ProviderApplier(provider, backoff=Backoff(base=0.01, cap=0.1))
    desired = desired_records(service(), FED, ZONE, resolve=lambda host: ["203.0.113.10"])
    await applier.sync_service(ZONE, OWNER, desired)
    assert throttling_proxy.state.throttled == 3
    assert applier.stats.throttled == 3 and applier.stats.retries == 3
    assert not plan_changes(desired, await provider.list_records(ZONE), OWNER)


async def test_throttled_for_too_long_gives_up(moto_route53: MotoRoute53, throttling_proxy: ThrottlingProxy) -> None:
    zone_id = hosted_zone(moto_route53.url)
    throttling_proxy.state.fail_changes = 100
    provider = make_provider("route53", {"zone_id": zone_id, "endpoint_url": throttling_proxy.url, **CREDS})
    applier = ProviderApplier(provider, max_attempts=3, backoff=Backoff(base=0.01, cap=0.02))
    with pytest.raises(ProviderError) as err:
        await applier.sync_service(ZONE, OWNER, desired_records(service(), FED, ZONE))
    assert err.value.throttled and throttling_proxy.state.throttled == 3


async def test_invalid_change_batch_makes_the_applier_list_and_plan_again(
        moto_route53: MotoRoute53, throttling_proxy: ThrottlingProxy) -> None:
    zone_id = hosted_zone(moto_route53.url)
    provider = make_provider("route53", {"zone_id": zone_id, "endpoint_url": throttling_proxy.url, **CREDS})
    applier = ProviderApplier(provider)
    first = RecordSet(f"{P}.example.com.", "A", 60, ("192.0.2.1",))
    await applier.sync_service(ZONE, OWNER, [first])
    lists = applier.stats.lists
    # Route 53's answer when a CREATE meets an existing set (moto itself is more lenient).
    throttling_proxy.state.code = "InvalidChangeBatch"
    throttling_proxy.state.message = f"[Tried to create resource record set [name='{P}.us-central1.example.com.', " \
                                     "type='A'] but it already exists]"
    throttling_proxy.state.fail_changes = 1
    second = RecordSet(f"{P}.us-central1.example.com.", "A", 60, ("192.0.2.1",))
    result = await applier.sync_service(ZONE, OWNER, [first, second])
    assert applier.stats.replans == 1 and applier.stats.lists == lists + 1 and applier.stats.retries == 0
    assert result.applied == 2
    assert not plan_changes([first, second], await provider.list_records(ZONE), OWNER)


async def test_unknown_zone_is_not_retryable(moto_route53: MotoRoute53) -> None:
    provider = make_provider("route53", {"endpoint_url": moto_route53.url, **CREDS})
    with pytest.raises(ProviderError) as err:
        await provider.list_records("nowhere.example.")
    assert not err.value.retryable
