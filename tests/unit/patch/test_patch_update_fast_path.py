"""The update shortcuts of the patch engines give exactly what the general code gives.

On an update most managedFields entries own nothing the write touched: they keep the set parsed
from the old object (parsed once per distinct FieldsV1 text) and the very FieldsV1 dict it came
from, when that dict is exactly what to_fields_v1 writes. A /status write carries spec over from
the old object by reference, and comparing skips what is the same object on both sides. List-map
keys are remembered. Each is checked here against the general path over random objects of every
kind's real schema (and the small test schemas).
"""

from __future__ import annotations

import copy
from typing import Any
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

from kfed.api.patch import FieldSet, fields_of, update_managed_fields
from kfed.api.patch import managed_fields as managed_fields_module
from kfed.api.patch.fields import compare_versions
from kfed.api.patch.fieldset import key_pe
from kfed.api.patch.json_values import go_json, json_copy
from kfed.model.strategies.base import keep_old_spec
from tests.unit.patch.test_patch_create_fast_path import RESETS, SCHEMAS, from_schema, objects

Obj = dict[str, Any]

_NOW = ["2025-01-01T00:00:00Z", "2025-01-01T00:00:01Z", "2025-01-01T00:00:02Z"]

# FieldsV1 a client may send that to_fields_v1 would not write so: keys out of order, a list-map
# key spelled with its fields unsorted, a lone `.`, a `.` that is not first, a `.` at the top.
_ODD_FIELDS_V1 = [
    {"f:spec": {"f:type": {}, "f:selector": {}}},
    {"f:spec": {"f:ports": {'k:{"protocol":"TCP","port":80}': {".": {}, "f:name": {}}}}},
    {"f:metadata": {"f:labels": {".": {}}}},
    {"f:metadata": {"f:labels": {"f:app": {}, ".": {}}}},
    {".": {}, "f:spec": {"f:type": {}}},
    {"f:spec": {"f:type": {".": {"x": {}}}}},
]


@st.composite
def sent_managed_fields(draw: st.DrawFn) -> list[Obj]:
    entries = []
    for i in range(draw(st.integers(1, 3))):
        entries.append({"manager": f"client-{i % 2}", "operation": "Update", "apiVersion": "v1",
                        "time": _NOW[i % 3], "fieldsType": "FieldsV1",
                        "fieldsV1": draw(st.sampled_from(_ODD_FIELDS_V1))})
    return entries


def _mix(draw: st.DrawFn, base: Obj, other: Obj) -> Obj:
    """An object with some top-level fields from `base` (copied or the same objects) and some from `other`."""
    out: Obj = {}
    for key in {**base, **other}:
        source = draw(st.sampled_from(["base", "shared", "other", "drop"]))
        if source == "base" and key in base:
            out[key] = json_copy(base[key])
        elif source == "shared" and key in base:
            # as a /status write carries spec over (metadata never: the writer's own)
            out[key] = base[key] if key != "metadata" else json_copy(base[key])
        elif source == "other" and key in other:
            out[key] = json_copy(other[key])
    if isinstance(base.get("metadata"), dict) and draw(st.booleans()):
        out["metadata"] = json_copy(base["metadata"])  # managedFields as the client read them
    return out


@st.composite
def updates(draw: st.DrawFn) -> tuple[Obj, Obj, Obj, Any]:
    """(schema, old, new, options): `old` carries managedFields from two earlier writes."""
    schema, first = draw(objects())
    second = draw(st.fixed_dictionaries({}, optional={
        name: from_schema(sub, 1) for name, sub in schema["properties"].items()}))
    reset = draw(st.sampled_from(RESETS))
    old = json_copy(first)
    update_managed_fields(None, old, manager="creator", schema=schema, api_version="v1", now=_NOW[0],
                          reset_fields=reset)
    middle = _mix(draw, old, second)
    if draw(st.booleans()) and isinstance(middle.get("metadata"), dict):
        middle["metadata"]["managedFields"] = draw(sent_managed_fields())
    update_managed_fields(old, middle, manager=draw(st.sampled_from(["creator", "editor"])), schema=schema,
                          api_version=draw(st.sampled_from(["v1", "v2"])), now=_NOW[1],
                          subresource=draw(st.sampled_from(["", "status"])), reset_fields=reset)
    if draw(st.booleans()) and isinstance(middle.get("metadata"), dict):
        # stored as a client sent it (a write with no field manager records nothing)
        middle["metadata"]["managedFields"] = draw(sent_managed_fields())
    third = draw(st.fixed_dictionaries({}, optional={
        name: from_schema(sub, 1) for name, sub in schema["properties"].items()}))
    new = _mix(draw, middle, third)
    options = {"manager": draw(st.sampled_from(["creator", "editor", "third"])),
               "operation": draw(st.sampled_from(["Update", "Apply"])),
               "api_version": draw(st.sampled_from(["v1", "v2"])), "now": _NOW[2],
               "subresource": draw(st.sampled_from(["", "status"])), "reset_fields": reset}
    return schema, middle, new, options


@settings(max_examples=500, deadline=None)
@given(updates())
def test_managed_fields_on_update_equal_the_general_path(case: tuple[Obj, Obj, Obj, Any]) -> None:
    schema, old, new, options = case
    old_before = copy.deepcopy(old)
    # copied together: what new shares with old (spec carried over by a /status write) stays shared
    fast_old, fast = copy.deepcopy((old, new))
    general_old, general = copy.deepcopy((old, new))
    update_managed_fields(fast_old, fast, schema=schema, **options)
    with mock.patch.object(managed_fields_module, "_UNCHANGED_SHORTCUTS", False):
        update_managed_fields(general_old, general, schema=schema, **options)
    assert fast == general
    assert go_json(fast) == go_json(general)  # byte for byte as stored and served
    assert fast_old == old_before, "the old object is not changed"
    # twice over the same inputs (the second parse of each FieldsV1 comes from memory)
    again_old, again = copy.deepcopy((old, new))
    update_managed_fields(again_old, again, schema=schema, **options)
    assert go_json(again) == go_json(general)


@settings(max_examples=300, deadline=None)
@given(updates())
def test_comparing_shared_containers_equals_comparing_copies(case: tuple[Obj, Obj, Obj, Any]) -> None:
    schema, old, new, _ = case
    # what a /status write leaves: new's spec (and the rest) the very objects of old's
    status_write = copy.deepcopy(new)
    keep_old_spec(status_write, old)
    copied = copy.deepcopy(status_write)
    assert _same(compare_versions(old, status_write, schema), compare_versions(copy.deepcopy(old), copied, schema))
    assert _same(compare_versions(old, new, schema), compare_versions(copy.deepcopy(old), copy.deepcopy(new), schema))


def _same(a: Any, b: Any) -> bool:
    return bool(a.added == b.added and a.modified == b.modified and a.removed == b.removed)


@settings(max_examples=300, deadline=None)
@given(objects())
def test_fields_v1_that_to_fields_v1_wrote_is_canonical(case: tuple[Obj, Obj]) -> None:
    schema, obj = case
    fields = fields_of(obj, schema)
    encoded = fields.to_fields_v1()
    parsed, canonical = FieldSet.parse_fields_v1(encoded)
    assert parsed == fields
    assert canonical


@settings(max_examples=300, deadline=None)
@given(objects(), st.randoms(use_true_random=False))
def test_fields_v1_written_otherwise_is_not_canonical(case: tuple[Obj, Obj], rnd: Any) -> None:
    schema, obj = case
    encoded = fields_of(obj, schema).to_fields_v1()
    node: Any = encoded
    nodes: list[Obj] = []
    while isinstance(node, dict) and node:  # the nodes along one path with two or more entries
        if len([k for k in node if k != "."]) >= 2:
            nodes.append(node)
        node = node[rnd.choice([k for k in node if k != "."])] if any(k != "." for k in node) else None
    if not nodes:
        return
    target = rnd.choice(nodes)
    items = list(target.items())
    target.clear()
    target.update(reversed(items))  # out of order (and `.`, if any, no longer first)
    parsed, canonical = FieldSet.parse_fields_v1(encoded)
    assert parsed == FieldSet.from_fields_v1(encoded)
    assert not canonical


def test_odd_fields_v1_are_not_canonical_but_parse_alike() -> None:
    for odd in _ODD_FIELDS_V1:
        parsed, canonical = FieldSet.parse_fields_v1(odd)
        assert not canonical, odd
        assert parsed == FieldSet.from_fields_v1(odd)
        assert go_json(parsed.to_fields_v1()) != go_json(odd)  # as text: dict equality ignores order


def test_an_entry_reuses_its_fields_v1_only_while_its_set_is_unchanged() -> None:
    raw = {"f:metadata": {"f:labels": {".": {}, "f:app": {}}}, "f:spec": {"f:type": {}}}
    entry = managed_fields_module.ManagedFieldsEntry.from_dict(
        {"manager": "m", "operation": "Update", "apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": raw})
    assert entry.fields_v1() is raw
    entry.fields = entry.fields.difference(FieldSet.from_paths([("f:spec", "f:type")]))
    assert entry.fields_v1() == {"f:metadata": {"f:labels": {".": {}, "f:app": {}}}}


def test_untouched_entries_are_written_back_as_they_were() -> None:
    schema = SCHEMAS["Service"]
    old: Obj = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "labels": {"app": "web"}},
                "spec": {"type": "ClusterIP", "ports": [{"port": 80, "protocol": "TCP"}]}, "status": {}}
    update_managed_fields(None, old, manager="kubectl", schema=schema, api_version="v1", now=_NOW[0],
                          reset_fields=[("status",)])
    new = json_copy(old)
    new["status"] = {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}}
    update_managed_fields(old, new, manager="controller", schema=schema, api_version="v1", now=_NOW[1],
                          subresource="status", reset_fields=[("spec",)])
    kubectl, controller = new["metadata"]["managedFields"]
    assert kubectl["fieldsV1"] is old["metadata"]["managedFields"][0]["fieldsV1"]
    assert kubectl["time"] == _NOW[0]
    assert controller["manager"] == "controller" and controller["subresource"] == "status"
    assert controller["fieldsV1"] == {"f:status": {"f:loadBalancer": {".": {}, "f:ingress": {}}}}


def test_remembered_list_map_keys_are_spelled_as_before() -> None:
    cases: list[dict[str, Any]] = [
        {"port": 80, "protocol": "TCP"}, {"protocol": "TCP", "port": 80}, {"name": "a<b"}, {"name": "\u2028é"},
        {"port": True}, {"port": 1}, {"port": 1.0}, {"port": -0.0}, {"port": 0.0}, {"port": 0}, {"ip": None},
        {"a": [1, 2]}, {"a": {"y": 1, "x": 2}},
    ]
    for keys in cases * 2:  # the second round from memory
        assert key_pe(keys) == "k:" + go_json({name: keys[name] for name in sorted(keys)})
    assert key_pe({"port": True}) != key_pe({"port": 1})
    assert key_pe({"port": -0.0}) != key_pe({"port": 0.0})
