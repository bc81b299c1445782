"""The RFC 2136 provider against real BIND 9 and Knot, checked with queries over the wire."""

from __future__ import annotations

import asyncio

import dns.asyncquery
import dns.message
import dns.rcode
import dns.rdatatype
import dns.tsig
import dns.update
import pytest

from kfed.dns.plan import Owner, plan_changes, registry_name
from kfed.dns.providers.applier import ProviderApplier
from kfed.dns.providers.base import ProviderError
from kfed.dns.providers.factory import make_provider
from kfed.dns.providers.rfc2136 import RFC2136Config, RFC2136Provider
from kfed.dns.records import FederatedService, RecordSet, Shard, desired_records
from tests.integration.dns_providers.rfc2136_peers import DNSServer, free_port

FED = "myfederation"
OWNER = Owner(FED, "mynamespace", "nginx")
P = "nginx.mynamespace.myfederation.svc"
ZONES = {"us-central1-a": "192.0.2.1", "us-central1-b": "192.0.2.2", "us-central1-f": "192.0.2.6",
         "europe-west1-d": "198.51.100.4"}


def guide_like(down: frozenset[str] = frozenset({"us-central1-f", "europe-west1-d"})) -> FederatedService:
    shards = []
    for zone, ip in ZONES.items():
        ready = 0 if zone in down else 2
        shards.append(Shard(zone, zone.rsplit("-", 1)[0], (zone,) if ready else (), (ip,), (), ready, True))
    return FederatedService("nginx", "mynamespace", tuple(shards),
                            all_zones=frozenset((z.rsplit("-", 1)[0], z) for z in ZONES))


def provider_for(server: DNSServer, secret: str | None = None) -> RFC2136Provider:
    return RFC2136Provider(RFC2136Config(server=server.address, port=server.port, tsig_key_name=server.key_name,
                                         tsig_secret=secret or server.secret, timeout=5.0))


async def ask(server: DNSServer, name: str, rdtype: str) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype)
    return await dns.asyncquery.udp(query, server.address, port=server.port, timeout=5.0)


def answer_data(response: dns.message.Message) -> dict[tuple[str, str], set[str]]:
    out: dict[tuple[str, str], set[str]] = {}
    for rrset in response.answer:
        out[(rrset.name.to_text(), dns.rdatatype.to_text(rrset.rdtype))] = {rd.to_text() for rd in rrset}
    return out


async def test_guide_records_are_served_and_follow_health(dns_server: DNSServer) -> None:
    provider = provider_for(dns_server)
    applier = ProviderApplier(provider)
    desired = desired_records(guide_like(), FED, dns_server.zone)
    result = await applier.sync_service(dns_server.zone, OWNER, desired)
    assert not result.conflicts and result.applied == 2 * len(desired)

    # A resolver asking for the zone name of us-central1-f climbs the CNAME to the region's A set.
    got = answer_data(await ask(dns_server, f"{P}.us-central1-f.example.com.", "A"))
    assert got == {
        (f"{P}.us-central1-f.example.com.", "CNAME"): {f"{P}.us-central1.example.com."},
        (f"{P}.us-central1.example.com.", "A"): {"192.0.2.1", "192.0.2.2"},
    }
    # europe-west1-d -> europe-west1 -> global, as the guide describes.
    got = answer_data(await ask(dns_server, f"{P}.europe-west1-d.example.com.", "A"))
    assert got[(f"{P}.europe-west1-d.example.com.", "CNAME")] == {f"{P}.europe-west1.example.com."}
    assert got[(f"{P}.europe-west1.example.com.", "CNAME")] == {f"{P}.example.com."}
    assert got[(f"{P}.example.com.", "A")] == {"192.0.2.1", "192.0.2.2"}
    # The ownership marker is there too, beside (below) the CNAME.
    marker = answer_data(await ask(dns_server, registry_name(f"{P}.europe-west1.example.com."), "TXT"))
    assert list(marker.values()) == [{OWNER.txt()}]

    # Listing the zone back (AXFR with TSIG) shows exactly what was planned: the next plan is empty.
    listed = await provider.list_records(dns_server.zone)
    assert set(desired) <= set(listed)
    assert not plan_changes(desired, listed, OWNER)

    # us-central1-b loses its endpoints and us-central1-f gains some: a minimal plan, served at once.
    healed = desired_records(guide_like(frozenset({"us-central1-b", "europe-west1-d"})), FED, dns_server.zone)
    result = await applier.sync_service(dns_server.zone, OWNER, healed)
    assert 0 < result.applied <= 6
    got = answer_data(await ask(dns_server, f"{P}.us-central1-b.example.com.", "A"))
    assert got[(f"{P}.us-central1.example.com.", "A")] == {"192.0.2.1", "192.0.2.6"}
    assert got[(f"{P}.us-central1-b.example.com.", "CNAME")] == {f"{P}.us-central1.example.com."}
    assert not plan_changes(healed, await provider.list_records(dns_server.zone), OWNER)

    # dig, as the guide suggests, sees the same.
    dig = await asyncio.create_subprocess_exec(
        "dig", "+short", "-p", str(dns_server.port), f"@{dns_server.address}", f"{P}.us-central1-a.example.com.", "A",
        stdout=asyncio.subprocess.PIPE)
    out, _ = await asyncio.wait_for(dig.communicate(), timeout=20)
    assert out.decode().split() == ["192.0.2.1"]

    # Deleting the Service removes every record it caused and nothing else.
    await applier.sync_service(dns_server.zone, OWNER, [])
    left = await provider.list_records(dns_server.zone)
    assert {(r.name, r.type) for r in left} == {("example.com.", "SOA"), ("example.com.", "NS"),
                                                ("ns1.example.com.", "A")}
    assert (await ask(dns_server, f"{P}.example.com.", "A")).rcode() == dns.rcode.NXDOMAIN


async def test_records_kfed_does_not_own_are_left_alone(dns_server: DNSServer) -> None:
    provider = provider_for(dns_server)
    key = dns.tsig.Key(dns_server.key_name, dns_server.secret, dns.tsig.HMAC_SHA256)
    # An operator's own record at the global name, put there with nsupdate-style tooling.
    update = dns.update.UpdateMessage(dns_server.zone, keyring=key)
    update.add(f"{P}.example.com.", 60, "A", "203.0.113.7")
    response = await dns.asyncquery.tcp(update, dns_server.address, port=dns_server.port, timeout=5.0)
    assert response.rcode() == dns.rcode.NOERROR

    applier = ProviderApplier(provider)
    result = await applier.sync_service(dns_server.zone, OWNER, desired_records(guide_like(), FED, dns_server.zone))
    assert [c.name for c in result.conflicts] == [f"{P}.example.com."]
    got = answer_data(await ask(dns_server, f"{P}.example.com.", "A"))
    assert got == {(f"{P}.example.com.", "A"): {"203.0.113.7"}}
    # Everything else was written.
    got = answer_data(await ask(dns_server, f"{P}.us-central1-a.example.com.", "A"))
    assert got == {(f"{P}.us-central1-a.example.com.", "A"): {"192.0.2.1"}}
    # And removing the Service leaves the operator's record.
    await applier.sync_service(dns_server.zone, OWNER, [])
    assert answer_data(await ask(dns_server, f"{P}.example.com.", "A")) == {
        (f"{P}.example.com.", "A"): {"203.0.113.7"}}
    assert (await ask(dns_server, f"{P}.us-central1-a.example.com.", "A")).rcode() == dns.rcode.NXDOMAIN


async def test_wrong_tsig_secret_is_refused_and_not_retried(dns_server: DNSServer) -> None:
    bad = provider_for(dns_server, secret="c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=")
    with pytest.raises(ProviderError) as err:
        await bad.list_records(dns_server.zone)
    assert not err.value.retryable
    change_plan = plan_changes([RecordSet(f"x.{dns_server.zone}", "A", 60, ("192.0.2.1",))], [], OWNER)
    with pytest.raises(ProviderError) as err:
        await bad.apply(dns_server.zone, change_plan.changes)
    assert not err.value.retryable
    assert (await ask(dns_server, f"x.{dns_server.zone}", "A")).rcode() == dns.rcode.NXDOMAIN


async def test_many_names_in_few_messages_and_replays_are_harmless(dns_server: DNSServer) -> None:
    provider = make_provider("rfc2136", {"server": dns_server.address, "port": dns_server.port,
                                         "tsig_key_name": dns_server.key_name, "tsig_secret": dns_server.secret,
                                         "tsig_algorithm": "hmac-sha256", "requests_per_second": 100})
    desired = [RecordSet(f"host-{i:04d}.example.com.", "A", 60, (f"10.1.{i // 250}.{i % 250}",)) for i in range(1200)]
    plan = plan_changes(desired, await provider.list_records(dns_server.zone), OWNER)
    applier = ProviderApplier(provider)
    requests = await applier.apply_plan(dns_server.zone, plan)
    assert requests == len(plan.batches(provider.limits.max_records, provider.limits.max_chars)) <= 6
    listed = await provider.list_records(dns_server.zone)
    assert set(desired) <= set(listed)
    # A batch sent twice (an answer lost, the request retried) leaves the zone as sent once.
    first = plan.batches(provider.limits.max_records, provider.limits.max_chars)[0]
    await provider.apply(dns_server.zone, first)
    assert await provider.list_records(dns_server.zone) == listed
    assert not plan_changes(desired, listed, OWNER)


async def test_unreachable_server_is_retryable() -> None:
    provider = RFC2136Provider(RFC2136Config(server="127.0.0.1", port=free_port(), timeout=1.0))
    with pytest.raises(ProviderError) as err:
        await provider.list_records("example.com.")
    assert err.value.retryable


def long_name(i: int) -> str:
    # 4 labels of 40 characters: ~180-character names, so a batch outgrows one 64 KiB DNS message
    return ".".join(f"{i:04d}" + c * 36 for c in "wxyz") + ".example.com."


async def test_batches_larger_than_one_dns_message_are_split_by_name(dns_server: DNSServer) -> None:
    provider = provider_for(dns_server)
    desired = [RecordSet(long_name(i), "A", 60, (f"10.2.{i // 250}.{i % 250}",)) for i in range(240)]
    plan = plan_changes(desired, [], OWNER)
    batches = plan.batches(provider.limits.max_records, provider.limits.max_chars)
    assert len(batches) == 1  # within the record and character limits...
    messages = provider._messages(dns_server.zone, batches[0])
    assert len(messages) > 1  # ...but not within one message
    assert all(len(m.to_wire()) <= 65_535 for m in messages)
    await provider.apply(dns_server.zone, batches[0])
    assert not plan_changes(desired, await provider.list_records(dns_server.zone), OWNER)
