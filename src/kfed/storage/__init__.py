"""Storage for the API server: the Store protocol and its backends.

    store = open_store("sqlite:///var/lib/kfed/kfed.db")
    await store.start()

URLs: "memory://" (nothing kept), "sqlite:///abs/path/kfed.db" or a plain file path (durable,
one process), "etcd://host:2379[,host:2379][/prefix]" (shared by several API servers).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kfed.storage.cached import CachedStore, Journal, JournalState, MemoryJournal
from kfed.storage.protocol import (
    CompactedError,
    ConflictError,
    EventType,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    RangeResult,
    Store,
    StoreError,
    Watcher,
    WatchEvent,
)
from kfed.storage.sqlite import SqliteJournal
from kfed.storage.url import StoreURL, parse_store_url

if TYPE_CHECKING:
    from kfed.storage.etcd import EtcdStore

__all__ = [
    "CachedStore",
    "CompactedError",
    "ConflictError",
    "EtcdStore",
    "EventType",
    "Journal",
    "JournalState",
    "KeyExistsError",
    "KeyNotFoundError",
    "KeyValue",
    "MemoryJournal",
    "RangeResult",
    "SqliteJournal",
    "Store",
    "StoreError",
    "StoreURL",
    "WatchEvent",
    "Watcher",
    "open_store",
    "parse_store_url",
]


def open_store(url: str) -> Store:
    """A Store for `url`, not yet started: call `await store.start()` before use."""
    parsed = parse_store_url(url)
    if parsed.scheme == "memory":
        return CachedStore(MemoryJournal())
    if parsed.scheme == "sqlite":
        return CachedStore(SqliteJournal(parsed.path))
    from kfed.storage.etcd import EtcdStore  # grpc loads only when etcd is used

    return EtcdStore(parsed.endpoints, prefix=parsed.prefix)


def __getattr__(name: str) -> Any:
    # EtcdStore on first use, so importing kfed.storage does not load grpc.
    if name == "EtcdStore":
        from kfed.storage.etcd import EtcdStore

        return EtcdStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
