"""The create shortcuts of the patch engines give exactly what the general code gives.

On a create there is no old object: compare_fields builds "everything is added" in one walk instead
of comparing with nothing, update_managed_fields trims that set in place, and go_json encodes with
orjson where it writes what the stdlib encoder writes. Each is checked here against the general
path over random objects of every kind's real schema (and the small test schemas).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kfed.api.patch import FieldSet, compare_fields, update_managed_fields
from kfed.api.patch import managed_fields as managed_fields_module
from kfed.api.patch.fields import compare_versions
from kfed.api.patch.fieldset import pe_sort_key, sorted_pes
from kfed.api.patch.json_values import go_json, json_copy
from kfed.api.patch.schema_view import (
    field_schema,
    items_schema,
    list_type,
    map_is_atomic,
    resolve,
    schema_node,
)
from kfed.model.registry import ALL_RESOURCES
from tests.unit.patch.patch_schemas import POD, SERVICE

Obj = dict[str, Any]

# The schemas the objects are drawn from: every registered kind's, and the small test ones
# (whose maps, sets and keyed lists are easy to hit with duplicates and nulls).
SCHEMAS: dict[str, Obj] = {rt.kind: rt.schema for rt in ALL_RESOURCES}
SCHEMAS["test Service"] = SERVICE
SCHEMAS["test Pod"] = POD
# structs that are atomic as a whole, at the top and below it
SCHEMAS["test atomic"] = {"type": "object", "properties": {
    "metadata": POD["properties"]["metadata"],
    "spec": {"type": "object", "x-kubernetes-map-type": "atomic", "properties": {"a": {"type": "string"}}},
    "status": {"type": "object", "properties": {
        "inner": {"type": "object", "x-kubernetes-map-type": "atomic", "properties": {"a": {"type": "string"}}},
        "items": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}}}},
}}
# what nobody owns on some endpoint: whole structs, and fields deeper down
RESETS = [(), (("status",),), (("spec",),), (("spec", "ports"), ("metadata", "labels")),
          (("spec", "selector"), ("status", "loadBalancer", "ingress"), ("status", "inner"))]

_KEYS = st.sampled_from(["a", "b", "app", "x<y", "k&v"])
_STRINGS = st.text(alphabet="ab<>&\u2028é\x01", max_size=3)
_SCALARS = st.none() | st.booleans() | st.integers(-2, 3) | _STRINGS | st.sampled_from([0.5, 1.0, 1e-7])
_WILD = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=2) | st.dictionaries(_KEYS, inner, max_size=2),
                     max_leaves=5)
_MAX_DEPTH = 7


@cache
def _leaf(kind: str, int_or_string: bool) -> st.SearchStrategy[Any]:
    if int_or_string:
        return st.integers(0, 3) | st.sampled_from(["http", "a"])
    if kind == "integer":
        return st.integers(0, 3)
    if kind == "boolean":
        return st.booleans()
    if kind == "number":
        return st.integers(0, 2) | st.sampled_from([0.5, 2.0])
    return st.sampled_from(["", "TCP", "UDP", "a", "b"])


def from_schema(schema: Any, depth: int = 0) -> st.SearchStrategy[Any]:
    """Values shaped by the schema most of the time, with nulls and values of the wrong shape mixed in."""
    return _from_schema(id(schema), depth, _Ref(schema))


class _Ref:
    """Carries a schema into a cached function without hashing it (cached by the schema's id)."""

    def __init__(self, schema: Any) -> None:
        self.schema = schema

    def __hash__(self) -> int:
        return 0

    def __eq__(self, other: object) -> bool:
        return True


@cache
def _from_schema(_schema_id: int, depth: int, ref: _Ref) -> st.SearchStrategy[Any]:
    schema = resolve(ref.schema)
    odd = st.none() | _WILD
    if depth >= _MAX_DEPTH:
        return _SCALARS
    props = schema.get("properties")
    extra = schema.get("additionalProperties")
    if isinstance(props, dict) and props:
        optional = {name: st.deferred(_child(sub, depth)) for name, sub in props.items()}
        shaped: st.SearchStrategy[Any] = st.fixed_dictionaries({}, optional={**optional, "zz": odd})
    elif isinstance(extra, dict):
        shaped = st.dictionaries(_KEYS, from_schema(extra, depth + 1), max_size=3)
    elif "items" in schema or schema.get("type") == "array":
        item = from_schema(schema.get("items"), depth + 1)
        # duplicated items (same key or value) are owned differently: make them common
        shaped = st.lists(item, max_size=3) | st.lists(item, min_size=1, max_size=2).map(
            lambda items: [*items, json_copy(items[0])])
    elif schema.get("type") == "object":
        shaped = st.dictionaries(_KEYS, _WILD, max_size=2)
    else:
        shaped = _leaf(str(schema.get("type") or ""), bool(schema.get("x-kubernetes-int-or-string")))
    return st.one_of(shaped, shaped, shaped, odd)


def _child(sub: Any, depth: int) -> Callable[[], st.SearchStrategy[Any]]:
    return lambda: from_schema(sub, depth + 1)


@st.composite
def objects(draw: st.DrawFn) -> tuple[Obj, Obj]:
    """(schema, object): a whole object of one kind, maybe with managedFields a client sent."""
    schema = SCHEMAS[draw(st.sampled_from(sorted(SCHEMAS)))]
    props = schema["properties"]
    obj = draw(st.fixed_dictionaries({}, optional={
        **{name: from_schema(sub, 1) for name, sub in props.items()}, "zz": _WILD}))
    if draw(st.booleans()):
        meta = obj.get("metadata")
        if isinstance(meta, dict):
            meta["managedFields"] = draw(st.sampled_from([
                [{}],
                [{"manager": "kubectl", "operation": "Update", "apiVersion": "v1", "fieldsType": "FieldsV1",
                  "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:app": {}}}, "f:spec": {"f:x": {}}}}],
                "not a list",
            ]))
    return schema, obj


def _comparisons_equal(a: Any, b: Any) -> bool:
    return bool(a.added == b.added and a.modified == b.modified and a.removed == b.removed)


@settings(max_examples=400, deadline=None)
@given(objects())
def test_compare_on_create_equals_the_general_comparison(case: tuple[Obj, Obj]) -> None:
    schema, obj = case
    before = json_copy(obj)
    fast = compare_fields(None, obj, schema)
    assert _comparisons_equal(fast, compare_versions(None, obj, schema))
    assert _comparisons_equal(compare_fields({}, obj, schema), compare_versions({}, obj, schema))
    assert fast.removed.empty()
    assert obj == before, "the object is not changed"


@settings(max_examples=600, deadline=None)
@given(objects(), st.sampled_from(RESETS), st.sampled_from(["Update", "Apply"]), st.sampled_from(["", "status"]))
def test_managed_fields_on_create_equal_the_general_path(case: tuple[Obj, Obj], reset: tuple[tuple[str, ...], ...],
                                                         operation: str, subresource: str) -> None:
    schema, obj = case
    fast, general = json_copy(obj), json_copy(obj)
    kwargs: Any = {"manager": "kubectl-create", "schema": schema, "api_version": "v1", "operation": operation,
                   "subresource": subresource, "now": "2025-01-01T00:00:00Z", "reset_fields": reset}
    update_managed_fields(None, fast, **kwargs)
    with mock.patch.object(managed_fields_module, "_CREATE_SHORTCUT", False), \
            mock.patch.object(managed_fields_module, "compare_fields", compare_versions):
        update_managed_fields(None, general, **kwargs)
    assert fast == general
    # byte for byte as stored and served
    assert go_json(fast) == go_json(general)


def test_managed_fields_of_a_created_service_are_kubes() -> None:
    svc = SCHEMAS["Service"]
    obj: Obj = {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web", "namespace": "default", "uid": "u", "creationTimestamp": "t",
                     "labels": {"app": "web"}},
        "spec": {"type": "ClusterIP", "selector": {"app": "web"},
                 "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}],
                 "sessionAffinity": "None"},
        "status": {"loadBalancer": {}},
    }
    update_managed_fields(None, obj, manager="kubectl-create", schema=svc, api_version="v1",
                          now="2025-01-01T00:00:00Z", reset_fields=[("status",)])
    (entry,) = obj["metadata"]["managedFields"]
    assert entry == {
        "manager": "kubectl-create", "operation": "Update", "apiVersion": "v1", "time": "2025-01-01T00:00:00Z",
        "fieldsType": "FieldsV1",
        "fieldsV1": {
            "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
            "f:spec": {
                "f:ports": {".": {}, 'k:{"port":80,"protocol":"TCP"}': {
                    ".": {}, "f:name": {}, "f:port": {}, "f:protocol": {}, "f:targetPort": {}}},
                "f:selector": {}, "f:sessionAffinity": {}, "f:type": {},
            },
        },
    }


# --- field set algebra in place ------------------------------------------------------------------

_PE = st.sampled_from(["f:a", "f:b", "f:c", 'k:{"port":80}', 'v:"x"', "i:0"])
_PATHS = st.lists(st.lists(_PE, min_size=1, max_size=4).map(tuple), max_size=12)


@settings(max_examples=300, deadline=None)
@given(_PATHS, _PATHS)
def test_in_place_removal_equals_the_set_operations(mine: list[tuple[str, ...]], theirs: list[tuple[str, ...]]) -> None:
    a, b = FieldSet.from_paths(mine), FieldSet.from_paths(theirs)
    flat, deep = FieldSet.from_paths(mine), FieldSet.from_paths(mine)
    flat.remove(b)
    deep.remove_recursive(b)
    assert flat == a.difference(b)
    assert deep == a.recursive_difference(b)
    for result in (flat, deep):
        assert all(child for child in _all_children(result)), "no empty child sets are left"
    assert b == FieldSet.from_paths(theirs), "the removed set is not changed"


def _all_children(fs: FieldSet) -> list[FieldSet]:
    out = list(fs.children.values())
    for child in fs.children.values():
        out += _all_children(child)
    return out


# --- schema nodes --------------------------------------------------------------------------------


def test_schema_nodes_answer_as_the_schema_functions() -> None:
    for schema in SCHEMAS.values():
        _check_node(schema, schema_node(schema), 0)
    assert schema_node(SERVICE) is schema_node(SERVICE), "nodes are cached per schema"


def _check_node(schema: Obj, node: Any, depth: int) -> None:
    assert node.schema == resolve(schema)
    assert node.atomic_map == map_is_atomic(schema)
    assert node.list_type() == list_type(schema)
    assert node.items().schema == items_schema(schema)
    assert node.field("no-such-field").schema == field_schema(schema, "no-such-field")
    if depth > 6:
        return
    for name in (schema.get("properties") or {}):
        _check_node(field_schema(schema, name), node.field(name), depth + 1)
    if isinstance(schema.get("items"), dict):
        _check_node(items_schema(schema), node.items(), depth + 1)


# --- go_json -------------------------------------------------------------------------------------


def stdlib_go_json(value: Any, *, sort_keys: bool = False) -> str:
    """The reference: what go_json wrote with the stdlib encoder alone."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=sort_keys)
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                         ("\u2029", "\\u2029")):
        text = text.replace(raw, escaped)
    return text


_ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=6) | st.sampled_from(
    ["\ud800", "a\udfff", "<script>&</script>", "\u2028\u2029", "\x00\x1f\x7f", "\"\\/", "😀"])
_JSON_KEYS = _ANY_TEXT | st.integers(-3, 3) | st.booleans() | st.none()
_JSON_SCALARS = (st.none() | st.booleans() | st.integers() | st.integers(2**63 - 2, 2**65)
                 | st.floats(allow_nan=False, allow_infinity=False) | _ANY_TEXT)
_JSON = st.recursive(_JSON_SCALARS, lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(_JSON_KEYS, inner, max_size=3), max_leaves=10)


@settings(max_examples=500, deadline=None)
@given(_JSON, st.booleans())
def test_go_json_writes_what_the_stdlib_encoder_wrote(value: Any, sort_keys: bool) -> None:
    try:
        expected = stdlib_go_json(value, sort_keys=sort_keys)
    except TypeError:
        # keys of different types cannot be sorted: go_json refuses them as it always did
        with pytest.raises(TypeError):
            go_json(value, sort_keys=sort_keys)
        return
    assert go_json(value, sort_keys=sort_keys) == expected


def test_go_json_escapes_as_go_does() -> None:
    assert go_json({"k": "<a href='x'>&</a>\u2028"}) == '{"k":"\\u003ca href=\'x\'\\u003e\\u0026\\u003c/a\\u003e\\u2028"}'
    assert go_json({"b": 1, "a": [True, None, "é"]}, sort_keys=True) == '{"a":[true,null,"é"],"b":1}'
    assert go_json(1e-7) == "1e-07"  # floats keep the stdlib's spelling


_ANY_PE = st.sampled_from(["f:a", "f:b", "f:Z", "f:é", "i:0", "i:10", "i:2", 'k:{"port":80}', 'k:{"port":9}',
                           'k:{"name":"a"}', 'v:"x"', "v:1", "v:true", "v:null", 'v:"f:a"'])


@settings(max_examples=300, deadline=None)
@given(st.sets(_ANY_PE, max_size=8))
def test_path_elements_sort_as_structured_merge_diff_sorts_them(pes: set[str]) -> None:
    assert sorted_pes(pes) == sorted(pes, key=pe_sort_key)
