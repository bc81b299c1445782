"""Fixtures for the storage tests: a real etcd on loopback, and one Store per backend.

The etcd process (etcd_process.py) is shared by the whole session, since starting one takes
about a second; each test gets its own key prefix in it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from etcd_process import ETCD, EtcdServer, running_etcd

from kfed.storage import CachedStore, MemoryJournal, SqliteJournal, Store


@pytest.fixture(scope="session")
def etcd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdServer]:
    if ETCD is None:
        pytest.fail("etcd is not installed: run `make sysdeps` (make test does)")
    with running_etcd(tmp_path_factory.mktemp("etcd")) as server:
        yield server


BACKENDS = ["memory", "sqlite", "etcd"]


@pytest.fixture
def etcd_prefix() -> str:
    return f"/kfed-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=BACKENDS)
def unstarted_store(request: pytest.FixtureRequest, tmp_path: Path, etcd_prefix: str) -> Store:
    """A Store of each backend, not started yet (sync, so it can ask for the etcd fixture)."""
    if request.param == "memory":
        return CachedStore(MemoryJournal())
    if request.param == "sqlite":
        return CachedStore(SqliteJournal(tmp_path / "kfed.db"))
    from kfed.storage.etcd import EtcdStore

    server: EtcdServer = request.getfixturevalue("etcd_server")
    return EtcdStore(server.endpoint, prefix=etcd_prefix)


@pytest.fixture
async def store(unstarted_store: Store) -> AsyncIterator[Store]:
    await unstarted_store.start()
    try:
        yield unstarted_store
    finally:
        await unstarted_store.close()
