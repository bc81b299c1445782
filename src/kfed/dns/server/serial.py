"""SOA serial numbers: RFC 1982 arithmetic and the rule that picks the next one.

Secondaries compare serials with serial-number arithmetic (a serial "grows" across the 2**32
wrap), and only transfer when ours is greater than theirs. A serial must therefore grow on every
change and also across restarts of this server, or secondaries would keep stale data. Using the
Unix time as the floor gives both: a restarted server starts above anything it served before
(unless it made more than one change per second for a long time, which the +1 rule then absorbs).
"""

from __future__ import annotations

SERIAL_BITS = 32
_HALF = 1 << (SERIAL_BITS - 1)
_MOD = 1 << SERIAL_BITS


def serial_gt(a: int, b: int) -> bool:
    """RFC 1982 "a is greater than b" for 32-bit serials."""
    a %= _MOD
    b %= _MOD
    return a != b and ((a < b and b - a > _HALF) or (a > b and a - b < _HALF))


def serial_ge(a: int, b: int) -> bool:
    return a % _MOD == b % _MOD or serial_gt(a, b)


def serial_add(serial: int, n: int = 1) -> int:
    """serial + n modulo 2**32, skipping 0 (many tools read 0 as "unset")."""
    result = (serial + n) % _MOD
    return result or 1


def next_serial(current: int | None, proposed: int | None, now: float) -> int:
    """The serial for a new version of a zone whose served serial is `current`.

    `proposed` is what the source suggests (a revision, or an explicit serial); without one the
    Unix time is used. The result is always greater than `current` (RFC 1982).
    """
    candidate = (proposed if proposed else int(now)) % _MOD or 1
    if current is None or serial_gt(candidate, current):
        return candidate
    return serial_add(current)
