"""A quick throughput check: bench/store_bench.py on SQLite with 1, 10 and 100 writers.

The rates are printed (run pytest with -s to see them), not asserted on: the machine is shared.
What is asserted is that the benchmark runs and every create of every run was acknowledged.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_sqlite_creates_per_second(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "store_bench.py"), "--backends", "sqlite",
         "--writers", "1,10,100", "--count", "600", "--dir", str(tmp_path)],
        capture_output=True, text=True, env=env, timeout=120, check=True,
    ).stdout
    print("\n" + out)
    rows = [line.split("|")[1:-1] for line in out.splitlines() if line.startswith("| sqlite")]
    assert [int(r[1]) for r in rows] == [1, 10, 100]
    for row in rows:
        assert int(row[2]) == 600  # creates acknowledged
        assert float(row[3].replace(",", "")) > 0
    assert not list(tmp_path.iterdir())  # the benchmark cleaned up after itself
