"""`kfed cluster-dns`'s I/O: watches on one member cluster, UDP+TCP listeners, upstream queries.

The pure core (kfed.dns.clusterdns) holds the answers; this module feeds its ClusterIndex from
informers (list+watch, never polling) on the member's Services, EndpointSlices, nodes and the
kube-system/kube-dns ConfigMap, and carries out the upstream steps the core asks for:
forwarding names outside the cluster domain and chasing the CNAME of a federated name. Every
upstream step is bounded by `upstream_timeout`, after which the client gets SERVFAIL.

UDP queries answered from the cluster's data are answered inside `datagram_received`, with no
task; only upstream steps get a task, at most `max_pending` at once (beyond that: SERVFAIL at
once, so a flood of foreign names cannot starve local answers).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import dns.asyncquery
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype

from kfed.dns.clusterdns import (
    KUBE_DNS_CONFIGMAP,
    ClusterDNSCore,
    ClusterDNSSettings,
    ClusterIndex,
    UpstreamRoute,
    UpstreamStep,
    cluster_topology,
    node_topology,
    parse_federations,
    routes_for,
    servfail_for,
)
from kfed.dns.server.listen import bind_udp_and_tcp
from kfed.members.client import ApiCallError, KubeClient
from kfed.members.informer import Informer

log = logging.getLogger("kfed.cluster-dns")

SERVICES = "/api/v1/services"
ENDPOINT_SLICES = "/apis/discovery.k8s.io/v1/endpointslices"
NODES = "/api/v1/nodes"
KUBE_SYSTEM_CONFIGMAPS = f"/api/v1/namespaces/{KUBE_DNS_CONFIGMAP[0]}/configmaps"
KUBE_DNS_SELECTOR = f"metadata.name={KUBE_DNS_CONFIGMAP[1]}"
DEFAULT_UPSTREAM_TIMEOUT = 2.0
# The kube-dns ConfigMap is optional (and may be unreadable): wait this long for it, then serve.
CONFIGMAP_GRACE = 5.0
_UPSTREAM_PAYLOAD = 1232
_RETRY_NEXT = (dns.rcode.SERVFAIL, dns.rcode.REFUSED, dns.rcode.NOTIMP, dns.rcode.FORMERR)


@dataclass
class ClusterDNSStats:
    udp_queries: int = 0
    tcp_queries: int = 0
    upstream_queries: int = 0
    upstream_failures: int = 0  # no upstream answered in time: the client got SERVFAIL
    shed: int = 0  # upstream steps refused because max_pending were in flight
    internal_errors: int = 0


class Upstreams:
    """Asks the configured upstreams (most specific zone first, then in order) within a deadline."""

    def __init__(self, routes: Sequence[UpstreamRoute]) -> None:
        self.routes = list(routes)

    async def ask(
        self, qname: dns.name.Name, qtype: dns.rdatatype.RdataType, deadline: float
    ) -> dns.message.Message | None:
        servers = routes_for(self.routes, qname)
        loop = asyncio.get_running_loop()
        last: dns.message.Message | None = None
        for i, route in enumerate(servers):
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            query = dns.message.make_query(qname, qtype, use_edns=0, payload=_UPSTREAM_PAYLOAD)
            try:
                reply, _ = await dns.asyncquery.udp_with_fallback(
                    query,
                    route.host,
                    timeout=remaining / (len(servers) - i),
                    port=route.port,
                    ignore_unexpected=True,
                )
            except Exception as e:  # noqa: BLE001 - timeouts, refused ports, garbage: try the next one
                log.debug(
                    "event=upstream_failed upstream=%s:%d name=%s error=%r", route.host, route.port, qname, e
                )
                continue
            if reply.rcode() not in _RETRY_NEXT:
                return reply
            last = reply
        return last


class _UDPProtocol(asyncio.DatagramProtocol):
    def __init__(self, server: ClusterDNSServer) -> None:
        self._server = server
        self.transport: asyncio.DatagramTransport | None = None
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        server = self._server
        server.stats.udp_queries += 1
        try:
            out = server.core.handle(data, "udp")
        except Exception:
            server.stats.internal_errors += 1
            log.exception("event=internal_error transport=udp peer=%s", addr[0])
            out = servfail_for(data)
        if out is None or self.transport is None:
            return
        if isinstance(out, bytes):
            self.transport.sendto(out, addr)
        else:
            server.start_step(out, lambda reply: self._reply(reply, addr))

    def _reply(self, wire: bytes, addr: tuple[str, int]) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(wire, addr)

    def error_received(self, exc: Exception) -> None:
        log.debug("event=udp_error error=%r", exc)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


class ClusterDNSServer:
    """The listeners: UDP and TCP on one port, answering with `core`, asking `upstreams`."""

    def __init__(
        self,
        core: ClusterDNSCore,
        upstreams: Upstreams,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        upstream_timeout: float = DEFAULT_UPSTREAM_TIMEOUT,
        max_pending: int = 1024,
        tcp_idle_timeout: float = 30.0,
        max_tcp_connections: int = 256,
    ) -> None:
        self.core = core
        self.upstreams = upstreams
        self.host = host
        self._requested_port = port
        self.port = port
        self.upstream_timeout = upstream_timeout
        self.max_pending = max_pending
        self.tcp_idle_timeout = tcp_idle_timeout
        self.max_tcp_connections = max_tcp_connections
        self.stats = ClusterDNSStats()
        self._udp: asyncio.DatagramTransport | None = None
        self._udp_protocol: _UDPProtocol | None = None
        self._tcp: asyncio.Server | None = None
        self._steps: set[asyncio.Task[None]] = set()
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        udp_sock, self._tcp, port = await bind_udp_and_tcp(self.host, self._requested_port, self._serve_tcp)
        self.port = port
        self._udp, self._udp_protocol = await loop.create_datagram_endpoint(
            lambda: _UDPProtocol(self), sock=udp_sock
        )
        log.info("event=listening host=%s port=%d", self.host, self.port)

    async def stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
            if self._udp_protocol is not None:
                await self._udp_protocol.closed
            self._udp = self._udp_protocol = None
        for task in [*self._steps, *self._connections]:
            task.cancel()
        await asyncio.gather(*self._steps, *self._connections, return_exceptions=True)
        if self._tcp is not None:
            self._tcp.close()
            await self._tcp.wait_closed()
            self._tcp = None

    # -- upstream steps ----------------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Upstream steps in flight (UDP)."""
        return len(self._steps)

    async def complete(self, step: UpstreamStep) -> bytes:
        """Carry out `step` (and the chase steps it leads to) within upstream_timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.upstream_timeout
        current = step
        try:
            async with asyncio.timeout_at(deadline):
                while True:
                    self.stats.upstream_queries += 1
                    reply = await self.upstreams.ask(current.qname, current.qtype, deadline)
                    if reply is None:
                        self.stats.upstream_failures += 1
                    out = self.core.finish(current, reply)
                    if isinstance(out, bytes):
                        return out
                    current = out
        except TimeoutError:
            self.stats.upstream_failures += 1
            return self.core.servfail(current)

    def start_step(self, step: UpstreamStep, send: Callable[[bytes], None]) -> None:
        if len(self._steps) >= self.max_pending:
            self.stats.shed += 1
            send(self.core.servfail(step))
            return

        async def run() -> None:
            try:
                send(await self.complete(step))
            except asyncio.CancelledError:
                raise
            except Exception:
                self.stats.internal_errors += 1
                log.exception("event=internal_error step=%s name=%s", step.kind, step.qname)
                send(self.core.servfail(step))

        task = asyncio.get_running_loop().create_task(run())
        self._steps.add(task)
        task.add_done_callback(self._steps.discard)

    # -- TCP -----------------------------------------------------------------------------------

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        if len(self._connections) >= self.max_tcp_connections:
            writer.close()
            return
        self._connections.add(task)
        try:
            while True:
                try:
                    async with asyncio.timeout(self.tcp_idle_timeout):
                        (length,) = struct.unpack("!H", await reader.readexactly(2))
                        wire = await reader.readexactly(length)
                except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
                    return
                self.stats.tcp_queries += 1
                try:
                    out = self.core.handle(wire, "tcp")
                    if isinstance(out, UpstreamStep):
                        out = await self.complete(out)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    self.stats.internal_errors += 1
                    log.exception("event=internal_error transport=tcp")
                    out = servfail_for(wire)
                if out is not None:
                    writer.write(len(out).to_bytes(2, "big") + out)
                    await writer.drain()
        except ConnectionError:
            return
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


@dataclass
class ClusterDNSOptions:
    federations: Mapping[str, str] = field(default_factory=dict)  # from the command line
    upstreams: Sequence[UpstreamRoute] = ()
    host: str = "127.0.0.1"
    port: int = 0
    settings: ClusterDNSSettings = field(default_factory=ClusterDNSSettings)
    zone: str = ""  # overrides the nodes' labels
    region: str = ""
    upstream_timeout: float = DEFAULT_UPSTREAM_TIMEOUT
    watch_timeout: int = 290


class ClusterDNS:
    """One member cluster's DNS: informers feeding the index, and the server answering from it.

    async with ClusterDNS(member_client, ClusterDNSOptions(federations={"myfederation": "example.com."})) as cdns:
        print(cdns.port)
    """

    def __init__(self, client: KubeClient, options: ClusterDNSOptions | None = None) -> None:
        self.client = client
        self.options = options or ClusterDNSOptions()
        opts = self.options
        self.index = ClusterIndex(static_federations=opts.federations, zone=opts.zone, region=opts.region)
        self.core = ClusterDNSCore(self.index, opts.settings, recursion=bool(opts.upstreams))
        self.server = ClusterDNSServer(
            self.core, Upstreams(opts.upstreams), opts.host, opts.port, upstream_timeout=opts.upstream_timeout
        )
        index = self.index
        timeout = opts.watch_timeout
        self.informers = {
            "services": Informer(
                client,
                SERVICES,
                lambda k, o, _: index.apply_service(k, o),
                name="services",
                watch_timeout=timeout,
            ),
            "endpointslices": Informer(
                client,
                ENDPOINT_SLICES,
                lambda k, o, _: index.apply_endpoint_slice(k, o),
                name="endpointslices",
                watch_timeout=timeout,
            ),
            "nodes": Informer(
                client, NODES, lambda k, o, _: index.apply_node(k, o), name="nodes", watch_timeout=timeout
            ),
            "kube-dns": Informer(
                client,
                KUBE_SYSTEM_CONFIGMAPS,
                lambda k, o, _: index.apply_configmap(k, o),
                field_selector=KUBE_DNS_SELECTOR,
                name="kube-dns configmap",
                watch_timeout=timeout,
            ),
        }
        self._sync_task: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def address(self) -> tuple[str, int]:
        return self.server.host, self.server.port

    async def start(self, sync_timeout: float = 30.0) -> None:
        """Listen, start the informers, and wait (up to sync_timeout) until the cluster is listed.
        Until then, names under the cluster domain get SERVFAIL; other names are forwarded."""
        await self.server.start()
        try:
            for informer in self.informers.values():
                informer.start()
            self._sync_task = asyncio.get_running_loop().create_task(self._sync(), name="cluster-dns sync")
            done, _ = await asyncio.wait([self._sync_task], timeout=sync_timeout)
            if not done:
                errors = {n: i.last_error for n, i in self.informers.items() if i.last_error}
                log.warning("event=not_synced waited=%ss errors=%s", sync_timeout, errors)
        except BaseException:
            await self.stop()
            raise

    async def _sync(self) -> None:
        required = [self.informers[n].synced.wait() for n in ("services", "endpointslices", "nodes")]
        await asyncio.gather(*required)
        try:
            await asyncio.wait_for(self.informers["kube-dns"].synced.wait(), CONFIGMAP_GRACE)
        except TimeoutError:
            log.warning(
                "event=configmap_unavailable configmap=%s/%s error=%s",
                *KUBE_DNS_CONFIGMAP,
                self.informers["kube-dns"].last_error,
            )
        self.index.mark_synced()
        log.info(
            "event=synced zone=%s region=%s federations=%s",
            self.index.zone,
            self.index.region,
            ",".join(f"{k}={v}" for k, v in sorted(self.index.federations.items())),
        )

    async def wait_synced(self, timeout: float = 30.0) -> None:
        assert self._sync_task is not None, "start() first"
        await asyncio.wait_for(asyncio.shield(self._sync_task), timeout)

    async def stop(self) -> None:
        if self._sync_task is not None:
            self._sync_task.cancel()
            await asyncio.gather(self._sync_task, return_exceptions=True)
        await asyncio.gather(*(i.stop() for i in self.informers.values()))
        await self.server.stop()

    async def __aenter__(self) -> ClusterDNS:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


@dataclass(frozen=True)
class ClusterFacts:
    """What `kfed coredns-config` reads from a member once: its topology and kube-dns federations."""

    region: str
    zone: str
    federations: dict[str, str]


async def read_cluster_facts(client: KubeClient) -> ClusterFacts:
    nodes = (await client.get(NODES)).get("items") or []
    region, zone = cluster_topology(node_topology(n) for n in nodes)
    federations: dict[str, str] = {}
    try:
        cm = await client.get(f"{KUBE_SYSTEM_CONFIGMAPS}/{KUBE_DNS_CONFIGMAP[1]}")
        federations = parse_federations(str((cm.get("data") or {}).get("federations") or ""), strict=False)
    except ApiCallError as e:
        if e.status not in (403, 404):
            raise
    return ClusterFacts(region, zone, federations)
