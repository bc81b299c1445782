"""NOTIFY (RFC 1996): telling secondaries that a zone changed, so they transfer it now rather
than at their next SOA refresh.

The message and the acknowledgement check are pure functions; `Notifier` is the asyncio part that
sends them over UDP and retries with a doubling timeout until the secondary acknowledges. A newer
serial replaces a notification still being retried for the same zone and target.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.tsig

from kfed.dns.server.zone import ZoneData

logger = logging.getLogger("kfed.dns.server.notify")


@dataclass(frozen=True)
class NotifyTarget:
    host: str
    port: int = 53
    key_name: dns.name.Name | None = None  # sign with this key from the server's keyring

    @classmethod
    def parse(cls, text: str, key_name: dns.name.Name | None = None) -> NotifyTarget:
        """`host:port`, `host` (port 53), `[v6addr]:port`."""
        text = text.strip()
        if text.startswith("["):
            host, _, rest = text[1:].partition("]")
            port = rest.removeprefix(":") or "53"
        elif text.count(":") == 1:
            host, port = text.split(":")
        else:
            host, port = text, "53"
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"not a host:port: {text!r}")
        return cls(host=host, port=int(port), key_name=key_name)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def notify_message(zone: ZoneData, qid: int, key: dns.tsig.Key | None = None) -> dns.message.Message:
    """NOTIFY for `zone`'s SOA, with the new SOA in the answer section as a hint (RFC 1996 3.7)."""
    message = dns.message.Message(id=qid)
    message.set_opcode(dns.opcode.NOTIFY)
    message.flags |= dns.flags.AA
    message.find_rrset(message.question, zone.origin, dns.rdataclass.IN, dns.rdatatype.SOA, create=True)
    message.answer.append(zone.soa)
    if key is not None:
        message.use_tsig(key)
    return message


def notify_acknowledged(
    wire: bytes, qid: int, key: dns.tsig.Key | None = None, request_macs: Iterable[bytes] = (b"",)
) -> int | None:
    """The rcode of a response to our NOTIFY `qid`, or None when `wire` is not one (wrong ID, not
    a NOTIFY response, or not signed by `key` over one of the requests we sent)."""
    for mac in request_macs if key is not None else (b"",):
        try:
            response = dns.message.from_wire(wire, keyring=key, request_mac=mac)
        except Exception:
            continue
        if response.id == qid and response.flags & dns.flags.QR and response.opcode() == dns.opcode.NOTIFY:
            return response.rcode()
        return None
    return None


class _Exchange(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.replies: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.replies.put_nowait(data)


class Notifier:
    """Sends NOTIFY for every new serial to every target until each acknowledges."""

    def __init__(
        self,
        targets: Iterable[NotifyTarget],
        keyring: Mapping[dns.name.Name, dns.tsig.Key] | None = None,
        *,
        attempts: int = 5,
        first_timeout: float = 1.0,
    ) -> None:
        self.targets = tuple(targets)
        self._keyring = dict(keyring or {})
        self._attempts = attempts
        self._first_timeout = first_timeout
        self._tasks: dict[tuple[NotifyTarget, dns.name.Name], asyncio.Task[None]] = {}
        # (target, zone) -> the last serial the target acknowledged; tests and `status` read it.
        self.acknowledged: dict[tuple[NotifyTarget, dns.name.Name], int] = {}

    def zone_changed(self, zone: ZoneData) -> None:
        for target in self.targets:
            slot = (target, zone.origin)
            previous = self._tasks.pop(slot, None)
            if previous is not None:
                previous.cancel()
            task = asyncio.get_running_loop().create_task(self._notify(target, zone))
            self._tasks[slot] = task
            task.add_done_callback(functools.partial(self._forget, slot))

    def _forget(self, slot: tuple[NotifyTarget, dns.name.Name], task: asyncio.Task[None]) -> None:
        if self._tasks.get(slot) is task:
            del self._tasks[slot]

    async def _notify(self, target: NotifyTarget, zone: ZoneData) -> None:
        key = self._keyring.get(target.key_name) if target.key_name is not None else None
        loop = asyncio.get_running_loop()
        try:
            transport, protocol = await loop.create_datagram_endpoint(
                _Exchange, remote_addr=(target.host, target.port)
            )
        except OSError as e:
            logger.warning("event=notify_failed target=%s zone=%s error=%r", target, zone.origin, e)
            return
        try:
            timeout = self._first_timeout
            # One ID for every attempt, so a late answer to an earlier attempt still counts.
            request = notify_message(zone, random.randrange(65536), key)
            macs: list[bytes] = []
            for attempt in range(1, self._attempts + 1):
                transport.sendto(request.to_wire())
                macs.append(request.mac or b"")
                rcode = await self._await_reply(protocol, request.id, key, macs, timeout)
                if rcode is not None:
                    if rcode == dns.rcode.NOERROR:
                        self.acknowledged[(target, zone.origin)] = zone.serial
                        logger.info(
                            "event=notify_acked target=%s zone=%s serial=%d attempt=%d",
                            target,
                            zone.origin,
                            zone.serial,
                            attempt,
                        )
                    else:
                        logger.warning(
                            "event=notify_rejected target=%s zone=%s serial=%d rcode=%s",
                            target,
                            zone.origin,
                            zone.serial,
                            dns.rcode.to_text(dns.rcode.Rcode(rcode)),
                        )
                    return
                timeout *= 2
            logger.warning(
                "event=notify_unanswered target=%s zone=%s serial=%d attempts=%d",
                target,
                zone.origin,
                zone.serial,
                self._attempts,
            )
        finally:
            transport.close()

    @staticmethod
    async def _await_reply(
        protocol: _Exchange, qid: int, key: dns.tsig.Key | None, macs: list[bytes], timeout: float
    ) -> int | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (remaining := deadline - loop.time()) > 0:
            try:
                wire = await asyncio.wait_for(protocol.replies.get(), remaining)
            except TimeoutError:
                return None
            rcode = notify_acknowledged(wire, qid, key, macs)
            if rcode is not None:
                return rcode
        return None

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()

    async def idle(self) -> None:
        """Wait until every pending notification has been acknowledged or given up."""
        while self._tasks:
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)
