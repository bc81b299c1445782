"""Two candidates on a real federation API: one leads; when it stops renewing, the other takes over."""

from __future__ import annotations

import asyncio
import contextlib

from kfed.controllers.leader import LeaderElector
from kfed.members.client import KubeClient
from tests.support.kubectl import Kubectl
from tests.support.processes import ApiServerProcess
from tests.support.waiting import async_wait_for


async def client(server: ApiServerProcess) -> KubeClient:
    from kfed.members.client import parse_kubeconfig

    return await KubeClient.from_kubeconfig(parse_kubeconfig(server.kubeconfig.read_text()), "federation-cluster")


async def test_one_leader_then_handover(apiserver: ApiServerProcess, kubectl: Kubectl) -> None:
    c1, c2 = await client(apiserver), await client(apiserver)
    leading: list[str] = []

    async def lead(name: str) -> None:
        leading.append(name)
        await asyncio.Event().wait()

    a = LeaderElector(c1, "a", lease_duration=2, renew_deadline=1.5, retry_period=0.2)
    b = LeaderElector(c2, "b", lease_duration=2, renew_deadline=1.5, retry_period=0.2)
    ta = asyncio.create_task(a.run(lambda: lead("a")))
    await async_wait_for(lambda: asyncio.sleep(0, a.is_leader), timeout=10, what="a leads")
    tb = asyncio.create_task(b.run(lambda: lead("b")))
    try:
        # b keeps trying but never leads while a renews
        for _ in range(10):
            await asyncio.sleep(0.1)
            assert not b.is_leader
        lease = kubectl.run("get", "lease", "-n", "federation-system", "kfed-controller-manager", "-o", "json").json()
        assert lease["spec"]["holderIdentity"] == "a"
        ta.cancel()  # the leader dies without releasing the lease
        with contextlib.suppress(asyncio.CancelledError):
            await ta
        await async_wait_for(lambda: asyncio.sleep(0, b.is_leader), timeout=15, what="b takes over")
        assert leading == ["a", "b"]
        lease = kubectl.run("get", "lease", "-n", "federation-system", "kfed-controller-manager", "-o", "json").json()
        assert lease["spec"]["holderIdentity"] == "b" and lease["spec"]["leaseTransitions"] >= 1
    finally:
        tb.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await tb
        await c1.close()
        await c2.close()
