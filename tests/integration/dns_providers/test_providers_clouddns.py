"""The Cloud DNS provider, through the real google-cloud-dns client, against a fake of the REST API."""

from __future__ import annotations

import pytest

from kfed.dns.plan import Owner, plan_changes, plan_zone
from kfed.dns.providers.applier import ProviderApplier
from kfed.dns.providers.base import ProviderError
from kfed.dns.providers.factory import make_provider
from kfed.dns.providers.ratelimit import Backoff
from kfed.dns.records import FederatedService, RecordSet, Shard, desired_records
from tests.integration.dns_providers.clouddns_fake import FakeCloudDNS

ZONE = "example.com."
FED = "myfederation"
OWNER = Owner(FED, "mynamespace", "nginx")
P = "nginx.mynamespace.myfederation.svc"


def provider_config(fake: FakeCloudDNS, **extra: object) -> dict[str, object]:
    return {"project": fake.project, "endpoint_url": fake.url, "anonymous": True, "poll_interval": 0.01,
            "requests_per_second": 1000.0, **extra}


def guide_service(us_central1_b_ready: bool = True) -> FederatedService:
    return FederatedService("nginx", "mynamespace", (
        Shard("a", "us-central1", ("us-central1-a",), ("104.197.247.191",), (), 1, True),
        Shard("b", "us-central1", ("us-central1-b",) if us_central1_b_ready else (), ("104.197.244.180",), (),
              1 if us_central1_b_ready else 0, True),
        Shard("f", "us-central1", (), ("104.197.240.10",), (), 0, True),
        Shard("d", "europe-west1", (), ("104.155.1.3",), (), 0, True),
    ), all_zones=frozenset({("us-central1", "us-central1-a"), ("us-central1", "us-central1-b"),
                            ("us-central1", "us-central1-f"), ("europe-west1", "europe-west1-d")}))


async def test_the_guides_listing_through_cloud_dns(fake_clouddns: FakeCloudDNS) -> None:
    provider = make_provider("clouddns", provider_config(fake_clouddns))  # managed zone found by DNS name
    applier = ProviderApplier(provider)
    desired = desired_records(guide_service(), FED, ZONE)
    result = await applier.sync_service(ZONE, OWNER, desired)
    assert result.requests == 1 and fake_clouddns.change_requests == 1
    assert any("/changes/" in r for r in fake_clouddns.requests)  # the pending change was polled until done

    # What `gcloud dns record-sets list --zone example-dot-com` would print, in the guide's shape.
    zone = fake_clouddns.zones["example-dot-com"]
    listing = {(r["name"], r["type"]): (r["ttl"], r["rrdatas"]) for r in zone.rrsets.values()}
    assert listing[(f"{P}.example.com.", "A")] == (180, ["104.197.244.180", "104.197.247.191"])
    assert listing[(f"{P}.us-central1-f.example.com.", "CNAME")] == (180, [f"{P}.us-central1.example.com."])
    assert listing[(f"{P}.europe-west1.example.com.", "CNAME")] == (180, [f"{P}.example.com."])
    assert listing[(f"{P}.europe-west1-d.example.com.", "CNAME")] == (180, [f"{P}.europe-west1.example.com."])
    assert listing[(f"_kfed-owner.{P}.example.com.", "TXT")] == (300, [OWNER.txt()])

    # Listed back through the client (paged: 50 per page), nothing is left to do.
    listed = await provider.list_records(ZONE)
    assert len(listed) == len(zone.rrsets) and not plan_changes(desired, listed, OWNER)

    # us-central1-b loses its endpoints: deletions carry the exact old sets, or the fake refuses them.
    down = desired_records(guide_service(us_central1_b_ready=False), FED, ZONE)
    result = await applier.sync_service(ZONE, OWNER, down)
    assert result.requests == 1 and applier.stats.replans == 0
    assert listing != {(r["name"], r["type"]): (r["ttl"], r["rrdatas"]) for r in zone.rrsets.values()}
    assert zone.rrsets[(f"{P}.us-central1-b.example.com.", "CNAME")]["rrdatas"] == [f"{P}.us-central1.example.com."]
    assert not plan_changes(down, await provider.list_records(ZONE), OWNER)

    await applier.sync_service(ZONE, OWNER, [])
    assert {key[1] for key in zone.rrsets} == {"SOA", "NS"}


async def test_rate_limit_and_server_errors_are_retried(fake_clouddns: FakeCloudDNS) -> None:
    provider = make_provider("clouddns", provider_config(fake_clouddns, managed_zone="example-dot-com"))
    applier = ProviderApplier(provider, backoff=Backoff(base=0.01, cap=0.05))
    fake_clouddns.fail_next = [(429, "rateLimitExceeded"), (403, "rateLimitExceeded"), (503, "backendError")]
    desired = desired_records(guide_service(), FED, ZONE)
    await applier.sync_service(ZONE, OWNER, desired)
    assert applier.stats.retries == 3 and applier.stats.throttled == 2
    assert not plan_changes(desired, await provider.list_records(ZONE), OWNER)


async def test_zone_changed_behind_kfed_is_listed_again(fake_clouddns: FakeCloudDNS) -> None:
    provider = make_provider("clouddns", provider_config(fake_clouddns, managed_zone="example-dot-com"))
    applier = ProviderApplier(provider)
    record = RecordSet(f"{P}.example.com.", "A", 60, ("192.0.2.1",))
    await applier.sync_service(ZONE, OWNER, [record])
    # Someone edits kfed's record in the console: the exact-match deletion now fails with 412.
    zone = fake_clouddns.zones["example-dot-com"]
    zone.rrsets[(record.name, "A")]["rrdatas"] = ["192.0.2.77"]
    moved = RecordSet(record.name, "A", 60, ("192.0.2.2",))
    result = await applier.sync_service(ZONE, OWNER, [moved])
    assert applier.stats.replans == 1 and result.applied == 1
    assert zone.rrsets[(record.name, "A")]["rrdatas"] == ["192.0.2.2"]


async def test_many_changes_are_batched(fake_clouddns: FakeCloudDNS) -> None:
    provider = make_provider("clouddns", provider_config(fake_clouddns, managed_zone="example-dot-com"))
    owners = {Owner(FED, "bulk", f"s{i}"): [RecordSet(f"s{i}.bulk.{FED}.svc.{ZONE}", "A", 60, (f"10.0.{i // 250}.{i % 250}",))]
              for i in range(1500)}
    result = await ProviderApplier(provider).sync(ZONE, owners, FED)
    assert result.applied == 3000 and result.requests == fake_clouddns.change_requests == 3
    assert not plan_zone(owners, await provider.list_records(ZONE), FED)


async def test_unknown_project_or_zone_is_not_retryable(fake_clouddns: FakeCloudDNS) -> None:
    provider = make_provider("clouddns", provider_config(fake_clouddns))
    with pytest.raises(ProviderError) as err:
        await provider.list_records("nowhere.example.")
    assert not err.value.retryable
    other = make_provider("clouddns", {**provider_config(fake_clouddns), "project": "someone-else",
                                       "managed_zone": "example-dot-com"})
    with pytest.raises(ProviderError) as err:
        await other.list_records(ZONE)
    assert not err.value.retryable
