"""An in-memory DNS provider: the twin that controller and applier tests run against.

It is as strict as the strictest real provider: a CREATE of an existing RRset, a DELETE or UPDATE
that does not match what is there, or a CNAME beside other data fails the whole batch, which is
applied atomically or not at all. Failures can be queued with `fail_next` to exercise retries.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from kfed.dns.names import absolute, is_subdomain
from kfed.dns.plan import Action, Change
from kfed.dns.providers.base import ProviderError, ProviderLimits
from kfed.dns.records import RecordSet


class InMemoryProvider:
    name = "memory"

    def __init__(self, zones: Iterable[str] = (), limits: ProviderLimits | None = None) -> None:
        self.limits = limits or ProviderLimits(max_records=1000, max_chars=32_000, requests_per_second=1000.0, burst=1000)
        self.zones: dict[str, dict[tuple[str, str], RecordSet]] = {absolute(z): {} for z in zones}
        self.fail_next: list[ProviderError] = []  # raised, in order, by the next calls
        self.list_calls = 0
        self.apply_calls = 0  # requests that reached the zone (failed ones included)
        self.batches: list[tuple[Change, ...]] = []  # every batch applied, in order

    def records(self, zone: str) -> list[RecordSet]:
        return sorted(self._zone(zone).values(), key=lambda r: r.key)

    def put(self, zone: str, *records: RecordSet) -> None:
        """Place records directly, as someone other than kfed would."""
        for record in records:
            self._zone(zone)[record.key] = record

    def _zone(self, zone: str) -> dict[tuple[str, str], RecordSet]:
        try:
            return self.zones[absolute(zone)]
        except KeyError:
            raise ProviderError(f"no such zone {zone}", retryable=False) from None

    def _maybe_fail(self) -> None:
        if self.fail_next:
            raise self.fail_next.pop(0)

    async def list_records(self, zone: str) -> list[RecordSet]:
        self.list_calls += 1
        self._maybe_fail()
        return self.records(zone)

    async def apply(self, zone: str, batch: Sequence[Change]) -> None:
        self.apply_calls += 1
        self._maybe_fail()
        records = sum(c.records_cost for c in batch)
        chars = sum(c.chars_cost for c in batch)
        if records > self.limits.max_records or chars > self.limits.max_chars:
            raise ProviderError(f"batch of {records} records, {chars} chars is over the limits", retryable=False)
        sets = dict(self._zone(zone))
        for change in batch:
            record = change.record
            if not is_subdomain(record.name, zone):
                raise ProviderError(f"{record.name} is not in zone {zone}", retryable=False)
            have = sets.get(record.key)
            if change.action is Action.CREATE:
                if have is not None:
                    raise ProviderError(f"{record.name} {record.type} already exists", retryable=False, replan=True)
                sets[record.key] = record
            elif change.action is Action.UPDATE:
                if have is None or (change.previous is not None and have != change.previous):
                    raise ProviderError(f"{record.name} {record.type} is not as expected", retryable=False, replan=True)
                sets[record.key] = record
            else:
                if have != record:
                    raise ProviderError(f"{record.name} {record.type} is not as expected", retryable=False, replan=True)
                del sets[record.key]
        per_name = Counter(name for name, _ in sets)
        for name, rtype in sets:
            if rtype == "CNAME" and per_name[name] > 1:
                raise ProviderError(f"{name}: CNAME and other data", retryable=False)
        self.zones[absolute(zone)] = sets
        self.batches.append(tuple(batch))

    async def close(self) -> None:
        return None
