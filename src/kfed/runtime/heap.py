"""Keeps the garbage collector off a process's long-lived objects.

A simulated fleet may hold 50 clusters of thousands of objects, and a controller-manager the
informer caches of 50 members: millions of tracked containers. CPython's full collection walks
all of them, a pause of 1-3 s during which no event is handled, and it comes back every time the
heap grew by a quarter (27 of them, 11 s of CPU, while a 50-cluster fleet is populated; 58 of
them, 35 s of CPU, while a controller-manager propagated 1,000 Services to 50 clusters).

Objects that survive the two young generations are the fleet's state. Right after each
collection of generation 1 or 2, when the young generations are empty and the oldest holds only
survivors, everything is moved to the permanent generation (gc.freeze, which only splices lists),
so a full collection has nothing left to walk. Reference counting still frees a frozen object
that is dropped; what is not freed while it runs is a cycle of objects that becomes garbage after
it survived two collections (stop() hands everything frozen back to the collector: the permanent
generation is the process's, so another freezer in the process freezes its part again after its
next collection). The fleet's data, and the decoded JSON the informers cache, are acyclic; with uvloop (as `kfed sim` runs) 150 watch and list
connections opened and closed left nothing behind, with asyncio's own loop each connection that
outlived a collection leaves its transport (five objects per end). Freezing from the collector's
callback rather than on a timer keeps young garbage, cycles included, out of the permanent
generation.
"""

from __future__ import annotations

import gc
from typing import Any


class HeapFreezer:
    """While started: freeze what each collection of the older generations let survive."""

    def __init__(self, *, young_threshold: int | None = None) -> None:
        """young_threshold: while started, collect the young generation after this many new
        objects rather than CPython's 700 (and the middle one every 20th time): short-lived
        objects (a request's, an event's) are mostly freed by reference counting before a
        collection has to look at them. None leaves the thresholds alone."""
        self.freezes = 0  # how many times it froze (for tests and benchmarks)
        self.young_threshold = young_threshold
        self._saved_thresholds: tuple[int, int, int] | None = None
        self._started = False

    @property
    def running(self) -> bool:
        return self._started

    def start(self) -> None:
        if not self._started:
            gc.callbacks.append(self._on_collection)
            if self.young_threshold is not None:
                self._saved_thresholds = gc.get_threshold()
                gc.set_threshold(self.young_threshold, 20, 20)
            self._started = True

    def stop(self) -> None:
        """Stop freezing, and hand what was frozen back to the collector: cycles that became
        garbage while frozen (a controller-manager's informers after it stopped leading, say)
        are freed by the next full collection instead of staying for the life of the process."""
        if self._started:
            gc.unfreeze()
            gc.callbacks.remove(self._on_collection)
            if self._saved_thresholds is not None:
                gc.set_threshold(*self._saved_thresholds)
                self._saved_thresholds = None
            self._started = False

    def _on_collection(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "stop" and info["generation"] >= 1:
            gc.freeze()
            self.freezes += 1
