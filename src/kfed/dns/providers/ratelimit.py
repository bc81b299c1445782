"""Pacing provider calls: a token bucket for the request rate, exponential backoff with jitter for retries.

Both take their clock and sleep as arguments, so tests drive them with a fake clock and no real waits.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class TokenBucket:
    """`rate` tokens a second, at most `burst` saved up; `acquire` waits for one."""

    def __init__(self, rate: float, burst: int = 1, *, clock: Clock = time.monotonic,
                 sleep: Sleep = asyncio.sleep) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = max(1, burst)
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(self.burst)
        self._stamp = clock()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    async def acquire(self) -> float:
        """Take one token, waiting as long as needed; returns the seconds waited."""
        waited = 0.0
        async with self._lock:  # one waiter at a time keeps the order fair
            self._refill()
            if self._tokens < 1:
                delay = (1 - self._tokens) / self.rate
                await self._sleep(delay)
                waited = delay
                self._refill()
                # The sleep was exactly long enough for one token; don't let float rounding
                # (or a clock that did not move) ask for another.
                self._tokens = max(self._tokens, 1.0)
            self._tokens -= 1
        return waited

    def drain(self) -> None:
        """Spend every saved token (the provider said we are too fast)."""
        self._refill()
        self._tokens = min(self._tokens, 0.0)


@dataclass(frozen=True)
class Backoff:
    """Delays for retries: base * factor**attempt, capped, then jittered into its upper half.

    Jitter spreads the retries of many writers; keeping half the delay guarantees the backoff
    still grows, so a throttled provider gets real relief.
    """

    base: float = 0.2
    factor: float = 2.0
    cap: float = 30.0

    def delay(self, attempt: int, rng: Callable[[], float] = random.random, at_least: float = 0.0) -> float:
        ceiling = min(self.cap, self.base * self.factor**attempt)
        return max(at_least, ceiling * (0.5 + 0.5 * rng()))
