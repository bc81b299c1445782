"""Reading the Kubernetes extensions of an inline OpenAPI v3 schema, as the patch engines need them.

Schemas are the whole object's schema written inline (no $ref). Where a schema is missing, the
answers are Kubernetes' answers for unknown structure: maps are merged key by key, lists are
atomic, and strategic merge replaces lists.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from kfed.model.resource import Obj

EMPTY: Obj = {}


class ListType(StrEnum):
    ATOMIC = "atomic"
    SET = "set"
    MAP = "map"


def resolve(schema: Any) -> Obj:
    """The schema itself, with `allOf` parts folded in (OpenAPI v3 wraps defaulted fields that way)."""
    if not isinstance(schema, dict):
        return EMPTY
    parts = schema.get("allOf")
    if not parts:
        return schema
    merged: Obj = {k: v for k, v in schema.items() if k != "allOf"}
    for part in parts:
        for key, value in resolve(part).items():
            if key == "properties" and isinstance(value, dict):
                merged["properties"] = {**value, **merged.get("properties", {})}
            else:
                merged.setdefault(key, value)
    return merged


def field_schema(schema: Obj, name: str) -> Obj:
    """The schema of `name` inside an object schema: a declared property, else additionalProperties."""
    props = schema.get("properties")
    if props is not None:
        sub = props.get(name)
        if sub is not None:
            return resolve(sub)
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        return resolve(extra)
    return EMPTY


def is_named_field(schema: Obj, name: str) -> bool:
    """Whether `name` is a declared property (a struct field), not a key of a map."""
    props = schema.get("properties")
    return props is not None and name in props


def items_schema(schema: Obj) -> Obj:
    return resolve(schema.get("items"))


def map_is_atomic(schema: Obj) -> bool:
    return schema.get("x-kubernetes-map-type") == "atomic"


def is_nullable(schema: Obj) -> bool:
    return bool(schema.get("nullable"))


def is_map_schema(schema: Obj) -> bool:
    """Whether the schema describes an object (struct or map), as opposed to a scalar or a list."""
    return schema.get("type") == "object" or "properties" in schema or "additionalProperties" in schema


def is_list_schema(schema: Obj) -> bool:
    return schema.get("type") == "array" or "items" in schema


def list_type(schema: Obj) -> tuple[ListType, tuple[str, ...]]:
    """How server-side apply treats a list, and its key fields for ListType.MAP.

    As Kubernetes converts OpenAPI to structured-merge-diff: x-kubernetes-list-type first, else a
    `merge` patch strategy (keyed by the merge key when there is one), else atomic.
    """
    declared = schema.get("x-kubernetes-list-type")
    if declared == "map":
        return ListType.MAP, tuple(schema.get("x-kubernetes-list-map-keys") or ())
    if declared == "set":
        return ListType.SET, ()
    if declared == "atomic":
        return ListType.ATOMIC, ()
    if "merge" in patch_strategies(schema):
        key = schema.get("x-kubernetes-patch-merge-key")
        if key:
            return ListType.MAP, (key,)
        return ListType.SET, ()
    return ListType.ATOMIC, ()


def patch_strategies(schema: Obj) -> frozenset[str]:
    """The x-kubernetes-patch-strategy values ("merge", "retainKeys", "replace")."""
    raw = schema.get("x-kubernetes-patch-strategy")
    if not raw:
        return frozenset()
    return frozenset(part.strip() for part in str(raw).split(",") if part.strip())


def merge_key(schema: Obj) -> str:
    return str(schema.get("x-kubernetes-patch-merge-key") or "")


def key_default(item_schema: Obj, key: str) -> Any:
    """The schema default of a list-map key field (structured-merge-diff fills missing keys with it)."""
    sub = field_schema(item_schema, key)
    return sub.get("default")
