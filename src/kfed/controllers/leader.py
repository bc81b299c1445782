"""Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it.

A candidate takes the Lease when it is free or when its holder has not renewed it for
leaseDurationSeconds, measured on the candidate's own clock from when it last saw the Lease
change (remote clocks are never trusted). The leader renews every `retry_period`; if it cannot
renew within `renew_deadline` it stops leading, so two leaders never act for long.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from kfed.members.client import ApiCallError, KubeClient, Unreachable

log = logging.getLogger("kfed.leader")


def _micro_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    def __init__(self, client: KubeClient, identity: str, *, namespace: str = "federation-system",
                 name: str = "kfed-controller-manager", lease_duration: float = 15.0,
                 renew_deadline: float = 10.0, retry_period: float = 2.0) -> None:
        self.client = client
        self.identity = identity
        self.path = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"
        self.namespace = namespace
        self.name = name
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.is_leader = False
        self.holding = False  # we may still hold the Lease (until released or taken over)
        self.transitions_seen = 0
        self._observed: tuple[str, str] | None = None  # (holder, renewTime) last seen
        self._observed_at = 0.0

    def _lease(self, existing: dict[str, Any] | None) -> dict[str, Any]:
        now = _micro_now()
        spec = dict((existing or {}).get("spec") or {})
        transitions = int(spec.get("leaseTransitions") or 0)
        if spec.get("holderIdentity") != self.identity:
            spec["acquireTime"] = now
            if existing is not None:
                transitions += 1
        spec.update(holderIdentity=self.identity, leaseDurationSeconds=max(1, int(round(self.lease_duration))),
                    renewTime=now, leaseTransitions=transitions)
        body: dict[str, Any] = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                                "metadata": {"name": self.name, "namespace": self.namespace}, "spec": spec}
        if existing is not None:
            body["metadata"]["resourceVersion"] = existing["metadata"]["resourceVersion"]
        return body

    async def try_acquire_or_renew(self) -> bool:
        try:
            existing = await self.client.get(f"{self.path}/{self.name}")
        except ApiCallError as e:
            if e.status != 404:
                raise
            try:
                await self.client.request("POST", self.path, body=self._lease(None))
                return True
            except ApiCallError as e2:
                if e2.status == 409:
                    return False
                raise
        spec = existing.get("spec") or {}
        holder = spec.get("holderIdentity") or ""
        seen = (holder, spec.get("renewTime") or "")
        now = time.monotonic()
        if seen != self._observed:
            self._observed, self._observed_at = seen, now
        duration = float(spec.get("leaseDurationSeconds") or self.lease_duration)
        if holder and holder != self.identity and now < self._observed_at + duration:
            return False  # held by someone who renewed recently (by our clock)
        try:
            updated = await self.client.request("PUT", f"{self.path}/{self.name}", body=self._lease(existing))
        except ApiCallError as e:
            if e.status == 409:
                return False
            raise
        self._observed = (self.identity, updated.get("spec", {}).get("renewTime", ""))
        self._observed_at = time.monotonic()
        return True

    async def run(self, lead: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Campaign forever; run `lead()` while leading, cancel it when leadership is lost."""
        while True:
            await self._acquire()
            log.info("became leader identity=%s lease=%s/%s", self.identity, self.namespace, self.name)
            self.is_leader = self.holding = True
            self.transitions_seen += 1
            leading = asyncio.get_running_loop().create_task(lead())
            renewing = asyncio.get_running_loop().create_task(self._renew_until_lost())
            try:
                done, _ = await asyncio.wait({leading, renewing}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                # also when run() itself is cancelled: a stopped candidate must stop renewing
                self.is_leader = False
                for t in (leading, renewing):
                    t.cancel()
                await asyncio.gather(leading, renewing, return_exceptions=True)
            if leading in done and leading.exception() is not None:
                log.error("controllers stopped with an error: %r", leading.exception())
            log.warning("lost leadership identity=%s", self.identity)

    async def _acquire(self) -> None:
        while True:
            try:
                if await self.try_acquire_or_renew():
                    return
            except (ApiCallError, Unreachable) as e:
                log.info("leader election: %s", e)
            await asyncio.sleep(self.retry_period)

    async def _renew_until_lost(self) -> None:
        last_ok = time.monotonic()
        while True:
            await asyncio.sleep(self.retry_period)
            try:
                if await self.try_acquire_or_renew():
                    last_ok = time.monotonic()
                    continue
                return  # someone else holds it now
            except (ApiCallError, Unreachable) as e:
                log.warning("lease renewal failed: %s", e)
            if time.monotonic() - last_ok > self.renew_deadline:
                return

    async def release(self) -> None:
        """Give the Lease up on a clean shutdown so a standby takes over at once."""
        if not self.holding:
            return
        self.holding = False
        try:
            existing = await self.client.get(f"{self.path}/{self.name}")
            if (existing.get("spec") or {}).get("holderIdentity") == self.identity:
                existing["spec"]["holderIdentity"] = ""
                existing["spec"]["leaseDurationSeconds"] = 1
                await self.client.request("PUT", f"{self.path}/{self.name}", body=existing)
        except (ApiCallError, Unreachable) as e:
            log.info("lease release failed: %s", e)
