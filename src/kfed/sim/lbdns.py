"""A tiny authoritative DNS responder for the simulated AWS-style load-balancer hostnames.

Clusters in hostname mode publish `status.loadBalancer.ingress[].hostname` (as AWS ELBs do)
under `elb.sim.kfed.test`; this responder answers those names with the 127.x address behind
them, over UDP and TCP on a loopback port, so kfed can resolve them as it would resolve ELB
names through a real resolver. `answer()` is the pure core; the rest is the asyncio transport.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
from typing import cast

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from kfed.sim.service_allocation import LB_DOMAIN

log = logging.getLogger("kfed.sim.dns")

ZONE = dns.name.from_text(LB_DOMAIN)
TTL = 30
_SOA = dns.rrset.from_text(ZONE, TTL, "IN", "SOA", f"ns.{LB_DOMAIN}. hostmaster.{LB_DOMAIN}. 1 3600 600 86400 {TTL}")
_NS = dns.rrset.from_text(ZONE, TTL, "IN", "NS", f"ns.{LB_DOMAIN}.")


class LoadBalancerDns:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self._names: dict[dns.name.Name, str] = {}
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None

    # -- registry (HostnameRegistry) -------------------------------------------------------

    def set(self, hostname: str, ip: str) -> None:
        self._names[dns.name.from_text(hostname)] = ip

    def remove(self, hostname: str) -> None:
        self._names.pop(dns.name.from_text(hostname), None)

    def lookup(self, hostname: str) -> str | None:
        return self._names.get(dns.name.from_text(hostname))

    # -- pure core ---------------------------------------------------------------------------

    def answer(self, wire: bytes) -> bytes | None:
        """The response to one query message (None for garbage, which gets no answer)."""
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None
        response = dns.message.make_response(query)
        response.flags &= ~dns.flags.RA
        if query.opcode() != 0 or len(query.question) != 1:
            response.set_rcode(dns.rcode.NOTIMP if query.opcode() != 0 else dns.rcode.FORMERR)
            return response.to_wire()
        q = query.question[0]
        if q.rdclass != dns.rdataclass.IN or not q.name.is_subdomain(ZONE):
            response.set_rcode(dns.rcode.REFUSED)
            return response.to_wire()
        response.flags |= dns.flags.AA
        ip = self._names.get(q.name)
        if q.name == ZONE:
            if q.rdtype in (dns.rdatatype.SOA, dns.rdatatype.NS):
                response.answer.append(_SOA if q.rdtype == dns.rdatatype.SOA else _NS)
            else:
                response.authority.append(_SOA)
        elif ip is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
            response.authority.append(_SOA)
        elif q.rdtype in (dns.rdatatype.A, dns.rdatatype.ANY):
            response.answer.append(dns.rrset.from_text(q.name, TTL, "IN", "A", ip))
        else:
            response.authority.append(_SOA)  # NODATA: the name has only an A record
        return response.to_wire()

    # -- transport -----------------------------------------------------------------------

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        for _ in range(20):  # UDP and TCP on one port: retry if the TCP side is taken
            udp_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            udp_sock.bind((self.host, self.port))
            port = udp_sock.getsockname()[1]
            try:
                self._tcp = await asyncio.start_server(self._serve_tcp, self.host, port, reuse_address=True)
            except OSError:
                udp_sock.close()
                if self.port:
                    raise
                continue
            self._udp, _ = await loop.create_datagram_endpoint(lambda: _UdpProtocol(self), sock=udp_sock)
            self.port = port
            log.info("load-balancer DNS listening on %s:%d", self.host, port)
            return
        raise OSError("no free port for the load-balancer DNS responder")

    async def stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        if self._tcp is not None:
            self._tcp.close()
            await self._tcp.wait_closed()
            self._tcp = None

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                size = struct.unpack("!H", await reader.readexactly(2))[0]
                reply = self.answer(await reader.readexactly(size))
                if reply is None:
                    break
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, server: LoadBalancerDns) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = self.server.answer(data)
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)
