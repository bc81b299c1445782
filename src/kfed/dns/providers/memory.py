"""An in-memory DNS provider: the twin that controller and applier tests run against.

It is as strict as the strictest real provider: a CREATE of an existing RRset, a DELETE or UPDATE
that does not match what is there, or a CNAME beside other data fails the whole batch, which is
applied atomically or not at all. Failures can be queued with `fail_next` to exercise retries.
A batch costs what it changes, not the zone's size, so benchmarks at scale can use it too.
"""

from __future__ import annotations

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
        # zone -> name -> types ever put there (a superset: tests may pop from `zones` directly)
        self._types: dict[str, dict[str, set[str]]] = {absolute(z): {} for z in zones}
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
            self._types[absolute(zone)].setdefault(record.name, set()).add(record.type)

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
        sets = self._zone(zone)
        types = self._types[absolute(zone)]
        staged: dict[tuple[str, str], RecordSet | None] = {}  # the batch's outcome, committed if all is well

        def now(key: tuple[str, str]) -> RecordSet | None:
            return staged[key] if key in staged else sets.get(key)

        for change in batch:
            record = change.record
            if not is_subdomain(record.name, zone):
                raise ProviderError(f"{record.name} is not in zone {zone}", retryable=False)
            have = now(record.key)
            if change.action is Action.CREATE:
                if have is not None:
                    raise ProviderError(f"{record.name} {record.type} already exists", retryable=False, replan=True)
                staged[record.key] = record
            elif change.action is Action.UPDATE:
                if have is None or (change.previous is not None and have != change.previous):
                    raise ProviderError(f"{record.name} {record.type} is not as expected", retryable=False, replan=True)
                staged[record.key] = record
            else:
                if have != record:
                    raise ProviderError(f"{record.name} {record.type} is not as expected", retryable=False, replan=True)
                staged[record.key] = None
        touched: dict[str, set[str]] = {}
        for name, rtype in staged:
            touched.setdefault(name, set(types.get(name, ()))).add(rtype)
        for name, candidates in touched.items():
            present = [t for t in candidates if now((name, t)) is not None]
            if "CNAME" in present and len(present) > 1:
                raise ProviderError(f"{name}: CNAME and other data", retryable=False)
        for key, value in staged.items():
            if value is None:
                sets.pop(key, None)
            else:
                sets[key] = value
                types.setdefault(key[0], set()).add(key[1])
        self.batches.append(tuple(batch))

    async def close(self) -> None:
        return None
