"""Google Cloud DNS through google-cloud-dns.

One Change per batch (Cloud DNS applies a change's deletions and additions atomically). Cloud DNS
deletes a record set only when given its exact current content, so updates send the plan's
`previous` set as the deletion and the new set as the addition. A change is accepted "pending"
and then becomes "done"; `apply` waits for "done" so the next plan sees the zone as changed. The
client library blocks, so calls run in a worker thread.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import google.api_core.exceptions as gexc
import requests.exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import dns as gdns

from kfed.dns.names import absolute
from kfed.dns.plan import Action, Change
from kfed.dns.providers.base import ProviderError, ProviderLimits
from kfed.dns.records import RecordSet

_RATE_REASONS = {"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded"}


@dataclass(frozen=True)
class CloudDNSConfig:
    project: str
    managed_zone: str | None = None  # e.g. "example-dot-com"; else found by the zone's DNS name
    endpoint_url: str | None = None  # another API endpoint: an emulator, a test fake
    anonymous: bool = False  # no credentials (only for endpoints that want none)
    requests_per_second: float = 5.0
    poll_interval: float = 1.0
    poll_timeout: float = 120.0


def _error(what: str, err: Exception) -> ProviderError:
    if isinstance(err, gexc.GoogleAPICallError):
        reasons = {str(e.get("reason", "")) for e in (err.errors or []) if isinstance(e, dict)}
        if isinstance(err, gexc.TooManyRequests) or reasons & _RATE_REASONS:
            return ProviderError(f"{what}: {err.message}", retryable=True, throttled=True)
        if isinstance(err, gexc.ServerError):
            return ProviderError(f"{what}: {err.message}", retryable=True)
        # 409 alreadyExists, 412 conditionNotMet, 404 on a record set: the zone is not as planned
        stale = isinstance(err, gexc.Conflict | gexc.PreconditionFailed) or "alreadyExists" in reasons
        return ProviderError(f"{what}: {err.code} {err.message}", retryable=False, replan=stale)
    if isinstance(err, requests.exceptions.ConnectionError | requests.exceptions.Timeout | OSError):
        return ProviderError(f"{what}: {err!r}", retryable=True)
    return ProviderError(f"{what}: {err!r}", retryable=False)


class CloudDNSProvider:
    name = "clouddns"

    def __init__(self, config: CloudDNSConfig) -> None:
        self.config = config
        # Cloud DNS allows 1,000 record set additions and deletions per change; records are
        # counted here, which is stricter, and the characters keep a change's size reasonable.
        self.limits = ProviderLimits(max_records=1000, max_chars=100_000,
                                     requests_per_second=config.requests_per_second, burst=1)
        options = {"api_endpoint": config.endpoint_url.rstrip("/")} if config.endpoint_url else None
        credentials = AnonymousCredentials() if config.anonymous else None
        self._client = gdns.Client(project=config.project, credentials=credentials, client_options=options)
        self._zones: dict[str, Any] = {}

    async def _run(self, what: str, fn: Any, *args: Any) -> Any:
        try:
            return await asyncio.to_thread(fn, *args)
        except Exception as err:  # noqa: BLE001 - every failure becomes a ProviderError the applier understands
            raise _error(what, err) from err

    async def _zone(self, zone: str) -> Any:
        zone = absolute(zone)
        if zone not in self._zones:
            if self.config.managed_zone:
                self._zones[zone] = self._client.zone(self.config.managed_zone, zone)
            else:
                found = await self._run(f"finding managed zone {zone}",
                                        lambda: [z for z in self._client.list_zones() if absolute(z.dns_name) == zone])
                if not found:
                    raise ProviderError(f"no managed zone for {zone} in project {self.config.project}",
                                        retryable=False)
                self._zones[zone] = found[0]
        return self._zones[zone]

    async def list_records(self, zone: str) -> list[RecordSet]:
        managed = await self._zone(zone)
        listed = await self._run(f"listing {zone}", lambda: list(managed.list_resource_record_sets()))
        return [RecordSet(r.name, r.record_type, int(r.ttl), tuple(r.rrdatas)) for r in listed]

    async def apply(self, zone: str, batch: Sequence[Change]) -> None:
        if not batch:
            return
        managed = await self._zone(zone)
        changes = managed.changes()

        def rrs(record: RecordSet) -> Any:
            return managed.resource_record_set(record.name, record.type, record.ttl, list(record.data))

        for change in batch:
            if change.action is Action.DELETE:
                changes.delete_record_set(rrs(change.record))
            else:
                if change.action is Action.UPDATE and change.previous is not None:
                    changes.delete_record_set(rrs(change.previous))
                changes.add_record_set(rrs(change.record))
        await self._run(f"changing {zone}", changes.create)
        deadline = time.monotonic() + self.config.poll_timeout
        while changes.status != "done":
            if time.monotonic() > deadline:
                # It may still land: list the zone again rather than send it twice.
                raise ProviderError(f"change {changes.name} in {zone} still {changes.status}", retryable=False,
                                    replan=True)
            await asyncio.sleep(self.config.poll_interval)
            await self._run(f"waiting for change {changes.name}", changes.reload)

    async def close(self) -> None:
        return None
