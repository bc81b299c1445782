"""RFC 2136 dynamic updates (BIND 9, Knot, PowerDNS, kfed's own server), signed with TSIG.

Listing is a zone transfer (AXFR, TSIG-signed); changes are UPDATE messages over TCP. Creates and
updates are sent as "delete the RRset, add the new records" (dnspython's `replace`), which is
idempotent: a batch sent twice after a lost answer leaves the zone as sent once. Each request is
one UPDATE message, which the server applies atomically; a batch too large for one DNS message
(64 KiB) is split at name boundaries.

Every message carries prerequisites (RFC 2136 section 2.4) that keep kfed off names it does not
own, even when its picture of the zone is older than a record someone added by hand: a name kfed
claims (its ownership marker is created) must be empty, and a name kfed changes or releases must
still hold kfed's marker. A failed prerequisite (YXDOMAIN, NXRRSET, ...) makes the applier list
the zone again and plan anew, so the hand-made record becomes a reported conflict. A claim whose
answer was lost and is sent again finds the name holding kfed's own marker; the message is then
sent once more with "kfed's marker is there" as the prerequisite, so a replay stays harmless.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass

import dns.asyncquery
import dns.exception
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.tsig
import dns.update
import dns.xfr
import dns.zone

from kfed.dns.names import absolute
from kfed.dns.plan import Action, Change, owned_name, registry_name
from kfed.dns.providers.base import ProviderError, ProviderLimits
from kfed.dns.records import RecordSet

MAX_MESSAGE = 65_000  # a DNS message over TCP carries at most 65,535 octets

TSIG_ALGORITHMS = {
    "hmac-md5": dns.tsig.HMAC_MD5,
    "hmac-sha1": dns.tsig.HMAC_SHA1,
    "hmac-sha224": dns.tsig.HMAC_SHA224,
    "hmac-sha256": dns.tsig.HMAC_SHA256,
    "hmac-sha384": dns.tsig.HMAC_SHA384,
    "hmac-sha512": dns.tsig.HMAC_SHA512,
}

# Answers worth asking again: the server was busy or failed for its own reasons.
_RETRYABLE_RCODES = {dns.rcode.SERVFAIL}
# Prerequisite failures mean the zone is not as the plan thought: list it again and plan anew.
_REPLAN_RCODES = {dns.rcode.YXDOMAIN, dns.rcode.YXRRSET, dns.rcode.NXDOMAIN, dns.rcode.NXRRSET}


@dataclass(frozen=True)
class RFC2136Config:
    server: str = "127.0.0.1"
    port: int = 53
    tsig_key_name: str | None = None
    tsig_secret: str | None = None  # base64, as tsig-keygen and keymgr print it
    tsig_algorithm: str = "hmac-sha256"
    timeout: float = 10.0
    transfer_timeout: float = 120.0
    requests_per_second: float = 20.0


class RFC2136Provider:
    name = "rfc2136"

    def __init__(self, config: RFC2136Config) -> None:
        self.config = config
        # An UPDATE message must fit 64 KiB; these keep most batches well inside it.
        self.limits = ProviderLimits(max_records=500, max_chars=30_000,
                                     requests_per_second=config.requests_per_second, burst=1)
        self._key: dns.tsig.Key | None = None
        if config.tsig_key_name and config.tsig_secret:
            algorithm = TSIG_ALGORITHMS.get(config.tsig_algorithm.lower())
            if algorithm is None:
                raise ValueError(f"unknown TSIG algorithm {config.tsig_algorithm!r}; one of {sorted(TSIG_ALGORITHMS)}")
            self._key = dns.tsig.Key(config.tsig_key_name, config.tsig_secret, algorithm)
        self._address: str | None = None

    async def _server(self) -> str:
        if self._address is None:
            try:
                ipaddress.ip_address(self.config.server)
                self._address = self.config.server
            except ValueError:
                infos = await asyncio.get_running_loop().getaddrinfo(
                    self.config.server, self.config.port, type=socket.SOCK_STREAM)
                if not infos:
                    raise ProviderError(f"cannot resolve {self.config.server}", retryable=True) from None
                self._address = str(infos[0][4][0])
        return self._address

    async def list_records(self, zone: str) -> list[RecordSet]:
        origin = dns.name.from_text(absolute(zone))
        holder = dns.zone.Zone(origin, relativize=False)
        query, _ = dns.xfr.make_query(holder, serial=None, keyring=self._key,
                                      keyname=self._key.name if self._key else None,
                                      keyalgorithm=self._key.algorithm if self._key else dns.tsig.default_algorithm)
        try:
            await dns.asyncquery.inbound_xfr(await self._server(), holder, query, port=self.config.port,
                                             timeout=self.config.timeout, lifetime=self.config.transfer_timeout)
        except dns.xfr.TransferError as err:
            raise ProviderError(f"AXFR of {zone} from {self.config.server}: {err}",
                                retryable=err.rcode in _RETRYABLE_RCODES) from err
        except (dns.exception.Timeout, OSError, EOFError) as err:
            raise ProviderError(f"AXFR of {zone} from {self.config.server}: {err!r}", retryable=True) from err
        except dns.exception.DNSException as err:  # TSIG failures, malformed answers
            raise ProviderError(f"AXFR of {zone} from {self.config.server}: {err!r}", retryable=False) from err
        out = []
        for name, rdataset in holder.iterate_rdatasets():
            data = tuple(rd.to_text(origin=origin, relativize=False) for rd in rdataset)
            out.append(RecordSet(name.to_text(), dns.rdatatype.to_text(rdataset.rdtype), rdataset.ttl, data))
        return sorted(out, key=lambda r: r.key)

    def _message(self, zone: str, changes: Sequence[Change], *, replay: bool = False) -> dns.update.UpdateMessage:
        if self._key is not None:
            update = dns.update.UpdateMessage(absolute(zone), keyring=self._key, keyname=self._key.name,
                                              keyalgorithm=self._key.algorithm)
        else:
            update = dns.update.UpdateMessage(absolute(zone))
        for group in _groups(changes):
            _prerequisites(update, group, replay=replay)
        for change in changes:
            record = change.record
            name = dns.name.from_text(record.name)
            rdtype = dns.rdatatype.from_text(record.type)
            if change.action is Action.DELETE:
                update.delete(name, rdtype)
            else:
                rdatas = [dns.rdata.from_text(dns.rdataclass.IN, rdtype, value) for value in record.data]
                update.replace(name, record.ttl, *rdatas)
        return update

    def _chunks(self, zone: str, batch: Sequence[Change]) -> list[Sequence[Change]]:
        """`batch` cut at name boundaries into pieces that each fit one DNS message."""
        try:
            if len(self._message(zone, batch).to_wire()) <= MAX_MESSAGE:
                return [batch]
        except dns.exception.TooBig:
            pass  # over 64 KiB: split below
        groups = _groups(batch)
        if len(groups) == 1:
            raise ProviderError(f"changes to {groups[0][0].record.name} do not fit one DNS message",
                                retryable=False)
        half = len(groups) // 2
        first = [c for g in groups[:half] for c in g]
        second = [c for g in groups[half:] for c in g]
        return self._chunks(zone, first) + self._chunks(zone, second)

    def _messages(self, zone: str, batch: Sequence[Change]) -> list[dns.update.UpdateMessage]:
        return [self._message(zone, chunk) for chunk in self._chunks(zone, batch)]

    async def _send(self, zone: str, where: str, message: dns.update.UpdateMessage) -> dns.rcode.Rcode:
        try:
            response = await dns.asyncquery.tcp(message, where, timeout=self.config.timeout,
                                                port=self.config.port)
        except (dns.exception.Timeout, OSError, EOFError) as err:
            raise ProviderError(f"UPDATE of {zone} at {self.config.server}: {err!r}", retryable=True) from err
        except dns.exception.DNSException as err:
            raise ProviderError(f"UPDATE of {zone} at {self.config.server}: {err!r}", retryable=False) from err
        return response.rcode()

    async def apply(self, zone: str, batch: Sequence[Change]) -> None:
        if not batch:
            return
        where = await self._server()
        for chunk in self._chunks(zone, batch):
            rcode = await self._send(zone, where, self._message(zone, chunk))
            if rcode in _REPLAN_RCODES and any(_claims(g) for g in _groups(chunk)):
                # Perhaps this very message was applied before and its answer lost: then every
                # name it claims already carries kfed's marker, and the replay is harmless.
                rcode = await self._send(zone, where, self._message(zone, chunk, replay=True))
            if rcode != dns.rcode.NOERROR:
                raise ProviderError(
                    f"UPDATE of {zone} at {self.config.server}: {dns.rcode.to_text(rcode)}",
                    retryable=rcode in _RETRYABLE_RCODES, replan=rcode in _REPLAN_RCODES)

    async def close(self) -> None:
        return None


def _groups(changes: Sequence[Change]) -> list[list[Change]]:
    """The changes of each owned name (its records and its marker), in order."""
    groups: list[list[Change]] = []
    last: str | None = None
    for change in changes:
        group = owned_name(change.record.name) or change.record.name
        if groups and group == last:
            groups[-1].append(change)
        else:
            groups.append([change])
            last = group
    return groups


def _marker_change(group: Sequence[Change]) -> Change | None:
    return next((c for c in group if owned_name(c.record.name) is not None), None)


def _claims(group: Sequence[Change]) -> bool:
    marker = _marker_change(group)
    return marker is not None and marker.action is Action.CREATE


def _txt(values: Sequence[str]) -> list[dns.rdata.Rdata]:
    return [dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, v) for v in values]


def _prerequisites(update: dns.update.UpdateMessage, group: Sequence[Change], *, replay: bool) -> None:
    """What must hold for `group` (one name's changes) to be kfed's to make."""
    first = group[0].record.name
    name = owned_name(first) or first
    marker_name = dns.name.from_text(registry_name(name))
    marker = _marker_change(group)
    if marker is not None and marker.action is Action.CREATE:
        if replay:
            update.present(marker_name, *_txt(marker.record.data))  # claimed by this very change before
        else:
            update.absent(dns.name.from_text(name))  # kfed only claims empty names
            update.absent(marker_name)
    elif marker is not None and marker.action is Action.UPDATE and marker.previous is not None:
        for rdata in _txt(marker.previous.data):
            update.present(marker_name, rdata)  # the marker is still the one the plan saw
    else:
        update.present(marker_name, dns.rdatatype.TXT)  # kfed's marker is still there
