"""Store URLs and open_store."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kfed.storage import CachedStore, SqliteJournal, StoreURL, open_store, parse_store_url


def test_parse_store_urls() -> None:
    assert parse_store_url("memory://") == StoreURL("memory")
    assert parse_store_url("sqlite:///var/lib/kfed/kfed.db") == StoreURL("sqlite", path="/var/lib/kfed/kfed.db")
    assert parse_store_url("/abs/kfed.db") == StoreURL("sqlite", path="/abs/kfed.db")
    assert parse_store_url("rel/kfed.db") == StoreURL("sqlite", path=os.path.abspath("rel/kfed.db"))
    etcd = parse_store_url("etcd://127.0.0.1:2379,10.0.0.2:2380")
    assert etcd.scheme == "etcd"
    assert etcd.endpoints == [("127.0.0.1", 2379), ("10.0.0.2", 2380)]
    assert etcd.prefix == "/kfed"
    assert parse_store_url("etcd://h:1/kfed-prod/").prefix == "/kfed-prod"
    assert parse_store_url("etcd://h:1/").prefix == "/kfed"


@pytest.mark.parametrize("bad", ["", "memory://x", "sqlite://relative.db", "sqlite:///", "redis://h:1", "etcd://"])
def test_bad_store_urls(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_store_url(bad)


async def test_open_store_backends(tmp_path: Path) -> None:
    mem = open_store("memory://")
    assert isinstance(mem, CachedStore)
    path = tmp_path / "kfed.db"
    for url in (f"sqlite://{path}", str(path)):
        store = open_store(url)
        assert isinstance(store, CachedStore) and isinstance(store._journal, SqliteJournal)
        await store.start()
        await store.create(f"/{len(url)}", b"x")
        await store.close()
    assert path.exists()
