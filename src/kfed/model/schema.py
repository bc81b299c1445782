"""A tiny DSL that builds OpenAPI v3 schema dicts for our kinds, fully inline (no `$ref`).

Every builder returns a plain `dict` in the shape kube-openapi publishes, so the patch engines,
field checking and the OpenAPI documents all walk the same data. Conventions they can rely on:

- objects: `type: object` with `properties` (and `required`); maps: `type: object` with
  `additionalProperties`; free-form objects: `x-kubernetes-preserve-unknown-fields: true`.
- scalar unions carry no `type`: int-or-string is `x-kubernetes-int-or-string: true` with
  `anyOf: [integer, string]` (the CRD structural form); a quantity is `anyOf: [number, string]`
  with `format: quantity`.
- the Kubernetes list/map extensions (`x-kubernetes-list-type`, `-list-map-keys`,
  `-patch-merge-key`, `-patch-strategy`, `-map-type`) sit on the array/object they describe.
- `x-kfed-type` (private, never served) names a reusable type such as
  `io.k8s.api.core.v1.ServicePort`; the OpenAPI document builder hoists those into
  `components/schemas` so `kubectl explain` prints `<[]ServicePort>` as it does for Kubernetes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from typing import Any

Schema = dict[str, Any]

# Private marker naming a reusable type: {"name": <OpenAPI definition name>, "description": <type doc>}.
TYPE_MARKER = "x-kfed-type"

GVK_EXTENSION = "x-kubernetes-group-version-kind"
INT_OR_STRING = "x-kubernetes-int-or-string"
PRESERVE_UNKNOWN = "x-kubernetes-preserve-unknown-fields"
LIST_TYPE = "x-kubernetes-list-type"
LIST_MAP_KEYS = "x-kubernetes-list-map-keys"
MAP_TYPE = "x-kubernetes-map-type"
PATCH_MERGE_KEY = "x-kubernetes-patch-merge-key"
PATCH_STRATEGY = "x-kubernetes-patch-strategy"


class ListType(StrEnum):
    """x-kubernetes-list-type: how apply and merges treat a list."""

    ATOMIC = "atomic"  # replaced as a whole
    SET = "set"  # unique scalars, merged by value
    MAP = "map"  # elements keyed by x-kubernetes-list-map-keys


class MapType(StrEnum):
    """x-kubernetes-map-type: whether an object/map is replaced whole or merged key by key."""

    ATOMIC = "atomic"
    GRANULAR = "granular"


class PatchStrategy(StrEnum):
    """x-kubernetes-patch-strategy used by strategic merge patch."""

    MERGE = "merge"
    REPLACE = "replace"
    RETAIN_KEYS = "retainKeys"
    MERGE_RETAIN_KEYS = "merge,retainKeys"


def _described(schema: Schema, description: str) -> Schema:
    if not description:
        raise ValueError("every schema needs a description")
    schema["description"] = description
    return schema


# --- scalars -------------------------------------------------------------------------------


def string(description: str, *, enum: Iterable[str] | None = None, format: str | None = None,
           pattern: str | None = None) -> Schema:
    schema: Schema = {"type": "string"}
    if format:
        schema["format"] = format
    if enum is not None:
        schema["enum"] = list(enum)
    if pattern:
        schema["pattern"] = pattern
    return _described(schema, description)


def byte_string(description: str) -> Schema:
    """Base64-encoded bytes (Secret data, ConfigMap binaryData)."""
    return string(description, format="byte")


def int32(description: str, *, minimum: int | None = None, maximum: int | None = None) -> Schema:
    return _integer("int32", description, minimum, maximum)


def int64(description: str, *, minimum: int | None = None, maximum: int | None = None) -> Schema:
    return _integer("int64", description, minimum, maximum)


def _integer(fmt: str, description: str, minimum: int | None, maximum: int | None) -> Schema:
    schema: Schema = {"type": "integer", "format": fmt}
    if minimum is not None:
        schema["minimum"] = minimum
    if maximum is not None:
        schema["maximum"] = maximum
    return _described(schema, description)


def boolean(description: str) -> Schema:
    return _described({"type": "boolean"}, description)


def number(description: str) -> Schema:
    return _described({"type": "number", "format": "double"}, description)


def int_or_string(description: str) -> Schema:
    """A port name or number, a percentage or a count: intstr.IntOrString."""
    schema: Schema = {INT_OR_STRING: True, "anyOf": [{"type": "integer"}, {"type": "string"}]}
    return named("io.k8s.apimachinery.pkg.util.intstr.IntOrString", _described(schema, description),
                 type_description="A value that is either a 32-bit integer or a string.")


def quantity(description: str) -> Schema:
    """A resource amount such as `500m` or `1Gi`; JSON numbers are accepted too, as Kubernetes does."""
    schema: Schema = {"anyOf": [{"type": "number"}, {"type": "string"}], "format": "quantity"}
    return named("io.k8s.apimachinery.pkg.api.resource.Quantity", _described(schema, description),
                 type_description="A fixed-point amount written as a number with an optional SI or "
                                  "binary suffix, for example 100m, 2, 1.5Gi or 1e3.")


def date_time(description: str) -> Schema:
    """metav1.Time: an RFC 3339 timestamp with second precision."""
    return named("io.k8s.apimachinery.pkg.apis.meta.v1.Time",
                 string(description, format="date-time"),
                 type_description="A timestamp in RFC 3339 form, stored with second precision.")


def micro_time(description: str) -> Schema:
    """metav1.MicroTime: an RFC 3339 timestamp with microsecond precision."""
    return named("io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime",
                 string(description, format="date-time"),
                 type_description="A timestamp in RFC 3339 form, stored with microsecond precision.")


# --- structures ----------------------------------------------------------------------------


def obj(description: str, properties: Mapping[str, Schema], *, required: Sequence[str] = (),
        map_type: MapType | None = None) -> Schema:
    """A structure with known fields; anything else in it is an unknown field."""
    missing = [name for name in required if name not in properties]
    if missing:
        raise ValueError(f"required fields {missing} are not among the properties")
    schema: Schema = {"type": "object", "properties": dict(properties)}
    if required:
        schema["required"] = list(required)
    if map_type is not None:
        schema[MAP_TYPE] = str(map_type)
    return _described(schema, description)


def map_of(values: Schema, description: str, *, map_type: MapType | None = None) -> Schema:
    """A map from arbitrary string keys to `values` (additionalProperties)."""
    schema: Schema = {"type": "object", "additionalProperties": values}
    if map_type is not None:
        schema[MAP_TYPE] = str(map_type)
    return _described(schema, description)


def string_map(description: str, *, map_type: MapType | None = None) -> Schema:
    """map[string]string: labels, annotations, selectors, ConfigMap data."""
    return map_of({"type": "string"}, description, map_type=map_type)


def free_form(description: str) -> Schema:
    """An object whose content is not described here; every field in it is kept."""
    return _described({"type": "object", PRESERVE_UNKNOWN: True}, description)


def array(items: Schema, description: str, *, list_type: ListType | None = None,
          map_keys: Sequence[str] = (), merge_key: str | None = None,
          patch_strategy: PatchStrategy | None = None) -> Schema:
    if map_keys and list_type is not ListType.MAP:
        raise ValueError("list map keys need list_type=map")
    if list_type is ListType.MAP and not map_keys:
        raise ValueError("a map list needs its keys")
    schema: Schema = {"type": "array", "items": items}
    if list_type is not None:
        schema[LIST_TYPE] = str(list_type)
    if map_keys:
        schema[LIST_MAP_KEYS] = list(map_keys)
    if merge_key:
        schema[PATCH_MERGE_KEY] = merge_key
    if patch_strategy is not None:
        schema[PATCH_STRATEGY] = str(patch_strategy)
    return _described(schema, description)


def atomic_list(items: Schema, description: str) -> Schema:
    """A list replaced as a whole by merges and apply."""
    return array(items, description, list_type=ListType.ATOMIC)


def strings(description: str, *, list_type: ListType = ListType.ATOMIC,
            patch_strategy: PatchStrategy | None = None) -> Schema:
    """A list of plain strings (atomic unless told otherwise)."""
    return array({"type": "string"}, description, list_type=list_type, patch_strategy=patch_strategy)


def keyed_list(items: Schema, description: str, *, keys: Sequence[str] = ("name",),
               merge_key: str | None = None,
               patch_strategy: PatchStrategy | None = PatchStrategy.MERGE) -> Schema:
    """A list merged element by element, keyed by `keys`. Strategic merge patch merges on the
    first key unless told; with patch_strategy=None only apply treats it as a map (no merge key)."""
    if patch_strategy is None:
        return array(items, description, list_type=ListType.MAP, map_keys=keys)
    return array(items, description, list_type=ListType.MAP, map_keys=keys,
                 merge_key=merge_key or keys[0], patch_strategy=patch_strategy)


# --- naming and annotating -----------------------------------------------------------------


def named(name: str, schema: Schema, *, type_description: str | None = None) -> Schema:
    """Mark `schema` as the reusable type `name` (an OpenAPI definition name like Kubernetes')."""
    schema[TYPE_MARKER] = {"name": name, "description": type_description or schema.get("description", "")}
    return schema


def type_name(schema: Mapping[str, Any]) -> str | None:
    marker = schema.get(TYPE_MARKER)
    return marker["name"] if isinstance(marker, Mapping) else None


def doc(schema: Schema, description: str) -> Schema:
    """The same schema with a field-specific description (the type keeps its own)."""
    copy = dict(schema)
    return _described(copy, description)


def with_gvk(schema: Schema, group: str, version: str, kind: str) -> Schema:
    """Tag the top-level schema of a kind, as kube-openapi does (a list of GVK dicts)."""
    schema[GVK_EXTENSION] = [{"group": group, "kind": kind, "version": version}]
    return schema


def gvk_of(schema: Mapping[str, Any]) -> list[dict[str, str]]:
    value = schema.get(GVK_EXTENSION)
    return list(value) if isinstance(value, list) else []


# --- walking helpers shared by fieldcheck and the document builder --------------------------


def is_int_or_string(schema: Mapping[str, Any]) -> bool:
    return bool(schema.get(INT_OR_STRING)) or schema.get("format") == "int-or-string"


def is_quantity(schema: Mapping[str, Any]) -> bool:
    return schema.get("format") == "quantity"


def preserves_unknown(schema: Mapping[str, Any]) -> bool:
    return bool(schema.get(PRESERVE_UNKNOWN))


def walk(schema: Mapping[str, Any], path: str = "") -> Iterable[tuple[str, Mapping[str, Any]]]:
    """Every sub-schema with a readable path: `spec.ports[].port`, `metadata.labels{}`."""
    yield path, schema
    for name, sub in (schema.get("properties") or {}).items():
        yield from walk(sub, f"{path}.{name}" if path else name)
    items = schema.get("items")
    if isinstance(items, Mapping):
        yield from walk(items, f"{path}[]")
    extra = schema.get("additionalProperties")
    if isinstance(extra, Mapping):
        yield from walk(extra, f"{path}{{}}")


def definition_name(group: str, version: str, kind: str) -> str:
    """The OpenAPI definition name Kubernetes would use: `io.k8s.api.core.v1.Service`, ..."""
    if not group:
        return f"io.k8s.api.core.{version}.{kind}"
    if group.endswith(".k8s.io") and group.count(".") == 2:
        return f"io.k8s.api.{group.split('.')[0]}.{version}.{kind}"
    if "." not in group:
        return f"io.k8s.api.{group}.{version}.{kind}"
    return ".".join(reversed(group.split("."))) + f".{version}.{kind}"
