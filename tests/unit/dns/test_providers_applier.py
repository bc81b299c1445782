"""ProviderApplier against the in-memory twin: retries, backoff, rate limits, replans, convergence."""

from __future__ import annotations

import pytest

from kfed.dns.plan import Owner, apply_to, plan_zone, registry_name
from kfed.dns.providers.applier import ProviderApplier
from kfed.dns.providers.base import ProviderError, ProviderLimits
from kfed.dns.providers.memory import InMemoryProvider
from kfed.dns.providers.ratelimit import Backoff, TokenBucket
from kfed.dns.records import RecordSet

ZONE = "example.com."
FED = "fed"


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def owner(i: int) -> Owner:
    return Owner(FED, "ns", f"svc{i}")


def desired(n: int, ip: str = "192.0.2.1") -> dict[Owner, list[RecordSet]]:
    return {owner(i): [RecordSet(f"svc{i}.ns.{FED}.svc.example.com.", "A", 180, (ip,))] for i in range(n)}


def make(limits: ProviderLimits | None = None, **kwargs: object) -> tuple[InMemoryProvider, ProviderApplier, FakeTime]:
    provider = InMemoryProvider([ZONE], limits)
    t = FakeTime()
    applier = ProviderApplier(provider, clock=t.clock, sleep=t.sleep, rng=lambda: 0.5, **kwargs)  # type: ignore[arg-type]
    return provider, applier, t


def wanted_in(provider: InMemoryProvider) -> set[RecordSet]:
    return {r for r in provider.records(ZONE) if r.type != "TXT"}


async def test_sync_then_steady_state_makes_no_provider_calls() -> None:
    provider, applier, _ = make()
    result = await applier.sync(ZONE, desired(3), FED)
    assert result.applied == 6 and result.requests == 1 and not result.conflicts
    assert wanted_in(provider) == {r for rs in desired(3).values() for r in rs}
    calls = (provider.list_calls, provider.apply_calls)
    again = await applier.sync(ZONE, desired(3), FED)
    assert again.applied == 0 and not again.plan
    assert (provider.list_calls, provider.apply_calls) == calls


async def test_resync_interval_lists_again_and_repairs_drift() -> None:
    provider, applier, t = make(resync_interval=60.0)
    await applier.sync(ZONE, desired(1), FED)
    provider.zones[ZONE].pop(("svc0.ns.fed.svc.example.com.", "A"))  # someone deleted it
    t.now += 61
    result = await applier.sync(ZONE, desired(1), FED)
    assert result.applied == 1 and provider.list_calls == 2
    assert wanted_in(provider) == set(desired(1)[owner(0)])


async def test_throttling_is_retried_with_growing_backoff() -> None:
    provider, applier, t = make(backoff=Backoff(base=1.0, factor=2.0, cap=30.0))
    provider.fail_next = [ProviderError("Throttling", retryable=True, throttled=True) for _ in range(3)]
    await applier.sync(ZONE, desired(2), FED)
    # the three failures hit the listing; rng 0.5 -> 0.75 of each ceiling 1, 2, 4
    backoffs = [s for s in t.sleeps if s in (0.75, 1.5, 3.0)]
    assert backoffs == [0.75, 1.5, 3.0]
    assert applier.stats.retries == 3 and applier.stats.throttled == 3
    assert wanted_in(provider) == {r for rs in desired(2).values() for r in rs}


async def test_retry_after_is_honoured() -> None:
    provider, applier, t = make(backoff=Backoff(base=0.1))
    provider.fail_next = [ProviderError("slow down", retryable=True, retry_after=7.0)]
    await applier.sync(ZONE, desired(1), FED)
    assert 7.0 in t.sleeps


async def test_gives_up_after_max_attempts_and_forgets_the_zone() -> None:
    provider, applier, _ = make(max_attempts=3)
    await applier.sync(ZONE, desired(1), FED)
    provider.fail_next = [ProviderError("503", retryable=True) for _ in range(3)]
    with pytest.raises(ProviderError):
        await applier.sync(ZONE, desired(2), FED)
    assert applier.stats.failures == 1 and applier.stats.retries == 2
    lists = provider.list_calls
    await applier.sync(ZONE, desired(2), FED)
    assert provider.list_calls == lists + 1  # the picture of the zone was dropped
    assert len(wanted_in(provider)) == 2


async def test_non_retryable_error_is_not_retried() -> None:
    provider, applier, _ = make()
    provider.fail_next = [ProviderError("403 forbidden", retryable=False)]
    with pytest.raises(ProviderError, match="forbidden"):
        await applier.sync(ZONE, desired(1), FED)
    assert applier.stats.retries == 0


async def test_zone_changed_under_the_plan_triggers_a_replan() -> None:
    provider, applier, _ = make()
    await applier.sync(ZONE, desired(1), FED)
    # Behind kfed's back the record vanishes: the cached picture says UPDATE, the zone needs CREATE.
    provider.zones[ZONE].pop(("svc0.ns.fed.svc.example.com.", "A"))
    result = await applier.sync(ZONE, desired(1, ip="192.0.2.99"), FED)
    assert applier.stats.replans == 1 and result.applied == 1
    assert wanted_in(provider) == set(desired(1, ip="192.0.2.99")[owner(0)])


async def test_crash_mid_plan_then_a_fresh_applier_converges() -> None:
    limits = ProviderLimits(max_records=10, max_chars=10_000, requests_per_second=100.0)
    provider, applier, _ = make(limits)
    ok = [None, None]  # the listing and the first batch succeed, then the "process dies"

    original_apply = provider.apply
    calls = 0

    async def dying_apply(zone: str, batch: object) -> None:
        nonlocal calls
        calls += 1
        if calls > len(ok) - 1:
            raise ProviderError("connection reset; process exits", retryable=False)
        await original_apply(zone, batch)  # type: ignore[arg-type]

    provider.apply = dying_apply  # type: ignore[method-assign]
    with pytest.raises(ProviderError):
        await applier.sync(ZONE, desired(20), FED)
    partial = wanted_in(provider)
    assert 0 < len(partial) < 20
    provider.apply = original_apply  # type: ignore[method-assign]
    _, fresh, _ = make(limits)
    fresh.provider = provider
    result = await fresh.sync(ZONE, desired(20), FED)
    assert wanted_in(provider) == {r for rs in desired(20).values() for r in rs}
    assert result.applied == 2 * (20 - len(partial))  # only what was missing: record + marker each
    assert not plan_zone(desired(20), provider.records(ZONE), FED)


async def test_batches_within_limits_and_rate_limited() -> None:
    limits = ProviderLimits(max_records=100, max_chars=100_000, requests_per_second=5.0, burst=1)
    provider, applier, t = make(limits)
    result = await applier.sync(ZONE, desired(500), FED)
    assert result.requests == 10  # 500 names x (record + marker) / 100
    assert all(sum(c.records_cost for c in b) <= 100 for b in provider.batches)
    # 11 calls (a listing and 10 batches) at 5/s with a burst of 1: 10 waits of 0.2 s
    assert sum(t.sleeps) == pytest.approx(2.0)
    assert applier.stats.requests == 10 and applier.stats.changes == 1000


async def test_deleting_a_service_via_sync_service_removes_its_names() -> None:
    provider, applier, _ = make()
    await applier.sync(ZONE, desired(2), FED)
    await applier.sync_service(ZONE, owner(1), [])
    names = {r.name for r in provider.records(ZONE)}
    assert names == {"svc0.ns.fed.svc.example.com.", registry_name("svc0.ns.fed.svc.example.com.")}


async def test_conflicts_are_counted_and_left_alone() -> None:
    provider, applier, _ = make()
    mine = RecordSet("svc0.ns.fed.svc.example.com.", "A", 60, ("203.0.113.1",))
    provider.put(ZONE, mine)
    result = await applier.sync(ZONE, desired(1), FED)
    assert [c.name for c in result.conflicts] == [mine.name]
    assert provider.records(ZONE) == [mine] and applier.stats.conflicts == 1


async def test_token_bucket_paces_and_drains() -> None:
    t = FakeTime()
    bucket = TokenBucket(10.0, burst=3, clock=t.clock, sleep=t.sleep)
    for _ in range(3):
        assert await bucket.acquire() == 0.0
    assert await bucket.acquire() == pytest.approx(0.1)
    bucket.drain()
    t.now += 0.05
    assert await bucket.acquire() == pytest.approx(0.05)


def test_backoff_is_capped_and_jittered() -> None:
    b = Backoff(base=1.0, factor=2.0, cap=10.0)
    assert b.delay(0, lambda: 0.0) == 0.5
    assert b.delay(2, lambda: 1.0) == 4.0
    assert b.delay(20, lambda: 1.0) == 10.0
    assert b.delay(0, lambda: 0.0, at_least=3.0) == 3.0


def test_apply_to_is_what_the_twin_does() -> None:
    plan = plan_zone(desired(3), [], FED)
    assert len(apply_to([], plan.changes)) == 6


async def test_a_sync_of_some_services_plans_over_their_records_only(monkeypatch: pytest.MonkeyPatch) -> None:
    import kfed.dns.providers.applier as applier_module

    provider, applier, _ = make()
    await applier.sync(ZONE, desired(200), FED)
    seen: list[int] = []
    real_plan_zone = applier_module.plan_zone

    def spying_plan_zone(want: object, current: list[RecordSet], *args: object, **kwargs: object) -> object:
        seen.append(len(current))
        return real_plan_zone(want, current, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(applier_module, "plan_zone", spying_plan_zone)
    moved = {owner(i): desired(i + 1, ip="192.0.2.7")[owner(i)] for i in (3, 150)}
    result = await applier.sync(ZONE, {**moved, owner(7): []}, FED, collect_garbage=False)
    # One plan, over the three Services' names and markers: not the zone's 400 record sets.
    assert seen == [6]
    assert result.applied == 2 + 2  # two updates; svc7's record and marker deleted
    assert wanted_in(provider) == ({r for rs in desired(200).values() for r in rs}
                                   - set(desired(200)[owner(3)]) - set(desired(200)[owner(150)])
                                   - set(desired(200)[owner(7)]) | set(moved[owner(3)]) | set(moved[owner(150)]))
    monkeypatch.undo()
    # The applier's picture still matches the zone: a full plan has nothing to do.
    everyone = {**desired(200), **moved}
    del everyone[owner(7)]
    assert not (await applier.sync(ZONE, everyone, FED)).plan
