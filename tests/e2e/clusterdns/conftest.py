"""A federation of simulated clusters with the guide's NGINX service, and cluster DNS servers on it.

us-central1-a runs the backends (its shard is healthy); us-central1-f has the Service but no
backends, as in the user guide; europe-west1-b is another region.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import dns.message
import dns.query
import dns.rdatatype
import pytest

from kfed.controllers.clusterdns import ClusterDNS, ClusterDNSOptions
from kfed.members.client import KubeClient, parse_kubeconfig
from tests.support.federation import FederationThread, running_federation
from tests.support.kubectl import Kubectl
from tests.support.waiting import wait_for

T = TypeVar("T")

CLUSTERS = [
    "us-central1-a=us-central1/us-central1-a",
    "us-central1-f=us-central1/us-central1-f",
    "europe-west1-b=europe-west1/europe-west1-b",
]
NAMES = ["us-central1-a", "us-central1-f", "europe-west1-b"]
NAMESPACE = "mynamespace"
SERVICE_YAML = f"""\
apiVersion: v1
kind: Service
metadata:
  name: nginx
  namespace: {NAMESPACE}
  labels: {{run: nginx}}
spec:
  type: LoadBalancer
  selector: {{run: nginx}}
  ports: [{{name: http, port: 80, protocol: TCP}}]
"""


def query(
    address: tuple[str, int], name: str, rdtype: str = "A", *, tcp: bool = False, timeout: float = 3.0
) -> dns.message.Message:
    q = dns.message.make_query(name, rdtype)
    if tcp:
        return dns.query.tcp(q, address[0], port=address[1], timeout=timeout)
    return dns.query.udp(q, address[0], port=address[1], timeout=timeout)


def addresses(msg: dns.message.Message, rdtype: int = dns.rdatatype.A) -> set[str]:
    return {rr.to_text() for rrset in msg.answer if rrset.rdtype == rdtype for rr in rrset}


def cname_target(msg: dns.message.Message) -> str | None:
    """The target of the first CNAME of the answer (the one for the question)."""
    first = next((r for r in msg.answer if r.rdtype == dns.rdatatype.CNAME), None)
    return first[0].target.to_text() if first is not None else None


@dataclass
class Federation:
    thread: FederationThread
    kubectl: Kubectl
    kubeconfig: Path
    lb_ip: str  # us-central1-a's load-balancer address: where the federated names end up

    @property
    def dns_address(self) -> tuple[str, int]:
        return self.thread.federation.dns_address

    def published(self) -> bool:
        """Whether the federation's DNS has the healthy shard: us-central1-f's zone name climbs
        to the region, which holds us-central1-a's address (and so does the global name)."""
        zone_name = query(self.dns_address, f"nginx.{NAMESPACE}.myfederation.svc.us-central1-f.example.com.")
        global_name = query(self.dns_address, f"nginx.{NAMESPACE}.myfederation.svc.example.com.")
        return (
            self.lb_ip in addresses(zone_name)
            and cname_target(zone_name) == f"nginx.{NAMESPACE}.myfederation.svc.us-central1.example.com."
            and addresses(global_name) == {self.lb_ip}
        )

    def wait_published(self) -> None:
        wait_for(self.published, timeout=60, what="federated records published")

    def member(self, cluster: str, *args: str, check: bool = True) -> Any:
        return self.kubectl.run("-n", NAMESPACE, *args, context=cluster, check=check)

    def member_service(self, cluster: str, name: str) -> dict[str, Any] | None:
        r = self.member(cluster, "get", "svc", name, "-o", "json", check=False)
        return r.json() if r.returncode == 0 else None


def _all_ready(kubectl: Kubectl) -> bool:
    items = kubectl.run("get", "clusters", "-o", "json").json()["items"]
    ready = {
        c["metadata"]["name"]
        for c in items
        if any(
            x["type"] == "Ready" and x["status"] == "True" for x in c.get("status", {}).get("conditions", [])
        )
    }
    return set(NAMES) <= ready


@pytest.fixture(scope="package")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    tmp = tmp_path_factory.mktemp("clusterdns")
    with running_federation(tmp, sim_clusters=CLUSTERS) as (thread, kubectl):
        wait_for(lambda: _all_ready(kubectl), timeout=60, what="clusters Ready")
        kubectl.run("create", "namespace", NAMESPACE)
        (tmp / "nginx.yaml").write_text(SERVICE_YAML)
        kubectl.run("create", "-f", str(tmp / "nginx.yaml"))
        fed = Federation(thread, kubectl, tmp / "kubeconfig", "")
        wait_for(
            lambda: all(fed.member_service(c, "nginx") for c in NAMES), timeout=30, what="nginx everywhere"
        )
        fed.member("us-central1-a", "run", "nginx", "--image=nginx:1.11.1-alpine", "--port=80")

        def lb_ip() -> str:
            svc = fed.member_service("us-central1-a", "nginx") or {}
            ingress = svc.get("status", {}).get("loadBalancer", {}).get("ingress") or [{}]
            return str(ingress[0].get("ip") or "")

        fed.lb_ip = wait_for(lb_ip, timeout=30, what="us-central1-a load-balancer address")

        fed.wait_published()
        yield fed


class ClusterDNSThread:
    """A ClusterDNS on its own event loop in a thread, so tests can query it with blocking clients."""

    def __init__(self, kubeconfig: Path, context: str, options: ClusterDNSOptions) -> None:
        self.kubeconfig = kubeconfig
        self.context = context
        self.options = options
        self.cdns: ClusterDNS | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"cluster-dns {context}", daemon=True)

    def start(self) -> ClusterDNSThread:
        self._thread.start()
        if not self._started.wait(60):
            raise TimeoutError("cluster DNS did not start")
        if self._error is not None:
            raise self._error
        return self

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        try:
            self._loop.run_until_complete(self._main())
        finally:
            self._loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        client = await KubeClient.from_kubeconfig(parse_kubeconfig(self.kubeconfig.read_text()), self.context)
        try:
            self.cdns = ClusterDNS(client, self.options)
            try:
                await self.cdns.start()
                await self.cdns.wait_synced()
            except BaseException as e:
                self._error = e
                self._started.set()
                return
            self._started.set()
            try:
                await self._stop.wait()
            finally:
                await self.cdns.stop()
        finally:
            await client.close()

    @property
    def address(self) -> tuple[str, int]:
        assert self.cdns is not None
        return self.cdns.address

    def call(self, fn: Callable[[ClusterDNS], Awaitable[T]], timeout: float = 30.0) -> T:
        assert self._loop is not None and self.cdns is not None
        cdns = self.cdns

        async def run() -> T:
            return await fn(cdns)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout)

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)


@dataclass
class ClusterDNSFactory:
    federation: Federation
    running: list[ClusterDNSThread] = field(default_factory=list)

    def start(self, cluster: str, **options: Any) -> ClusterDNSThread:
        runner = ClusterDNSThread(self.federation.kubeconfig, cluster, ClusterDNSOptions(**options))
        self.running.append(runner)
        return runner.start()


@pytest.fixture
def cluster_dns(federation: Federation) -> Iterator[ClusterDNSFactory]:
    """Start cluster DNS servers for members: `cluster_dns.start("us-central1-f", upstreams=[...])`."""
    factory = ClusterDNSFactory(federation)
    try:
        yield factory
    finally:
        for runner in factory.running:
            runner.stop()
