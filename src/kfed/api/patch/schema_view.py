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


_MAX_REMEMBERED_KEYS = 256


class SchemaNode:
    """The answers above for one schema node, worked out once: walking every value of every write
    asks them again and again of the same few nodes of a kind's schema.

    Children are built on first use and kept; a map's entries (additionalProperties) share one
    child, so the tree stays as small as the schema whatever keys the objects use.
    """

    __slots__ = ("schema", "atomic_map", "has_properties", "_fields", "_extra", "_items", "_list_type")

    def __init__(self, schema: Obj) -> None:
        self.schema = schema  # resolved
        self.atomic_map = map_is_atomic(schema)
        self.has_properties = "properties" in schema
        self._fields: dict[str, SchemaNode] = {}
        self._extra: SchemaNode | None = None
        self._items: SchemaNode | None = None
        self._list_type: tuple[ListType, tuple[str, ...]] | None = None

    def field(self, name: str) -> SchemaNode:
        """field_schema(schema, name), as a node."""
        node = self._fields.get(name)
        if node is not None:
            return node
        props = self.schema.get("properties")
        sub = props.get(name) if props is not None else None
        if sub is None:
            node = self._additional()
            if len(self._fields) < _MAX_REMEMBERED_KEYS:
                self._fields[name] = node  # a map's keys: remembered up to a bound
            return node
        node = self._fields[name] = SchemaNode(resolve(sub))
        return node

    def _additional(self) -> SchemaNode:
        if self._extra is None:
            extra = self.schema.get("additionalProperties")
            self._extra = SchemaNode(resolve(extra)) if isinstance(extra, dict) else _EMPTY_NODE
        return self._extra

    def items(self) -> SchemaNode:
        """items_schema(schema), as a node."""
        if self._items is None:
            self._items = SchemaNode(items_schema(self.schema))
        return self._items

    def list_type(self) -> tuple[ListType, tuple[str, ...]]:
        if self._list_type is None:
            self._list_type = list_type(self.schema)
        return self._list_type


_EMPTY_NODE = SchemaNode(EMPTY)
# Root nodes by the identity of the schema they view. Each entry holds its schema, so no other
# object can take over that identity while the entry lives; the bound keeps schemas built on the
# fly (tests) from piling up.
_ROOTS: dict[int, tuple[Obj, SchemaNode]] = {}
_MAX_ROOTS = 256


def schema_node(schema: Any) -> SchemaNode:
    """The (shared, cached) node for a whole object's schema. Schemas must not change once used."""
    found = _ROOTS.get(id(schema))
    if found is not None and found[0] is schema:
        return found[1]
    node = SchemaNode(resolve(schema))
    if len(_ROOTS) >= _MAX_ROOTS:
        _ROOTS.clear()
    _ROOTS[id(schema)] = (schema, node)
    return node
