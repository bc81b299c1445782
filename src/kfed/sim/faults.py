"""The faults a simulated cluster can be put in, and what each one does to its API server."""

from __future__ import annotations

from enum import StrEnum


class Fault(StrEnum):
    DOWN = "down"  # the API endpoint stops listening: connections are refused
    UNHEALTHY = "unhealthy"  # /readyz answers 500; everything else works
    SLOW = "slow"  # every request waits `latency` seconds first
    REVOKE_CREDENTIALS = "revoke-credentials"  # every token and client certificate gets 401
    FORBID_WRITES = "forbid-writes"  # every write gets 403; reads work


DEFAULT_LATENCY = 0.5


def parse_fault(name: str) -> Fault:
    try:
        return Fault(name)
    except ValueError:
        raise ValueError(f"unknown fault {name!r}; one of: {', '.join(f.value for f in Fault)}") from None
