"""JSON and YAML encoding of API objects (orjson on the hot path)."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from typing import Any

import orjson
import yaml


class DecodeError(ValueError):
    pass


def dumps(obj: Any) -> bytes:
    # orjson returns its whole (over-sized, ~8 KiB+) output buffer; a copy is exactly as long as the
    # JSON, which matters for everything kept: stored values, cached watch frames.
    return bytes(memoryview(orjson.dumps(obj)))


def loads(data: bytes | str) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as e:
        raise DecodeError(str(e)) from e


def loads_json_or_yaml(data: bytes, content_type: str) -> Any:
    """Decode a request body. YAML is accepted where kube-apiserver accepts it."""
    if "yaml" in content_type:
        try:
            return yaml.safe_load(data)
        except yaml.YAMLError as e:
            raise DecodeError(f"error converting YAML to JSON: {e}") from e
    return loads(data)


def dump_yaml(obj: Any) -> bytes:
    return yaml.safe_dump(obj, sort_keys=False, default_flow_style=False).encode()


_last_second: tuple[int, str] = (-1, "")


def now_rfc3339() -> str:
    """The current time to the second, as Kubernetes writes timestamps.

    Formatted once per second: every write asks for it (creationTimestamp, managedFields time),
    and strftime costs more than the rest of a timestamp's bookkeeping.
    """
    global _last_second
    second = math.floor(time.time())
    if second != _last_second[0]:
        _last_second = (second, datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    return _last_second[1]


def now_micro() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
