"""Store URLs: which backend, and where (pure parsing, no I/O)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Literal

from kfed.storage.etcd_endpoints import DEFAULT_PREFIX, parse_endpoints

Scheme = Literal["memory", "sqlite", "etcd"]


@dataclass(frozen=True, slots=True)
class StoreURL:
    scheme: Scheme
    path: str = ""  # sqlite: the database file
    endpoints: list[tuple[str, int]] = field(default_factory=list)  # etcd
    prefix: str = DEFAULT_PREFIX  # etcd: where kfed's keys live


def parse_store_url(url: str) -> StoreURL:
    """Parse "memory://", "sqlite:///abs/kfed.db", "/abs/kfed.db", "kfed.db",
    "etcd://127.0.0.1:2379,10.0.0.2:2379/kfed-prod" (the path, when given, is the key prefix)."""
    text = url.strip()
    if not text:
        raise ValueError("empty store URL")
    scheme, sep, rest = text.partition("://")
    if not sep:
        # A plain path: the SQLite file.
        return StoreURL("sqlite", path=os.path.abspath(os.path.expanduser(text)))
    scheme = scheme.lower()
    if scheme == "memory":
        if rest.strip("/"):
            raise ValueError(f"memory store URL takes no path: {url!r}")
        return StoreURL("memory")
    if scheme == "sqlite":
        # sqlite:///abs/path -> "/abs/path"; sqlite://relative/path is refused as ambiguous
        if not rest.startswith("/"):
            raise ValueError(f"sqlite URL needs an absolute path (sqlite:///path/kfed.db): {url!r}")
        path = rest.split("?", 1)[0]
        if path in ("", "/"):
            raise ValueError(f"sqlite URL has no file: {url!r}")
        return StoreURL("sqlite", path=path)
    if scheme == "etcd":
        hosts, slash, prefix = rest.partition("/")
        endpoints = parse_endpoints(hosts)
        return StoreURL("etcd", endpoints=endpoints,
                        prefix=("/" + prefix.rstrip("/")) if slash and prefix.strip("/") else DEFAULT_PREFIX)
    raise ValueError(f"unknown store URL scheme {scheme!r} in {url!r} (memory, sqlite, etcd)")
