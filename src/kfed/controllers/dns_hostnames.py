"""Resolving load-balancer hostnames (AWS ELBs) for DNS levels that must hold addresses.

A level whose only target is one hostname is a CNAME to it and needs no lookup; a level with
several hostnames, or hostnames and addresses, must publish A/AAAA records, so the DNS controller
looks those hostnames up here. The addresses behind an ELB change, so each answer is trusted only
for its own TTL (within `min_refresh`..`max_refresh`); `refresh_due` looks expired ones up again
and says which changed, so the controller rewrites only the Services that use them.

Lookups go to the system's resolvers, or to `nameservers` ("host:port") when given: in tests and
demos, the simulated clusters' load-balancer DNS responder.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.resolver

log = logging.getLogger("kfed.dns-controller")

#: hostname -> (addresses, seconds they may be trusted); raises nothing, returns () on failure
Lookup = Callable[[str], Awaitable[tuple[tuple[str, ...], float]]]


def parse_nameserver(text: str) -> tuple[str, int]:
    """`127.0.0.1:5353`, `[::1]:53`, or a bare address (port 53)."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":") or "53"
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    else:
        host, port = text, "53"
    ipaddress.ip_address(host)  # a resolver is named by address (ValueError otherwise)
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"invalid nameserver port in {text!r}")
    return host, int(port)


def dnspython_lookup(nameservers: Sequence[str] = (), *, timeout: float = 2.0,
                     failure_ttl: float = 5.0) -> Lookup:
    """A Lookup asking for A and AAAA records through dnspython's async resolver."""
    if nameservers:
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [dns.nameserver.Do53Nameserver(host, port=port)
                                for host, port in map(parse_nameserver, nameservers)]
    else:
        resolver = dns.asyncresolver.Resolver()
    resolver.lifetime = timeout

    async def one(hostname: str, rdtype: str) -> tuple[list[str], float | None]:
        try:
            answer = await resolver.resolve(hostname + ".", rdtype, search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return [], None
        except dns.exception.DNSException as e:
            log.info("lookup of %s %s failed: %s", hostname, rdtype, e)
            return [], failure_ttl
        ttl = float(answer.rrset.ttl) if answer.rrset is not None else failure_ttl
        return [rd.to_text() for rd in answer], ttl

    async def lookup(hostname: str) -> tuple[tuple[str, ...], float]:
        (v4, ttl4), (v6, ttl6) = await asyncio.gather(one(hostname, "A"), one(hostname, "AAAA"))
        ttls = [t for t in (ttl4, ttl6) if t is not None]
        return tuple(v4 + v6), (min(ttls) if ttls else failure_ttl)

    return lookup


@dataclass(frozen=True)
class _Answer:
    addresses: tuple[str, ...]
    expires: float


class HostnameResolver:
    def __init__(self, lookup: Lookup, *, min_refresh: float = 1.0, max_refresh: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._lookup = lookup
        self.min_refresh = min_refresh
        self.max_refresh = max_refresh
        self._clock = clock
        self._answers: dict[str, _Answer] = {}
        self.lookups = 0  # for metrics: hostname lookups made

    def addresses(self, hostname: str) -> tuple[str, ...]:
        """What `hostname` resolved to last (empty when never, or when the lookup failed)."""
        answer = self._answers.get(hostname.rstrip(".").lower())
        return answer.addresses if answer else ()

    def _fresh(self, hostname: str) -> bool:
        answer = self._answers.get(hostname)
        return answer is not None and answer.expires > self._clock()

    async def _resolve(self, hostname: str) -> bool:
        """Look `hostname` up now; True when its addresses changed."""
        self.lookups += 1
        addresses, ttl = await self._lookup(hostname)
        before = self._answers.get(hostname)
        trusted = min(self.max_refresh, max(self.min_refresh, ttl))
        self._answers[hostname] = _Answer(tuple(sorted(set(addresses))), self._clock() + trusted)
        return before is None or before.addresses != self._answers[hostname].addresses

    async def ensure(self, hostnames: Iterable[str]) -> set[str]:
        """Resolve the hostnames not known or expired; returns those whose addresses changed."""
        wanted = sorted({h.rstrip(".").lower() for h in hostnames} - {h for h in self._answers if self._fresh(h)})
        changed = await asyncio.gather(*(self._resolve(h) for h in wanted))
        return {h for h, c in zip(wanted, changed, strict=True) if c}

    def next_expiry(self, hostnames: Iterable[str]) -> float | None:
        """Seconds until the first of `hostnames` must be looked up again (None: none known)."""
        times = [self._answers[h].expires for h in hostnames if h in self._answers]
        return max(0.0, min(times) - self._clock()) if times else None

    def forget(self, keep: Iterable[str]) -> None:
        """Drop answers for hostnames no Service uses any more."""
        keep_set = set(keep)
        for hostname in list(self._answers):
            if hostname not in keep_set:
                del self._answers[hostname]
