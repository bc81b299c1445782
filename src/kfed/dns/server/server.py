"""DNSServer: the asyncio adapter around the pure core (answer.py) — UDP and TCP listeners,
zone sources feeding snapshots in, NOTIFY going out.

UDP answers inside `datagram_received` itself, synchronously: no task, no await, per packet. TCP
connections carry several length-prefixed queries each (RFC 7766), are closed when idle, and
stream transfers a message at a time with a drain between messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import dns.name
import dns.tsig

from kfed.dns.server.answer import DEFAULT_MAX_UDP, answer, respond
from kfed.dns.server.journal import JournalLimits, advance
from kfed.dns.server.listen import bind_udp_and_tcp
from kfed.dns.server.notify import Notifier, NotifyTarget
from kfed.dns.server.serial import serial_ge
from kfed.dns.server.sources import ZoneSource
from kfed.dns.server.zone import ZoneData
from kfed.dns.server.zoneset import ZoneSet

logger = logging.getLogger("kfed.dns.server")

_SERVFAIL_FLAGS = 0x8002  # QR + SERVFAIL, for the one case the core itself failed


@dataclass
class ServerStats:
    udp_queries: int = 0
    tcp_queries: int = 0
    tcp_connections: int = 0
    axfr: int = 0
    ixfr_incremental: int = 0
    ixfr_full: int = 0
    ixfr_current: int = 0
    internal_errors: int = 0


class _UDPProtocol(asyncio.DatagramProtocol):
    def __init__(self, server: DNSServer) -> None:
        self._server = server
        self._transport: asyncio.DatagramTransport | None = None
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        server = self._server
        server.stats.udp_queries += 1
        try:
            response = answer(data, server.zones, tsig_keyring=server.tsig_keyring, max_udp=server.max_udp)
        except Exception:
            server.stats.internal_errors += 1
            logger.exception("event=internal_error transport=udp peer=%s", addr[0])
            response = _servfail(data)
        if response is not None and self._transport is not None:
            self._transport.sendto(response, addr)

    def error_received(self, exc: Exception) -> None:
        logger.debug("event=udp_error error=%r", exc)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


class DNSServer:
    """kfed's authoritative server. `start()`, then `update_zone()` or let sources feed it."""

    def __init__(
        self,
        zones_source: ZoneSource | Iterable[ZoneSource] | None = None,
        host: str = "127.0.0.1",
        port: int = 5353,
        *,
        tsig_keyring: Mapping[dns.name.Name, dns.tsig.Key] | None = None,
        notify: Sequence[NotifyTarget | str] = (),
        max_udp: int = DEFAULT_MAX_UDP,
        tcp_idle_timeout: float = 30.0,
        max_tcp_connections: int = 256,
        journal_limits: JournalLimits = JournalLimits(),
        startup_timeout: float = 10.0,
        notify_first_timeout: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if zones_source is None:
            self._sources: list[ZoneSource] = []
        elif hasattr(zones_source, "snapshots"):
            self._sources = [zones_source]  # type: ignore[list-item]
        else:
            self._sources = list(zones_source)  # type: ignore[arg-type]
        self.host = host
        self._requested_port = port
        self.port = port
        self.tsig_keyring = dict(tsig_keyring) if tsig_keyring else None
        self.max_udp = max_udp
        self.tcp_idle_timeout = tcp_idle_timeout
        self.max_tcp_connections = max_tcp_connections
        self.journal_limits = journal_limits
        self.startup_timeout = startup_timeout
        self._clock = clock
        targets = [t if isinstance(t, NotifyTarget) else NotifyTarget.parse(t) for t in notify]
        self.notifier = (
            Notifier(targets, self.tsig_keyring, first_timeout=notify_first_timeout) if targets else None
        )
        self.zones = ZoneSet()
        self.stats = ServerStats()
        self._udp: asyncio.DatagramTransport | None = None
        self._udp_protocol: _UDPProtocol | None = None
        self._tcp: asyncio.Server | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._connections: set[asyncio.Task[None]] = set()
        self._zone_changed = asyncio.Event()
        self._running = False

    # -- zones ---------------------------------------------------------------------------------

    def update_zone(self, snapshot: ZoneData) -> ZoneData:
        """Serve `snapshot` (a new zone or a new version of one). Returns what is served: the
        snapshot under its final serial (grown past the previous one), or the previous version
        when nothing changed."""
        previous = self.zones.get(snapshot.origin)
        current = advance(previous, snapshot, self._clock(), self.journal_limits)
        if current is None:
            assert previous is not None
            return previous
        self.zones = self.zones.replace(current)
        logger.info(
            "event=zone_updated zone=%s serial=%d names=%d journal=%d",
            current.origin,
            current.serial,
            len(current.nodes),
            len(current.journal),
        )
        self._zone_changed.set()
        self._zone_changed = asyncio.Event()
        if self.notifier is not None and self._running:
            self.notifier.zone_changed(current)
        return current

    def remove_zone(self, origin: dns.name.Name | str) -> None:
        name = dns.name.from_text(origin) if isinstance(origin, str) else origin
        self.zones = self.zones.remove(name)
        logger.info("event=zone_removed zone=%s", name)

    async def wait_for_zone(
        self, origin: dns.name.Name | str, *, serial: int | None = None, timeout: float = 10.0
    ) -> ZoneData:
        """Wait until `origin` is served (at `serial` or later when given)."""
        name = dns.name.from_text(origin) if isinstance(origin, str) else origin
        async with asyncio.timeout(timeout):
            while True:
                zone = self.zones.get(name)
                if zone is not None and (serial is None or serial_ge(zone.serial, serial)):
                    return zone
                await self._zone_changed.wait()

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        udp_sock, self._tcp, port = await bind_udp_and_tcp(self.host, self._requested_port, self._serve_tcp)
        self.port = port
        self._udp, self._udp_protocol = await loop.create_datagram_endpoint(
            lambda: _UDPProtocol(self), sock=udp_sock
        )
        self._running = True
        first_snapshots = []
        for source in self._sources:
            first: asyncio.Future[None] = loop.create_future()
            first_snapshots.append(first)
            self._tasks.append(loop.create_task(self._follow(source, first)))
        if first_snapshots:
            done, _pending = await asyncio.wait(first_snapshots, timeout=self.startup_timeout)
            for future in done:
                error = future.exception()
                if error is not None:
                    await self.stop()
                    raise error
            if len(done) < len(first_snapshots):
                logger.warning("event=zones_not_loaded waited=%ss", self.startup_timeout)
        if self.notifier is not None:
            for zone in self.zones:
                self.notifier.zone_changed(zone)  # secondaries learn about a restart at once
        logger.info("event=listening host=%s port=%d zones=%d", self.host, self.port, len(self.zones))

    async def stop(self) -> None:
        self._running = False
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self.notifier is not None:
            await self.notifier.close()
        if self._udp is not None:
            self._udp.close()
            if self._udp_protocol is not None:
                await self._udp_protocol.closed  # the socket is closed (port free) after this
            self._udp = None
            self._udp_protocol = None
        if self._tcp is not None:
            self._tcp.close()
            for task in list(self._connections):
                task.cancel()
            await asyncio.gather(*self._connections, return_exceptions=True)
            await self._tcp.wait_closed()
            self._tcp = None
        logger.info("event=stopped port=%d", self.port)

    async def __aenter__(self) -> DNSServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def serve_forever(self) -> None:
        if not self._running:
            await self.start()
        try:
            await asyncio.Event().wait()
        finally:
            await self.stop()

    async def _follow(self, source: ZoneSource, first: asyncio.Future[None]) -> None:
        try:
            async for snapshot in source.snapshots():
                try:
                    self.update_zone(snapshot)
                except Exception:
                    logger.exception("event=zone_update_failed zone=%s", snapshot.origin)
                if not first.done():
                    first.set_result(None)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            if not first.done():
                first.set_exception(e)
            else:
                logger.exception("event=zone_source_failed source=%r", source)

    # -- TCP -----------------------------------------------------------------------------------

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        if len(self._connections) >= self.max_tcp_connections:
            writer.close()
            return
        self._connections.add(task)
        self.stats.tcp_connections += 1
        peer = writer.get_extra_info("peername")
        try:
            while True:
                try:
                    async with asyncio.timeout(self.tcp_idle_timeout):
                        (length,) = struct.unpack("!H", await reader.readexactly(2))
                        wire = await reader.readexactly(length)
                except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
                    return
                self.stats.tcp_queries += 1

                def transferring(kind: str, zone: ZoneData) -> None:
                    setattr(self.stats, kind, getattr(self.stats, kind) + 1)
                    logger.info(
                        "event=transfer kind=%s zone=%s serial=%d peer=%s",
                        kind,
                        zone.origin,
                        zone.serial,
                        peer[0] if peer else "?",
                    )

                try:
                    for message in respond(
                        wire,
                        self.zones,
                        tsig_keyring=self.tsig_keyring,
                        transport="tcp",
                        max_udp=self.max_udp,
                        on_transfer=transferring,
                    ):
                        writer.write(len(message).to_bytes(2, "big") + message)
                        await writer.drain()
                except (ConnectionError, asyncio.CancelledError):
                    raise
                except Exception:
                    self.stats.internal_errors += 1
                    logger.exception("event=internal_error transport=tcp peer=%s", peer[0] if peer else "?")
                    failure = _servfail(wire)
                    if failure is not None:
                        writer.write(len(failure).to_bytes(2, "big") + failure)
                        await writer.drain()
        except ConnectionError:
            return
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


def _servfail(query: bytes) -> bytes | None:
    if len(query) < 12 or query[2] & 0x80:
        return None
    flags = _SERVFAIL_FLAGS | (((query[2] << 8) | query[3]) & 0x7910)
    return query[:2] + struct.pack("!HHHHH", flags, 0, 0, 0, 0)
