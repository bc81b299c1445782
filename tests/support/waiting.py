"""Waiting on conditions with a deadline (tests never sleep a fixed time for something to happen)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(check: Callable[[], T], timeout: float = 20.0, interval: float = 0.05, what: str = "condition") -> T:
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            result = check()
            if result:
                return result
        except Exception as e:  # noqa: BLE001 - retried until the deadline
            last_error = e
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}" +
                               (f" (last error: {last_error})" if last_error else ""))
        time.sleep(interval)


async def async_wait_for(check: Callable[[], Awaitable[T]], timeout: float = 20.0, interval: float = 0.05,
                         what: str = "condition") -> T:
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            result = await check()
            if result:
                return result
        except Exception as e:  # noqa: BLE001 - retried until the deadline
            last_error = e
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}" +
                               (f" (last error: {last_error})" if last_error else ""))
        await asyncio.sleep(interval)
