"""What every DNS provider offers kfed: list a zone, apply one batch of changes, and its limits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from kfed.dns.plan import Change
from kfed.dns.records import RecordSet


@dataclass(frozen=True)
class ProviderLimits:
    """How much one request may carry and how often requests may go.

    `max_records` and `max_chars` are measured as `Change.records_cost`/`chars_cost` count them
    (an update counts twice, as Route 53 counts an UPSERT).
    """

    max_records: int = 1000
    max_chars: int = 32_000
    requests_per_second: float = 5.0
    burst: int = 1


class ProviderError(Exception):
    """A provider call failed.

    `retryable`: the same call may succeed later (throttling, timeouts, 5xx): back off and retry.
    `replan`: the zone is not what the plan assumed (a record already exists, or is gone): list
    the zone again and plan anew rather than retry the same batch.
    `retry_after`: seconds the provider asked to wait, when it said.
    """

    def __init__(self, message: str, *, retryable: bool, replan: bool = False,
                 retry_after: float | None = None, throttled: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.replan = replan
        self.retry_after = retry_after
        self.throttled = throttled


@runtime_checkable
class DNSProvider(Protocol):
    """A DNS provider kfed writes records to. Zones are named absolutely: `example.com.`.

    `apply` either applies the whole batch or raises ProviderError; the batches that `Plan.batches`
    makes keep every name's changes together, so providers that apply a request atomically
    (RFC 2136, Route 53, Cloud DNS) never show a half-changed name.
    """

    name: str
    limits: ProviderLimits

    async def list_records(self, zone: str) -> list[RecordSet]: ...

    async def apply(self, zone: str, batch: Sequence[Change]) -> None: ...

    async def close(self) -> None: ...
