"""DNSController passes against the in-memory provider: one plan per pass, whole-zone passes only when needed."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from kfed.controllers.dns import DNSController
from kfed.controllers.manager import FederationSettings
from kfed.controllers.shards import SHARDS_ANNOTATION, Shard, encode_shards
from kfed.dns.providers import ProviderApplier, ProviderError
from kfed.dns.providers.memory import InMemoryProvider
from kfed.dns.records import RecordSet

ZONE = "example.com."
FED = "fed"
TOPOLOGY = {"c1": ("r1", ["r1-a"]), "c2": ("r2", ["r2-a"])}

Obj = dict[str, Any]


class FakeClusters:
    def __init__(self) -> None:
        self.on_ready_change: list[Any] = []
        self.states = dict(TOPOLOGY)
        self.clusters = SimpleNamespace(cache={}, synced=asyncio.Event())

    def known_clusters(self) -> list[str]:
        return sorted(self.states)

    def topology(self, name: str) -> tuple[str, list[str]]:
        return self.states.get(name, ("", []))


class FakeEvents:
    def __init__(self) -> None:
        self.recorded: list[tuple[str, str]] = []

    def record(self, obj: Obj, type_: str, reason: str, message: str) -> None:
        self.recorded.append((obj["metadata"]["name"], reason))


def service(i: int, last_octet: int = 1) -> Obj:
    shards = [Shard(cluster=c, region=r, zones=z, addresses=[f"192.0.2.{last_octet}" if c == "c1" else "198.51.100.1"],
                    readyEndpoints=1, healthy=True) for c, (r, z) in TOPOLOGY.items()]
    return {"metadata": {"name": f"s{i}", "namespace": "ns", "annotations": {SHARDS_ANNOTATION: encode_shards(shards)}}}


class Spy:
    """Counts the applier's syncs and how many Services each planned."""

    def __init__(self, applier: ProviderApplier) -> None:
        self.calls: list[tuple[int, bool]] = []
        real = applier.sync

        async def sync(zone: str, desired: Any, federation: str, *, collect_garbage: bool = True) -> Any:
            self.calls.append((len(desired), collect_garbage))
            return await real(zone, desired, federation, collect_garbage=collect_garbage)

        applier.sync = sync  # type: ignore[method-assign]


def make(n: int) -> tuple[DNSController, InMemoryProvider, FakeClusters, FakeEvents, Spy]:
    clusters, events = FakeClusters(), FakeEvents()
    controller = DNSController(None, clusters, FederationSettings(federation=FED, dns_zone=ZONE),  # type: ignore[arg-type]
                               events)  # type: ignore[arg-type]
    provider = InMemoryProvider([ZONE])
    controller.applier = ProviderApplier(provider, resync_interval=None)
    controller.services.cache = {f"ns/s{i}": service(i) for i in range(n)}
    return controller, provider, clusters, events, Spy(controller.applier)


def change(controller: DNSController, i: int, last_octet: int) -> None:
    key = f"ns/s{i}"
    old, new = controller.services.cache[key], service(i, last_octet)
    controller.services.cache[key] = new
    controller._on_service("MODIFIED", new, old)


def global_a(provider: InMemoryProvider, i: int) -> tuple[str, ...]:
    return next(r.data for r in provider.records(ZONE) if r.name == f"s{i}.ns.{FED}.svc.example.com." and r.type == "A")


async def test_changed_services_are_planned_together_and_readiness_alone_plans_nothing() -> None:
    controller, provider, clusters, _, spy = make(20)
    await controller.sync_once()  # the first pass covers the whole zone: every Service, one plan
    assert spy.calls == [(20, False)] and provider.list_calls == 1
    names = len(provider.records(ZONE))
    assert names == 20 * (1 + 2 + 2) * 2  # global, two regions, two zones: records and markers

    for i in (3, 4, 5):
        change(controller, i, 9)
    await controller.sync_once()
    assert spy.calls[1:] == [(3, False)]  # one plan for the three, no garbage collection
    assert provider.list_calls == 1 and len(provider.batches) == 2  # from the applier's picture; one batch
    assert {global_a(provider, i) for i in (3, 4, 5)} == {("192.0.2.9", "198.51.100.1")}
    assert global_a(provider, 6) == ("192.0.2.1", "198.51.100.1")

    # A cluster turning Ready with the same topology: a pass that plans nothing.
    clusters.on_ready_change[0]("c1")
    await controller.sync_once()
    assert spy.calls[2:] == [] and len(provider.batches) == 2
    # A new zone: every Service gets its name, in one full pass.
    clusters.states["c3"] = ("r1", ["r1-b"])
    clusters.on_ready_change[0]("c3")
    await controller.sync_once()
    assert spy.calls[2:] == [(20, False)] and len(provider.records(ZONE)) == names + 20 * 2


async def test_conflicts_and_failures_reach_the_right_services() -> None:
    controller, provider, _, events, _ = make(5)
    theirs = RecordSet(f"s1.ns.{FED}.svc.r1-a.example.com.", "A", 60, ("203.0.113.5",))
    provider.put(ZONE, theirs)
    await controller.sync_once()
    assert events.recorded == [("s1", "DNSNameConflict")] and controller.conflicts == 1
    assert theirs in provider.records(ZONE)

    change(controller, 2, 7)
    change(controller, 3, 7)
    provider.fail_next = [ProviderError("403 forbidden", retryable=False)]
    try:
        await controller.sync_once()
    except ProviderError:
        pass
    else:
        raise AssertionError("the provider error must reach the run loop")
    assert sorted(events.recorded[1:]) == [("s2", "DNSProviderError"), ("s3", "DNSProviderError")]
    controller._mark_all()  # what the run loop does after a failure
    await controller.sync_once()
    assert sorted(events.recorded[3:]) == [("s2", "DNSProviderRecovered"), ("s3", "DNSProviderRecovered")]
    assert global_a(provider, 2) == ("192.0.2.7", "198.51.100.1")


async def test_a_backlog_goes_in_passes_that_read_fresh_shards() -> None:
    controller, provider, _, _, spy = make(25)
    controller.max_services_per_pass = 10
    await controller.sync_once()
    assert spy.calls == [(10, False)] and controller._wake.is_set()  # 15 wait; the run loop goes on
    assert not controller.idle()
    change(controller, 20, 9)  # queued already: changes while it waits cost no extra write
    change(controller, 0, 9)  # written already: queued again, at the end
    await controller.sync_once()
    await controller.sync_once()
    assert spy.calls[1:] == [(10, False), (6, False)] and not controller._dirty
    controller._wake.clear()  # as the run loop does before each pass
    assert controller.idle()
    assert global_a(provider, 20) == global_a(provider, 0) == ("192.0.2.9", "198.51.100.1")
    s20 = [c for b in provider.batches for c in b if c.record.name == f"s20.ns.{FED}.svc.example.com."]
    assert [c.action.value for c in s20] == ["CREATE"]  # written once, with the newest shards


async def test_a_whole_zone_pass_removes_the_records_of_deleted_services() -> None:
    controller, provider, _, _, spy = make(3)
    await controller.sync_once()
    del controller.services.cache["ns/s1"]  # deleted while the controller was not watching
    foreign = RecordSet("other.example.com.", "A", 60, ("203.0.113.9",))
    provider.put(ZONE, foreign)
    controller.request_full_pass()
    await controller.sync_once()
    assert spy.calls[1:] == [(1, False), (2, False)]  # s1's deletion, then the live Services
    assert not any(r.name.startswith("s1.") or ".s1." in r.name for r in provider.records(ZONE))
    assert foreign in provider.records(ZONE) and global_a(provider, 0) == ("192.0.2.1", "198.51.100.1")
