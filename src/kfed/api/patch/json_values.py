"""Plain JSON values: copying them cheaply and encoding them the way Go's encoding/json does."""

from __future__ import annotations

import json
from typing import Any

import orjson


def json_copy(value: Any) -> Any:
    """A copy of a JSON value (dicts, lists, scalars) that shares no container with the original.

    Several times faster than copy.deepcopy, which matters because the engines run on every write.
    """
    if type(value) is dict:
        return {k: json_copy(v) for k, v in value.items()}
    if type(value) is list:
        return [json_copy(v) for v in value]
    if isinstance(value, dict):
        return {k: json_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_copy(v) for v in value]
    return value


_GO_ESCAPES = (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029"))


def go_json(value: Any, *, sort_keys: bool = False) -> str:
    """Compact JSON as Go's encoder writes it (HTML characters escaped, UTF-8 kept as is).

    The characters Go escapes can only occur inside JSON strings, so replacing them in the
    encoded text is safe.
    """
    text = _encode(value, sort_keys)
    for raw, escaped in _GO_ESCAPES:
        if raw in text:
            text = text.replace(raw, escaped)
    return text


def _encode(value: Any, sort_keys: bool) -> str:
    # orjson writes strings, integers, booleans and null byte for byte as the stdlib encoder does
    # (same short escapes, lowercase \u00XX, UTF-8 kept); floats it writes differently (1e-7 for
    # 1e-07), and it refuses lone surrogates, non-string keys and integers past 64 bits: those
    # values keep the stdlib encoder, so the text never depends on which encoder ran.
    if _orjson_safe(value):
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS if sort_keys else 0).decode()
        except (orjson.JSONEncodeError, UnicodeDecodeError):
            pass
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=sort_keys)


def _orjson_safe(value: Any) -> bool:
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return True
    if kind is dict:
        return all(type(k) is str and _orjson_safe(v) for k, v in value.items())
    if kind is list:
        return all(_orjson_safe(v) for v in value)
    return False


def go_value_string(value: Any) -> str:
    """How structured-merge-diff prints a value inside a field path: strings quoted, `[a,b]` lists."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return "[" + ",".join(go_value_string(v) for v in value) + "]"
    if isinstance(value, dict):
        return "".join(f"{k}={go_value_string(v)}" for k, v in value.items())
    return str(value)
