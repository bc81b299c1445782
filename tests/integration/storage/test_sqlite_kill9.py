"""Durability: every write a CachedStore over SqliteJournal acknowledged survives kill -9.

A child process writes as fast as it can with many concurrent writers (so commits are groups)
and prints each acknowledged write; we SIGKILL it mid-stream, reopen the database and check
every acknowledged write is there, byte for byte.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlite_writer_child import value_for

from kfed.storage import JournalState, SqliteJournal

CHILD = Path(__file__).with_name("sqlite_writer_child.py")
SRC = Path(__file__).resolve().parents[3] / "src"


def read_journal(db: Path) -> JournalState:
    journal = SqliteJournal(db)
    try:
        return journal.load()
    finally:
        journal.close()  # let the next writer take the lock


def run_and_kill(db: Path, writers: int, acks_before_kill: int, deadline_s: float = 60.0) -> list[str]:
    """Start the writer, SIGKILL it after `acks_before_kill` acknowledgements; all ack lines."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([sys.executable, str(CHILD), str(db), str(writers)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    lines: list[str] = []
    enough = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:  # runs until EOF: lines printed before the kill still count
            lines.append(raw.decode().rstrip("\n"))
            if len(lines) >= acks_before_kill:
                enough.set()
        enough.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        if not enough.wait(deadline_s):
            pytest.fail(f"child wrote only {len(lines)} acknowledgements in {deadline_s}s")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        reader.join(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode() if proc.stderr else ""
    if proc.stderr is not None:
        proc.stderr.close()
    if proc.stdout is not None:
        proc.stdout.close()
    # A line cut short by the kill was not a complete acknowledgement.
    return [line for line in lines if line.count(" ") == 2 or line.startswith("READY ")]


@pytest.mark.parametrize("writers", [1, 50])
def test_acknowledged_writes_survive_kill9(tmp_path: Path, writers: int) -> None:
    db = tmp_path / "kfed.db"
    total_acks = 0
    last_revision = 0
    for round_ in range(2):  # the second round also proves a killed database opens and goes on
        lines = run_and_kill(db, writers, acks_before_kill=600)
        assert lines[0].startswith("READY ")
        assert int(lines[0].split()[1]) >= last_revision
        acks = [line.split() for line in lines[1:]]
        assert len(acks) >= 600 - 1, f"round {round_}: too few acknowledgements"
        total_acks += len(acks)

        state = read_journal(db)
        created: dict[str, int] = {}
        for kind, key, rev_text in acks:
            rev = int(rev_text)
            last_revision = max(last_revision, rev)
            kv = state.kvs.get(key)
            assert kv is not None, f"acknowledged {kind} of {key} at {rev} lost"
            if kind == "C":
                created[key] = rev
                assert kv.create_revision == rev
            else:
                assert kv.mod_revision == rev
                assert kv.value == value_for(key, kv.create_revision)
        for key, rev in created.items():
            kv = state.kvs[key]
            # Either the create, or the update that followed it (durable, not yet acknowledged).
            expected = value_for(key, 0) if kv.mod_revision == rev else value_for(key, rev)
            assert kv.value == expected
        assert state.revision >= last_revision
    assert total_acks >= 2 * 599


def test_child_is_fast_enough_to_be_killed_mid_batch(tmp_path: Path) -> None:
    """The kill must land while writes are in flight: the child never stops writing, so the
    database holds (durable but unacknowledged) writes past the last acknowledgement or, at
    least, exactly up to it; never fewer."""
    db = tmp_path / "kfed.db"
    started = time.monotonic()
    lines = run_and_kill(db, writers=20, acks_before_kill=300)
    assert time.monotonic() - started < 60
    last = max(int(line.split()[2]) for line in lines[1:])
    assert read_journal(db).revision >= last
