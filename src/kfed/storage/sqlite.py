"""SqliteJournal: the durable journal under a CachedStore, in one SQLite file.

The file holds the live keys (no history: watches from before a restart get CompactedError, as
with a compacted etcd) and one meta row with the current and compacted revisions. Each
`commit` writes a whole batch of writes in one transaction, so a group of concurrent writes
costs one fsync. WAL mode with synchronous=FULL syncs the log at every commit: a write the
store has acknowledged survives kill -9 of the process and loss of power.

The CachedStore calls the journal from worker threads, one call at a time for commits; a lock
keeps a compaction or close from running inside a commit's transaction.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterable

from kfed.storage.cached import JournalState
from kfed.storage.protocol import EventType, KeyValue, StoreError, WatchEvent

SCHEMA_VERSION = 1

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS kv (
        key TEXT PRIMARY KEY NOT NULL,
        value BLOB NOT NULL,
        create_revision INTEGER NOT NULL,
        mod_revision INTEGER NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS meta (
        id INTEGER PRIMARY KEY CHECK (id = 0),
        revision INTEGER NOT NULL,
        compacted_revision INTEGER NOT NULL
    )""",
    "INSERT OR IGNORE INTO meta (id, revision, compacted_revision) VALUES (0, 0, 0)",
)

_UPSERT = (
    "INSERT INTO kv (key, value, create_revision, mod_revision) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
    "create_revision = excluded.create_revision, mod_revision = excluded.mod_revision"
)


def final_writes(events: Iterable[WatchEvent]) -> tuple[list[KeyValue], list[str]]:
    """What a batch leaves behind: the last value of every key put, and the keys deleted.

    Only the last event of a key matters to the table of live keys, so a batch that touches a
    key several times writes it once.
    """
    last: dict[str, WatchEvent] = {}
    for ev in events:
        last.pop(ev.kv.key, None)  # keep the order of last writes
        last[ev.kv.key] = ev
    puts = [ev.kv for ev in last.values() if ev.type is EventType.PUT]
    deletes = [ev.kv.key for ev in last.values() if ev.type is EventType.DELETE]
    return puts, deletes


class SqliteJournal:
    """A Journal (kfed.storage.cached) in a SQLite database at `path`.

    The database is opened in exclusive locking mode: a second process (another kfed server
    pointed at the same file by mistake) fails to open it instead of silently diverging.
    `checkpoint_pages` is the WAL size, in pages, at which SQLite copies the log back into the
    database; a short log keeps the recovery after a crash quick.
    """

    blocking = True

    def __init__(self, path: str | os.PathLike[str], *, checkpoint_pages: int = 1000,
                 busy_timeout: float = 2.0) -> None:
        self.path = os.fspath(path)
        self._checkpoint_pages = checkpoint_pages
        self._busy_timeout = busy_timeout
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    # -- Journal -------------------------------------------------------------------------

    def load(self) -> JournalState:
        with self._lock:
            conn = self._open()
            kvs = {
                key: KeyValue(key, bytes(value), create_rev, mod_rev)
                for key, value, create_rev, mod_rev in conn.execute(
                    "SELECT key, value, create_revision, mod_revision FROM kv"
                )
            }
            revision, compacted = conn.execute(
                "SELECT revision, compacted_revision FROM meta WHERE id = 0"
            ).fetchone()
            return JournalState(kvs, revision, compacted)

    def commit(self, events: list[WatchEvent], revision: int) -> None:
        puts, deletes = final_writes(events)
        with self._lock:
            conn = self._connection()
            try:
                conn.execute("BEGIN IMMEDIATE")
                if puts:
                    conn.executemany(
                        _UPSERT, [(kv.key, kv.value, kv.create_revision, kv.mod_revision) for kv in puts]
                    )
                if deletes:
                    conn.executemany("DELETE FROM kv WHERE key = ?", [(k,) for k in deletes])
                conn.execute("UPDATE meta SET revision = ? WHERE id = 0", (revision,))
                conn.execute("COMMIT")
            except BaseException:
                self._rollback(conn)
                raise

    def compact(self, revision: int) -> None:
        # No history is kept on disk; the compacted revision is recorded for whoever reads it.
        with self._lock:
            conn = self._connection()
            conn.execute(
                "UPDATE meta SET compacted_revision = max(compacted_revision, ?) WHERE id = 0",
                (revision,),
            )
            # A quiet moment after a compaction is a good time to fold the log back in.
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def close(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
            if conn is None:
                return
            try:
                # Leave a clean database behind: the next open has no log to replay. Only an
                # optimisation: the log is valid either way.
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                conn.close()

    # -- helpers -------------------------------------------------------------------------

    def checkpoint(self) -> tuple[int, int, int]:
        """Copy the log into the database now: (busy, log pages, pages checkpointed)."""
        with self._lock:
            row = self._connection().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            return int(row[0]), int(row[1]), int(row[2])

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"sqlite journal {self.path} is not open")
        return self._conn

    def _open(self) -> sqlite3.Connection:
        if self._conn is not None:
            return self._conn
        parent = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(parent, exist_ok=True)
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, so one batch is one transaction.
        # check_same_thread=False: the store calls us from worker threads, one at a time (lock).
        conn = sqlite3.connect(
            self.path, timeout=self._busy_timeout, isolation_level=None, check_same_thread=False
        )
        try:
            # Exclusive before WAL: the log index then lives in process memory (no -shm file)
            # and the lock, taken by the first write below, is held until close.
            conn.execute("PRAGMA locking_mode = EXCLUSIVE")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"sqlite journal {self.path}: cannot use WAL mode (got {mode})")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute(f"PRAGMA wal_autocheckpoint = {int(self._checkpoint_pages)}")
            # After a checkpoint, cut the log file back instead of keeping it at its largest.
            conn.execute("PRAGMA journal_size_limit = 67108864")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"sqlite journal {self.path} has schema version {version}, newer than {SCHEMA_VERSION}"
                )
            # The first write takes the exclusive lock, held from now until close.
            conn.execute("BEGIN IMMEDIATE")
            for statement in _SCHEMA:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            self._rollback(conn)
            conn.close()
            if "locked" in str(exc) or "busy" in str(exc):
                raise StoreError(f"sqlite journal {self.path} is in use by another process") from exc
            raise StoreError(f"sqlite journal {self.path}: {exc}") from exc
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        return conn

    @staticmethod
    def _rollback(conn: sqlite3.Connection) -> None:
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):  # a broken connection: the first error says why
                conn.execute("ROLLBACK")
