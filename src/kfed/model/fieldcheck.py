"""Checking an object against its kind's schema, for the `fieldValidation` query parameter.

kube-apiserver decodes a request body strictly or not: with `fieldValidation=Strict` unknown
fields fail the request (400, `strict decoding error: unknown field "spec.foo"`), with `Warn`
they are dropped and reported in a `Warning` header, with `Ignore` they are dropped silently.
Paths are written as the server writes them: `spec.ports[0].bogus`, map entries as
`metadata.labels[key]`.

`check_types` reports values of the wrong JSON type as 422 causes the way the CRD validator
does (`spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer:
"string"`), so a client learns which field is wrong. Ranges and enums are left to the kind's
strategy, which words those errors as Kubernetes does.

Everything here is pure and walks the inline schemas of `kfed.model.schemas`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TypeGuard

from kfed.model.resource import CauseType, FieldCause
from kfed.model.schema import Schema, is_int_or_string, is_quantity, preserves_unknown

# The grammar of resource.Quantity, and the error text Kubernetes gives when a value breaks it.
_QUANTITY = re.compile(r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$")
QUANTITY_FORMAT_MESSAGE = ("quantities must match the regular expression "
                           "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")


# a tuple, not `dict | list`: that expression builds a new union object every time it runs
_CONTAINERS = (dict, list)


def _is_mapping(value: Any) -> TypeGuard[Mapping[str, Any]]:
    # schemas are plain dicts: skip the slower abstract-class check for them
    return type(value) is dict or isinstance(value, Mapping)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _unknown(obj: Any, schema: Mapping[str, Any], path: str, out: list[str], prune: bool) -> None:
    # Only maps and lists can hold unknown fields: scalars are never descended into (and their
    # paths never built), which is most of an object.
    if isinstance(obj, dict):
        properties = schema.get("properties")
        extra = schema.get("additionalProperties")
        if _is_mapping(properties):
            keep_unknown: bool | None = None
            for name in list(obj) if prune else obj:
                sub = properties.get(name)
                if sub is not None:
                    value = obj[name]
                    if isinstance(value, _CONTAINERS):
                        _unknown(value, sub, _join(path, name), out, prune)
                elif _is_mapping(extra):
                    value = obj[name]
                    if isinstance(value, _CONTAINERS):
                        _unknown(value, extra, f"{path}[{name}]", out, prune)
                else:
                    if keep_unknown is None:
                        keep_unknown = preserves_unknown(schema)
                    if not keep_unknown and extra is not True:
                        out.append(_join(path, name))
                        if prune:
                            del obj[name]
        elif _is_mapping(extra):
            for name, value in obj.items():
                if isinstance(value, _CONTAINERS):
                    _unknown(value, extra, f"{path}[{name}]", out, prune)
        # An object schema with neither properties nor a value schema is free-form.
    elif isinstance(obj, list):
        items = schema.get("items")
        if _is_mapping(items):
            for index, value in enumerate(obj):
                if isinstance(value, _CONTAINERS):
                    _unknown(value, items, f"{path}[{index}]", out, prune)


def find_unknown_fields(obj: Any, schema: Schema) -> list[str]:
    """Paths of fields the schema does not know, in document order; `obj` is not changed."""
    out: list[str] = []
    _unknown(obj, schema, "", out, prune=False)
    return out


def prune_unknown_fields(obj: Any, schema: Schema) -> list[str]:
    """Drop unknown fields from `obj` in place (Warn and Ignore); returns the paths dropped."""
    out: list[str] = []
    _unknown(obj, schema, "", out, prune=True)
    return out


def strict_decoding_error(paths: list[str]) -> str:
    """The detail kube-apiserver gives for fieldValidation=Strict; the API layer prefixes
    `<Kind> in version "<v>" cannot be handled as a <Kind>: ` and answers 400 BadRequest."""
    return "strict decoding error: " + ", ".join(f'unknown field "{p}"' for p in paths)


def unknown_field_warning(path: str) -> str:
    """The text of one Warning header entry for fieldValidation=Warn."""
    return f'unknown field "{path}"'


# --- types ---------------------------------------------------------------------------------


def json_type(value: Any) -> str:
    """The JSON type name of a decoded value, as the OpenAPI validator names it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"  # 1.0 too: like Go decoding into an int, integer fields refuse it
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _type_error(path: str, expected: str, value: Any) -> FieldCause:
    actual = json_type(value)
    return FieldCause(CauseType.TYPE_INVALID, path,
                      f'{path} in body must be of type {expected}: "{actual}"', actual)


def _matches(value: Any, expected: str) -> bool:
    if expected == "string":
        return isinstance(value, str)
    if expected == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if expected == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if expected == "boolean":
        return isinstance(value, bool)
    if expected == "object":
        return isinstance(value, dict)
    if expected == "array":
        return isinstance(value, list)
    return True


def _types(value: Any, schema: Mapping[str, Any], path: str, out: list[FieldCause]) -> None:
    if value is None:
        return  # null decodes to the zero value, as in Go
    if is_int_or_string(schema):
        if not (isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))):
            out.append(_type_error(path, "integer,string", value))
        return
    if is_quantity(schema):
        if isinstance(value, str):
            if not _QUANTITY.match(value.strip()):
                out.append(FieldCause(CauseType.INVALID, path, QUANTITY_FORMAT_MESSAGE, value))
        elif not _matches(value, "number"):
            out.append(_type_error(path, "number,string", value))
        return
    expected = schema.get("type")
    if isinstance(expected, str) and not _matches(value, expected):
        out.append(_type_error(path, expected, value))
        return
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        for name, sub_value in value.items():
            sub = properties.get(name)
            if sub is not None:
                _types(sub_value, sub, _join(path, name), out)
            elif isinstance(extra, Mapping):
                _types(sub_value, extra, f"{path}[{name}]", out)
    elif isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, Mapping):
            for index, item in enumerate(value):
                _types(item, items, f"{path}[{index}]", out)


def check_types(obj: Any, schema: Schema) -> list[FieldCause]:
    """A cause for every value whose JSON type the schema does not allow (unknown fields are
    not looked at; see find_unknown_fields)."""
    out: list[FieldCause] = []
    _types(obj, schema, "", out)
    return out
