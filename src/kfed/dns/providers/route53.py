"""Amazon Route 53 through boto3.

One ChangeResourceRecordSets request per batch: Route 53 applies it atomically and allows at most
1,000 resource records and 32,000 characters of values per request, an UPSERT counting twice
(which is how `Change.records_cost`/`chars_cost` count). Route 53 allows five requests a second
per account, so that is the default rate; Throttling and PriorRequestNotComplete answers are
retried by the applier with backoff, so botocore's own retries are turned off (two layers of
retries would multiply the wait). boto3 blocks, so calls run in a worker thread.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.config
import botocore.exceptions

from kfed.dns.names import absolute
from kfed.dns.plan import Action, Change
from kfed.dns.providers.base import ProviderError, ProviderLimits
from kfed.dns.records import RecordSet

_THROTTLED = {"Throttling", "ThrottlingException", "PriorRequestNotComplete", "RequestLimitExceeded",
              "TooManyRequestsException"}
_REPLAN = {"InvalidChangeBatch"}  # "already exists" / "not found": the zone is not what we planned on
_ACTION = {Action.CREATE: "CREATE", Action.UPDATE: "UPSERT", Action.DELETE: "DELETE"}
_ESCAPE = re.compile(r"\\(\d{3})")


@dataclass(frozen=True)
class Route53Config:
    zone_id: str | None = None
    endpoint_url: str | None = None
    region: str = "us-east-1"
    access_key_id: str | None = None
    secret_access_key: str | None = None
    session_token: str | None = None
    requests_per_second: float = 5.0
    timeout: float = 30.0


def _unescape(name: str) -> str:
    """Route 53 lists names with characters outside [a-z0-9-_] as \\ddd octal escapes."""
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), name)


def _error(what: str, err: Exception) -> ProviderError:
    if isinstance(err, botocore.exceptions.ClientError):
        code = str(err.response.get("Error", {}).get("Code", ""))
        status = int(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if code in _THROTTLED:
            return ProviderError(f"{what}: {code}", retryable=True, throttled=True)
        if status >= 500 or code in ("ServiceUnavailable", "InternalFailure", "InternalError"):
            return ProviderError(f"{what}: {code} ({status})", retryable=True)
        message = str(err.response.get("Error", {}).get("Message", ""))
        stale = code in _REPLAN or "already exists" in message or "not found" in message
        return ProviderError(f"{what}: {code}: {err}", retryable=False, replan=stale)
    if isinstance(err, botocore.exceptions.BotoCoreError | OSError):
        # connection refused or reset, timeouts: worth another try
        return ProviderError(f"{what}: {err!r}", retryable=True)
    return ProviderError(f"{what}: {err!r}", retryable=False)


class Route53Provider:
    name = "route53"

    def __init__(self, config: Route53Config) -> None:
        self.config = config
        self.limits = ProviderLimits(max_records=1000, max_chars=32_000,
                                     requests_per_second=config.requests_per_second, burst=1)
        session = boto3.session.Session(aws_access_key_id=config.access_key_id,
                                         aws_secret_access_key=config.secret_access_key,
                                         aws_session_token=config.session_token, region_name=config.region)
        self._client: Any = session.client(
            "route53", endpoint_url=config.endpoint_url,
            config=botocore.config.Config(retries={"total_max_attempts": 1, "mode": "standard"},
                                          connect_timeout=config.timeout, read_timeout=config.timeout))
        self._zone_ids: dict[str, str] = {}

    async def _run(self, what: str, fn: Any, **kwargs: Any) -> Any:
        try:
            return await asyncio.to_thread(fn, **kwargs)
        except Exception as err:  # noqa: BLE001 - every failure becomes a ProviderError the applier understands
            raise _error(what, err) from err

    async def zone_id(self, zone: str) -> str:
        zone = absolute(zone)
        if self.config.zone_id:
            return self.config.zone_id.rsplit("/", 1)[-1]
        if zone not in self._zone_ids:
            answer = await self._run(f"finding hosted zone {zone}", self._client.list_hosted_zones_by_name,
                                     DNSName=zone)
            for hosted in answer.get("HostedZones", []):
                if absolute(_unescape(hosted["Name"])) == zone and not hosted.get("Config", {}).get("PrivateZone"):
                    self._zone_ids[zone] = hosted["Id"].rsplit("/", 1)[-1]
                    break
            else:
                raise ProviderError(f"no public hosted zone named {zone}", retryable=False)
        return self._zone_ids[zone]

    async def list_records(self, zone: str) -> list[RecordSet]:
        zone_id = await self.zone_id(zone)
        out: list[RecordSet] = []
        kwargs: dict[str, Any] = {"HostedZoneId": zone_id, "MaxItems": "300"}
        while True:
            page = await self._run(f"listing {zone}", self._client.list_resource_record_sets, **kwargs)
            for rrset in page.get("ResourceRecordSets", []):
                out.append(self._record(rrset))
            if not page.get("IsTruncated"):
                break
            kwargs["StartRecordName"] = page["NextRecordName"]
            kwargs["StartRecordType"] = page["NextRecordType"]
            if page.get("NextRecordIdentifier"):
                kwargs["StartRecordIdentifier"] = page["NextRecordIdentifier"]
            else:
                kwargs.pop("StartRecordIdentifier", None)
        return out

    @staticmethod
    def _record(rrset: dict[str, Any]) -> RecordSet:
        name = _unescape(rrset["Name"])
        if "AliasTarget" in rrset:
            # Alias records are never kfed's; they only need to be seen, to count as occupied names.
            return RecordSet(name, rrset["Type"], 0, (f"ALIAS {rrset['AliasTarget']['DNSName']}",))
        values = tuple(r["Value"] for r in rrset.get("ResourceRecords", []))
        return RecordSet(name, rrset["Type"], int(rrset.get("TTL", 0)), values)

    async def apply(self, zone: str, batch: Sequence[Change]) -> None:
        if not batch:
            return
        zone_id = await self.zone_id(zone)
        changes = [{
            "Action": _ACTION[change.action],
            "ResourceRecordSet": {
                "Name": change.record.name,
                "Type": change.record.type,
                "TTL": change.record.ttl,
                "ResourceRecords": [{"Value": value} for value in change.record.data],
            },
        } for change in batch]
        await self._run(f"changing {zone}", self._client.change_resource_record_sets, HostedZoneId=zone_id,
                        ChangeBatch={"Comment": "kfed", "Changes": changes})

    async def close(self) -> None:
        self._client.close()
