"""DNSRecordSet objects (federation.kfed.io/v1beta1): their records, and which object serves a name.

One object holds every record of one owner in one zone, as ExternalDNS's DNSEndpoint does:

```yaml
apiVersion: federation.kfed.io/v1beta1
kind: DNSRecordSet
metadata:
  name: nginx.mynamespace.myfederation
spec:
  zone: example.com.
  records:
  - {name: nginx.mynamespace.myfederation.svc.example.com., type: A, ttl: 180, data: [104.197.247.191]}
  - {name: nginx.mynamespace.myfederation.svc.us-central1-f.example.com., type: CNAME, ttl: 180,
     data: [nginx.mynamespace.myfederation.svc.us-central1.example.com.]}
```

Records are keyed by (name, type). Objects anyone may write (kfed's DNS controller writes one per
federated Service; a person may write others by hand) can hold the same name, so one rule decides
which object serves it, the same everywhere (every DNS server replica, kfed's own plans): **the
oldest object holding any record at the name**, by metadata.creationTimestamp, then by
metadata.name. A name's records all come from that one object, never some types from one object
and some from another: a CNAME from one and an A from another would be no valid zone (RFC 1034).

Pure: no I/O. The builtin provider and the DNS server's zone source both keep a `NameHolders`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

Obj = dict[str, Any]
Rank = tuple[str, str]  # (creationTimestamp, metadata.name): the smaller serves a name

API_VERSION = "federation.kfed.io/v1beta1"
KIND = "DNSRecordSet"
PATH = "/apis/federation.kfed.io/v1beta1/dnsrecordsets"


def rank_of(obj: Obj) -> Rank:
    """Where an object stands when several hold a name. RFC 3339 timestamps in the API's one form
    (`2026-11-22T10:00:00Z`) sort as the times they name."""
    meta = obj.get("metadata") or {}
    return (str(meta.get("creationTimestamp") or ""), str(meta.get("name") or ""))


def spec_records(obj: Obj) -> Iterator[tuple[str, str, int | None, list[Any]]]:
    """(name, TYPE, ttl or None, data) of each well-formed record of an object, as written."""
    for record in (obj.get("spec") or {}).get("records") or ():
        if not isinstance(record, dict):
            continue
        name, rtype = record.get("name"), record.get("type")
        if not (isinstance(name, str) and name and isinstance(rtype, str) and rtype):
            continue  # not a record of this layout: nothing to serve
        ttl = record.get("ttl")
        yield name, rtype.upper(), ttl if isinstance(ttl, int) else None, list(record.get("data") or ())


class NameHolders:
    """Which objects hold each name, and which of them serves it (the smallest Rank).

    Nearly every name is held by one object: its entry is then that object's key alone, not a list.
    """

    def __init__(self) -> None:
        self._by_name: dict[str, str | list[str]] = {}
        self._rank: dict[str, Rank] = {}  # object key -> its rank, while it holds a name

    def __len__(self) -> int:
        return len(self._by_name)

    def __iter__(self) -> Iterator[str]:
        """Every name some object holds."""
        return iter(self._by_name)

    def hold(self, key: str, rank: Rank, names: Iterable[str]) -> None:
        """Object `key` (of `rank`) now also holds `names`."""
        self._rank[key] = rank
        for name in names:
            held = self._by_name.get(name)
            if held is None:
                self._by_name[name] = key
            elif isinstance(held, str):
                if held != key:
                    self._by_name[name] = [held, key]
            elif key not in held:
                held.append(key)

    def release(self, key: str, names: Iterable[str]) -> None:
        """Object `key` no longer holds `names`."""
        for name in names:
            held = self._by_name.get(name)
            if held is None:
                continue
            if isinstance(held, str):
                if held == key:
                    del self._by_name[name]
            elif key in held:
                held.remove(key)
                if len(held) == 1:
                    self._by_name[name] = held[0]

    def forget(self, key: str) -> None:
        """Object `key` is gone (release its names first)."""
        self._rank.pop(key, None)

    def winner(self, name: str) -> str | None:
        """The key of the object that serves `name`, None when no object holds it."""
        held = self._by_name.get(name)
        if held is None or isinstance(held, str):
            return held
        return min(held, key=lambda k: self._rank.get(k, ("", k)))

    def holders(self, name: str) -> tuple[str, ...]:
        held = self._by_name.get(name)
        if held is None:
            return ()
        return (held,) if isinstance(held, str) else tuple(held)
