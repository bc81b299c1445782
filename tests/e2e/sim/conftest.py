"""Simulated clusters in a background thread of the test process, driven with the real kubectl."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sim_e2e import Sim, start_sim


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Sim]:
    """Two clusters: `east` (two zones, two nodes each) and `west` (one zone)."""
    s = start_sim(tmp_path, "east=us-east1/us-east1-b,us-east1-c", "west=us-west1/us-west1-a")
    try:
        yield s
    finally:
        s.thread.stop()
