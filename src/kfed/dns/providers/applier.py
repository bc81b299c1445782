"""Applying plans to any DNSProvider: batched, rate limited, retried, and convergent.

`ProviderApplier.sync` is the whole loop: know the zone (list it, or use what the last sync left),
plan, apply the plan in batches. Re-running it after a crash or a failed batch converges, since
each run plans from the zone as it is. Between syncs the applier keeps its own picture of the zone
(the last listing with every applied batch folded in), so at steady state, with nothing to change,
a sync makes no provider call at all; `resync_interval` bounds how long that picture is trusted
before the zone is listed again to notice changes made behind kfed's back.

That picture is a ZoneIndex (by name and by owner): a sync of some Services without garbage
collection (`collect_garbage=False`, or `sync_service`) plans over only the records those Services
touch, so its cost follows their records, not the zone's size.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from kfed.dns.names import absolute
from kfed.dns.plan import Batch, Conflict, Owner, Plan, plan_changes, plan_zone
from kfed.dns.providers.base import DNSProvider, ProviderError
from kfed.dns.providers.ratelimit import Backoff, Clock, Sleep, TokenBucket
from kfed.dns.providers.zoneindex import ZoneIndex
from kfed.dns.records import RecordSet

log = logging.getLogger(__name__)
T = TypeVar("T")
PLAN_ASIDE_NAMES = 2000  # plans over more names than this are computed in a worker thread


@dataclass
class ApplierStats:
    """Counters for metrics; they only grow."""

    lists: int = 0  # zone listings
    requests: int = 0  # change requests that succeeded
    changes: int = 0  # RRset changes applied
    retries: int = 0  # requests sent again after a retryable error
    throttled: int = 0  # of those, the provider said slow down
    replans: int = 0  # zone listed again because it was not what the plan assumed
    failures: int = 0  # syncs that gave up with an error
    conflicts: int = 0  # names left alone because kfed does not own them (summed over syncs)


@dataclass(frozen=True)
class SyncResult:
    plan: Plan  # the last plan computed
    applied: int  # changes applied in this sync
    requests: int  # change requests sent in this sync (successful ones)
    conflicts: tuple[Conflict, ...] = ()


@dataclass
class _ZoneState:
    index: ZoneIndex
    listed_at: float


class ProviderApplier:
    def __init__(
        self,
        provider: DNSProvider,
        *,
        max_attempts: int = 6,
        max_replans: int = 3,
        backoff: Backoff | None = None,
        resync_interval: float | None = 300.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.provider = provider
        self.max_attempts = max_attempts
        self.max_replans = max_replans
        self.backoff = backoff or Backoff()
        self.resync_interval = resync_interval
        self.stats = ApplierStats()
        self._clock = clock
        self._sleep = sleep
        self._rng = rng
        limits = provider.limits
        self._bucket = TokenBucket(limits.requests_per_second, limits.burst, clock=clock, sleep=sleep)
        self._zones: dict[str, _ZoneState] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def invalidate(self, zone: str | None = None) -> None:
        """Forget what the applier believes a zone (or every zone) holds: the next sync lists it."""
        if zone is None:
            self._zones.clear()
        else:
            self._zones.pop(absolute(zone), None)

    async def current(self, zone: str, *, refresh: bool = False) -> list[RecordSet]:
        """What the zone holds, listed now or remembered from the last sync."""
        return (await self._index(absolute(zone), refresh=refresh)).records()

    async def _index(self, zone: str, *, refresh: bool = False) -> ZoneIndex:
        state = self._zones.get(zone)
        fresh = state is not None and (
            self.resync_interval is None or self._clock() - state.listed_at < self.resync_interval)
        if state is not None and fresh and not refresh:
            return state.index
        records = await self._call(lambda: self.provider.list_records(zone))
        self.stats.lists += 1
        index = ZoneIndex(records)
        self._zones[zone] = _ZoneState(index, self._clock())
        return index

    async def owners(self, zone: str) -> frozenset[Owner]:
        """The kfed owners (Services) the zone's markers name, from what the applier knows."""
        zone = absolute(zone)
        async with self._locks.setdefault(zone, asyncio.Lock()):
            try:
                index = await self._index(zone)
            except ProviderError:
                self.stats.failures += 1
                raise
            return index.owners()

    async def sync(
        self,
        zone: str,
        desired: Mapping[Owner, Sequence[RecordSet]],
        federation: str,
        *,
        collect_garbage: bool = True,
    ) -> SyncResult:
        """Make `zone` hold `desired` for every Service of `federation` (see `plan_zone`).

        Without `collect_garbage`, only the Services in `desired` are planned (one plan for all of
        them, over the records they want or own): a Service mapped to no records loses all it owns.
        """
        if collect_garbage:
            return await self._sync(zone, lambda index: plan_zone(desired, list(index), federation, zone=zone),
                                    aside=True)
        names = {r.name for records in desired.values() for r in records}
        return await self._sync(zone, lambda index: plan_zone(
            desired, index.around(names, desired), federation, zone=zone, collect_garbage=False),
            aside=len(names) > PLAN_ASIDE_NAMES)

    async def sync_service(self, zone: str, owner: Owner, desired: Sequence[RecordSet]) -> SyncResult:
        """Make `zone` hold `desired` for one Service (an empty list removes all it owns)."""
        names = {r.name for r in desired}
        return await self._sync(zone, lambda index: plan_changes(
            desired, index.around(names, [owner]), owner, zone=zone))

    async def apply_plan(self, zone: str, plan: Plan) -> int:
        """Apply `plan` batch by batch; returns the number of requests sent."""
        try:
            return await self._apply_counting(absolute(zone), plan)
        except _Partial as partial:
            self.invalidate(zone)
            raise partial.error from None

    async def _sync(self, zone: str, make_plan: Callable[[ZoneIndex], Plan], *, aside: bool = False) -> SyncResult:
        zone = absolute(zone)
        lock = self._locks.setdefault(zone, asyncio.Lock())
        async with lock:
            applied = requests = 0
            replans = 0
            while True:
                try:
                    current = await self._index(zone, refresh=replans > 0)
                except ProviderError:
                    self.stats.failures += 1
                    raise
                # A plan over a whole zone of 1,000s of Services takes seconds: in a worker thread
                # the event loop still gets its turns (the plan is pure, and the index is only
                # changed under this zone's lock, below).
                plan = await asyncio.to_thread(make_plan, current) if aside else make_plan(current)
                try:
                    requests += await self._apply_counting(zone, plan)
                    applied += len(plan)
                except _Partial as partial:
                    applied += partial.applied
                    requests += partial.requests
                    err = partial.error
                    if err.replan and replans < self.max_replans:
                        replans += 1
                        self.stats.replans += 1
                        log.info("zone %s changed under the plan (%s): listing it again", zone, err)
                        continue
                    self.stats.failures += 1
                    self.invalidate(zone)
                    raise err from None
                self.stats.conflicts += len(plan.conflicts)
                return SyncResult(plan, applied, requests, plan.conflicts)

    async def _apply_counting(self, zone: str, plan: Plan) -> int:
        limits = self.provider.limits
        applied = requests = 0
        for batch in plan.batches(limits.max_records, limits.max_chars):
            try:
                await self._apply_batch(zone, batch)
            except ProviderError as err:
                raise _Partial(err, applied, requests) from err
            applied += len(batch)
            requests += 1
        return requests

    async def _apply_batch(self, zone: str, batch: Batch) -> None:
        await self._call(lambda: self.provider.apply(zone, batch))
        self.stats.requests += 1
        self.stats.changes += len(batch)
        state = self._zones.get(zone)
        if state is not None:
            state.index.apply(batch)

    async def _call(self, op: Callable[[], Awaitable[T]]) -> T:
        """Run one provider call under the rate limit, retrying retryable errors with backoff."""
        attempt = 0
        while True:
            await self._bucket.acquire()
            try:
                return await op()
            except ProviderError as err:
                if not err.retryable or attempt + 1 >= self.max_attempts:
                    raise
                if err.throttled:
                    self.stats.throttled += 1
                    self._bucket.drain()
                delay = self.backoff.delay(attempt, self._rng, at_least=err.retry_after or 0.0)
                log.info("provider %s: %s; retrying in %.2fs", self.provider.name, err, delay)
                self.stats.retries += 1
                attempt += 1
                await self._sleep(delay)


class _Partial(Exception):
    """A plan stopped at a failed batch, after `applied` changes in `requests` requests."""

    def __init__(self, error: ProviderError, applied: int, requests: int) -> None:
        super().__init__(str(error))
        self.error = error
        self.applied = applied
        self.requests = requests
