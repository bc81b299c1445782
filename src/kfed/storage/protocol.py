"""The Store protocol: a key-value store shaped like etcd v3.

One global revision counts every write; each key remembers the revision that created it and the
one that last changed it. Writes are compare-and-swap on the mod revision. A watch starts from a
revision and sees every later change under a prefix, in order; a revision that history no longer
holds raises `CompactedError`, which the API answers with 410 Gone.

Backends: `CachedStore` (kfed.storage.cached) over a journal (in memory, or SQLite for
durability), and an etcd backend. The API layer only ever sees this protocol.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable


class StoreError(Exception):
    """Base of every error a Store raises."""


class KeyExistsError(StoreError):
    def __init__(self, key: str) -> None:
        super().__init__(f"key exists: {key}")
        self.key = key


class KeyNotFoundError(StoreError):
    def __init__(self, key: str) -> None:
        super().__init__(f"key not found: {key}")
        self.key = key


class ConflictError(StoreError):
    """The key's mod revision was not the expected one."""

    def __init__(self, key: str, expected: int, actual: int) -> None:
        super().__init__(f"conflict on {key}: expected mod revision {expected}, have {actual}")
        self.key = key
        self.expected = expected
        self.actual = actual


class CompactedError(StoreError):
    """The requested revision is older than what history still holds."""

    def __init__(self, requested: int, compacted: int) -> None:
        super().__init__(f"revision {requested} has been compacted (oldest available {compacted + 1})")
        self.requested = requested
        self.compacted = compacted


@dataclass(frozen=True, slots=True)
class KeyValue:
    key: str
    value: bytes
    create_revision: int
    mod_revision: int


class EventType(StrEnum):
    PUT = "PUT"
    DELETE = "DELETE"


@dataclass(frozen=True, slots=True)
class WatchEvent:
    """One change. For PUT, `kv` is the new value; for DELETE, `kv` holds the last value with
    `mod_revision` set to the revision of the delete. `prev` is the value before the change.

    `decoded` is, when the store has it, what the writer encoded into `kv.value` (see
    `CARRIES_DECODED`): readers may use it instead of decoding the value again. It is shared by
    every watcher and its writer, so nobody may change it. None when the store has no such object
    (etcd's events, history a watch replays): decode `kv.value` then.
    """

    type: EventType
    kv: KeyValue
    prev: KeyValue | None
    decoded: Any = field(default=None, compare=False, repr=False)

    @property
    def revision(self) -> int:
        return self.kv.mod_revision


@dataclass(frozen=True, slots=True)
class RangeResult:
    kvs: list[KeyValue]
    revision: int  # the store revision the range was read at
    more: bool  # more keys under the prefix after the last one returned
    count: int  # keys under the prefix in all


@runtime_checkable
class Watcher(Protocol):
    """A running watch. Iterate it for batches of events (in revision order).

    `revision` is the revision up to which this stream is complete: every change under the
    prefix with a revision at or below it has been yielded. It is what a BOOKMARK may carry.
    Iteration ends when the watcher is closed, or raises StoreError if the store dropped it
    (a watcher too slow to keep up is dropped rather than buffering without bound).
    """

    revision: int

    def __aiter__(self) -> AsyncIterator[list[WatchEvent]]: ...

    async def next_batch(self, timeout: float | None) -> list[WatchEvent] | None:
        """The next batch, or None when `timeout` seconds pass first (None: wait for ever).
        Ends like iteration does; cancelling a wait loses no event."""
        ...

    async def close(self) -> None: ...


#: Attribute (True) of a Store whose `create` and `update` take a keyword `decoded`: a function of
#: the revision the write gets that returns the object the value encodes, as readers see it at that
#: revision. The store calls it once and hands the result to live watchers as `WatchEvent.decoded`,
#: so an in-process store's readers use the writer's object instead of decoding the value again.
#: Stores without it (etcd: events come from the server) take only the protocol's arguments.
CARRIES_DECODED = "carries_decoded"

#: The `decoded` argument of a CARRIES_DECODED store's writes: revision -> decoded object.
Decoded = Callable[[int], Any]


@runtime_checkable
class Store(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...

    @property
    def revision(self) -> int:
        """The latest committed revision."""
        ...

    @property
    def compacted_revision(self) -> int:
        """Watches must start after this revision."""
        ...

    async def get(self, key: str) -> KeyValue | None: ...

    async def range(self, prefix: str, *, start_after: str | None = None, limit: int = 0) -> RangeResult:
        """Keys under `prefix` in key order, after `start_after`, at most `limit` (0: all)."""
        ...

    async def create(self, key: str, value: bytes) -> KeyValue:
        """Raises KeyExistsError. Returns only once the write is durable."""
        ...

    async def update(self, key: str, value: bytes, expected_mod_revision: int | None = None) -> KeyValue:
        """Raises KeyNotFoundError, or ConflictError when expected_mod_revision is given and stale."""
        ...

    async def delete(self, key: str, expected_mod_revision: int | None = None) -> tuple[KeyValue, int]:
        """Returns the deleted value and the revision of the delete."""
        ...

    async def watch(self, prefix: str, start_revision: int) -> Watcher:
        """Every change under prefix with revision > start_revision. Raises CompactedError."""
        ...

    async def compact(self, revision: int) -> None: ...
