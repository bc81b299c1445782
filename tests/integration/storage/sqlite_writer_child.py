"""Child process of test_sqlite_kill9: writes to a CachedStore over SqliteJournal as fast as it
can and prints one line per acknowledged write, flushed, until it is killed.

    python sqlite_writer_child.py DB WRITERS

Lines: "READY <revision>", then "C <key> <mod revision>" for a create and "U <key> <mod
revision>" for an update. Values are derived from the key (and, for the update, the create
revision; see value_for), so the parent can check every byte without being told them.
"""

from __future__ import annotations

import asyncio
import sys

from kfed.storage import CachedStore, SqliteJournal


def value_for(key: str, revision: int) -> bytes:
    seed = f"{key}@{revision}".encode()
    return seed + bytes(range(256)) + seed * 8


def acknowledge(line: str) -> None:
    # Printed only after the store acknowledged the write, and flushed at once: every line
    # the parent reads is a write the store promised to keep.
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def writer(store: CachedStore, run: int, wid: int) -> None:
    i = 0
    while True:
        key = f"/kill9/{run}/{wid:03d}/{i:07d}"
        kv = await store.create(key, value_for(key, 0))
        acknowledge(f"C {key} {kv.mod_revision}")
        # The update's value names the create revision, known only now.
        upd = await store.update(key, value_for(key, kv.mod_revision), expected_mod_revision=kv.mod_revision)
        acknowledge(f"U {key} {upd.mod_revision}")
        i += 1


async def main(path: str, writers: int) -> None:
    store = CachedStore(SqliteJournal(path))
    await store.start()
    run = store.revision  # keys of a run after a kill differ from the run before
    acknowledge(f"READY {run}")
    await asyncio.gather(*(writer(store, run, w) for w in range(writers)))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
