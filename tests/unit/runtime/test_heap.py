"""HeapFreezer: long-lived objects leave the collector's sight, garbage still goes (a fleet as the example)."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest

from kfed.runtime.heap import HeapFreezer
from kfed.sim.cluster import SimOptions
from kfed.sim.fleet import SimFleet
from kfed.sim.layout import ClusterSpec


@pytest.fixture(autouse=True)
def manual_gc() -> Iterator[None]:
    """Only the collections a test asks for; nothing left frozen afterwards."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()


class Node:
    def __init__(self) -> None:
        self.peer: Node | None = None


def cycle() -> tuple[Node, Node]:
    """Two nodes that refer to each other: reference counting alone never frees them."""
    a, b = Node(), Node()
    a.peer, b.peer = b, a
    return a, b


def test_freezes_the_survivors_of_older_collections_only() -> None:
    heap = HeapFreezer()
    heap.start()
    try:
        assert heap.running
        gc.collect(0)  # generation 0 promotes to generation 1 only: not long-lived yet
        assert heap.freezes == 0
        kept = [Node() for _ in range(1000)]
        before = gc.get_freeze_count()
        gc.collect(1)
        assert heap.freezes == 1
        assert gc.get_freeze_count() >= before + 1000  # the survivors: kept and its nodes
        assert not any(o is kept for o in gc.get_objects())  # out of every generation
        gc.collect()
        assert heap.freezes == 2
    finally:
        heap.stop()
    assert not heap.running and heap._on_collection not in gc.callbacks
    assert gc.get_freeze_count() == 0, "stopped: the frozen objects are the collector's again"
    gc.collect(1)
    assert heap.freezes == 2  # stopped: collections no longer freeze
    heap.stop()  # twice is harmless


def test_cycles_that_died_while_frozen_are_freed_after_stop() -> None:
    heap = HeapFreezer()
    heap.start()
    try:
        a, b = cycle()
        gone = weakref.ref(a)
        gc.collect(1)  # they survive: frozen
        assert heap.freezes == 1
        del a, b  # now garbage, but a cycle: reference counting cannot free it
        gc.collect()
        assert gone() is not None, "frozen: out of the collector's sight"
    finally:
        heap.stop()
    gc.collect()
    assert gone() is None


def test_young_garbage_cycles_are_collected_not_frozen() -> None:
    heap = HeapFreezer()
    heap.start()
    try:
        a, b = cycle()
        ref = weakref.ref(a)
        del a, b  # a cycle: only the collector frees it
        gc.collect(1)
        assert heap.freezes == 1 and ref() is None
    finally:
        heap.stop()


def test_frozen_objects_are_still_freed_by_reference_counting() -> None:
    heap = HeapFreezer()
    heap.start()
    try:
        acyclic = Node()
        ref = weakref.ref(acyclic)
        gc.collect(1)
        assert heap.freezes == 1
        del acyclic
        assert ref() is None  # no collection needed
    finally:
        heap.stop()


async def test_fleet_runs_it_unless_told_not_to(tmp_path: Path) -> None:
    layout = [ClusterSpec("heap-a", "region-a", ("region-a-z",))]
    async with SimFleet(layout, data_dir=tmp_path / "on", write_kubeconfig=False,
                        options=SimOptions(nodes_per_zone=1, events=False)) as fleet:
        assert fleet.heap.running
        await asyncio.sleep(0)
        gc.collect(1)
        assert fleet.heap.freezes == 1
    assert not fleet.heap.running
    async with SimFleet(layout, data_dir=tmp_path / "off", write_kubeconfig=False,
                        options=SimOptions(nodes_per_zone=1, events=False, freeze_heap=False)) as fleet:
        assert not fleet.heap.running
        gc.collect(1)
        assert fleet.heap.freezes == 0
