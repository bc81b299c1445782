"""Field sets: what an object sets, what changed, and the FieldsV1 encoding."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kfed.api.patch import FieldSet, PatchError, compare_fields, fields_of, path_string
from tests.unit.patch.patch_schemas import POD, PORT_80, PORT_443, SERVICE, service


def test_fields_of_a_service_config() -> None:
    cfg = service(ports=[{"port": 80, "targetPort": 8080}], selector={"app": "web"}, labels={"app": "web"})
    cfg["metadata"]["finalizers"] = ["example.com/x"]
    fs = fields_of(cfg, SERVICE)
    assert fs.to_fields_v1() == {
        "f:apiVersion": {},
        "f:kind": {},
        "f:metadata": {
            "f:finalizers": {'v:"example.com/x"': {}},
            "f:labels": {"f:app": {}},
            "f:name": {},
            "f:namespace": {},
        },
        "f:spec": {
            "f:ports": {PORT_80: {".": {}, "f:port": {}, "f:targetPort": {}}},
            "f:selector": {},
        },
    }


def test_fields_of_keeps_nulls_empty_maps_and_unknown_map_entries() -> None:
    obj = {"spec": {"type": None, "selector": {}, "extra": {"a": {"b": 1}}}}
    fs = fields_of(obj, SERVICE)
    assert fs.has(("f:spec", "f:type"))
    assert fs.has(("f:spec", "f:selector"))
    # `extra` is not a declared field: its entries are owned as members (with their contents)
    assert fs.has(("f:spec", "f:extra"))
    assert fs.has(("f:spec", "f:extra", "f:a"))
    assert fs.has(("f:spec", "f:extra", "f:a", "f:b"))
    # an empty granular list owns nothing (as in structured-merge-diff)
    assert fields_of({"spec": {"ports": []}}, SERVICE).empty()


def test_fields_of_never_includes_managed_fields() -> None:
    obj = service()
    obj["metadata"]["managedFields"] = [{"manager": "x", "operation": "Update", "fieldsV1": {}}]
    assert not fields_of(obj, SERVICE).child("f:metadata").has(("f:managedFields",))  # type: ignore[union-attr]


def test_strict_fields_of_refuses_duplicates_and_missing_keys() -> None:
    with pytest.raises(PatchError, match=r'duplicate entries for key \[port=80,protocol="TCP"\]'):
        fields_of(service(ports=[{"port": 80}, {"port": 80, "protocol": "TCP"}]), SERVICE, strict=True)
    with pytest.raises(PatchError, match='omits key field "name"'):
        fields_of({"spec": {"containers": [{"image": "x"}]}}, POD, strict=True)
    # lenient (stored objects): duplicates are tolerated
    fs = fields_of(service(ports=[{"port": 80}, {"port": 80}]), SERVICE)
    assert fs.has(("f:spec", "f:ports", PORT_80))


def test_path_strings_as_kube_prints_them() -> None:
    assert path_string(("f:spec", "f:ports", PORT_80, "f:targetPort")) == '.spec.ports[port=80,protocol="TCP"].targetPort'
    assert path_string(("f:metadata", "f:finalizers", 'v:"a/b"')) == '.metadata.finalizers[="a/b"]'
    assert path_string(("f:spec", "f:args", "i:3")) == ".spec.args[3]"


def test_fields_v1_order_and_round_trip() -> None:
    fs = FieldSet.from_paths([
        ("f:spec", "f:ports", PORT_443, "f:port"),
        ("f:spec", "f:ports", PORT_80),
        ("f:spec", "f:ports", PORT_80, "f:port"),
        ("f:spec", "f:ports"),
        ("f:metadata", "f:labels", "f:b"),
        ("f:metadata", "f:labels", "f:a"),
    ])
    encoded = fs.to_fields_v1()
    assert list(encoded) == ["f:metadata", "f:spec"]
    # keys sort by value, numerically: port 80 before port 443
    assert list(encoded["f:spec"]["f:ports"]) == [".", PORT_80, PORT_443]
    assert list(encoded["f:metadata"]["f:labels"]) == ["f:a", "f:b"]
    assert FieldSet.from_fields_v1(encoded) == fs
    # keys written by another encoder (different key order) are canonicalised
    odd = FieldSet.from_fields_v1({'k:{"protocol":"TCP","port":80}': {}})
    assert odd.has((PORT_80,))


@pytest.mark.parametrize("bad", [[], {"x:1": {}}, {"f:a": []}, {"k:{oops": {}}, {"k:[1]": {}}])
def test_invalid_fields_v1(bad: Any) -> None:
    with pytest.raises(ValueError):
        FieldSet.from_fields_v1(bad)


def test_set_algebra() -> None:
    a = FieldSet.from_paths([("f:a",), ("f:b", "f:c"), ("f:b", "f:d")])
    b = FieldSet.from_paths([("f:b", "f:c"), ("f:e",)])
    assert a.union(b) == FieldSet.from_paths([("f:a",), ("f:b", "f:c"), ("f:b", "f:d"), ("f:e",)])
    assert a.intersection(b) == FieldSet.from_paths([("f:b", "f:c")])
    assert a.difference(b) == FieldSet.from_paths([("f:a",), ("f:b", "f:d")])
    assert a.recursive_difference(FieldSet.from_paths([("f:b",)])) == FieldSet.from_paths([("f:a",)])
    assert a.difference(FieldSet.from_paths([("f:b",)])) == a
    assert len(a) == 3
    assert [path_string(p) for p in a.paths()] == [".a", ".b.c", ".b.d"]


def test_compare_added_modified_removed() -> None:
    old = service(ports=[{"port": 80, "targetPort": 8080}, {"port": 443}], labels={"app": "web"},
                  selector={"app": "web"})
    new = service(ports=[{"port": 80, "targetPort": 9090}], labels={"app": "web", "env": "prod"},
                  selector={"app": "web2"}, type="LoadBalancer")
    c = compare_fields(old, new, SERVICE)
    assert c.added == FieldSet.from_paths([("f:metadata", "f:labels", "f:env"), ("f:spec", "f:type")])
    assert c.modified == FieldSet.from_paths([("f:spec", "f:ports", PORT_80, "f:targetPort"),
                                              ("f:spec", "f:selector")])
    assert c.removed == FieldSet.from_paths([("f:spec", "f:ports", PORT_443),
                                             ("f:spec", "f:ports", PORT_443, "f:port")])


def test_compare_on_create_marks_new_containers() -> None:
    c = compare_fields(None, service(ports=[{"port": 80}], labels={"app": "web"}), SERVICE)
    encoded = c.added.to_fields_v1()
    # maps and list items that appear whole are owned themselves (`.`); spec/metadata never are
    assert encoded["f:metadata"]["f:labels"] == {".": {}, "f:app": {}}
    assert encoded["f:spec"]["f:ports"] == {".": {}, PORT_80: {".": {}, "f:port": {}}}
    assert "." not in encoded["f:spec"]
    assert c.modified.empty() and c.removed.empty()


def test_compare_ignores_managed_fields() -> None:
    a = service()
    b = service()
    b["metadata"]["managedFields"] = [{"manager": "m"}]
    c = compare_fields(a, b, SERVICE)
    assert c.added.empty() and c.modified.empty() and c.removed.empty()


keys = st.sampled_from(["a", "b", "c"])
scalars = st.none() | st.booleans() | st.integers(-3, 3) | st.text(alphabet="xy<&", max_size=2)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
                      max_leaves=12)
ports = st.lists(st.fixed_dictionaries({"port": st.integers(1, 5)}, optional={
    "protocol": st.sampled_from(["TCP", "UDP"]), "targetPort": st.integers(1, 3) | st.text("ab", max_size=2)}),
    max_size=4)
finalizers = st.lists(st.text(alphabet="ab/", max_size=3), max_size=3)


def objects() -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        lambda p, f, lbl, extra: {"metadata": {"labels": lbl, "finalizers": f}, "spec": {"ports": p, "x": extra}},
        ports, finalizers, st.dictionaries(keys, st.text("ab", max_size=2), max_size=3),
        st.dictionaries(keys, values, max_size=3))


@settings(max_examples=150, deadline=None)
@given(objects())
def test_fields_v1_round_trips(obj: dict[str, Any]) -> None:
    fs = fields_of(obj, SERVICE)
    assert FieldSet.from_fields_v1(fs.to_fields_v1()) == fs


@settings(max_examples=150, deadline=None)
@given(objects(), objects())
def test_compare_is_consistent_with_field_sets(old: dict[str, Any], new: dict[str, Any]) -> None:
    c = compare_fields(old, new, SERVICE)
    assert compare_fields(new, new, SERVICE).added.empty()
    assert compare_fields(new, new, SERVICE).modified.empty()
    assert compare_fields(new, new, SERVICE).removed.empty()
    # leaves that were added are in the new object's field set, removed ones in the old one's
    assert c.added.difference(fields_of(new, SERVICE)).difference(_containers(new)).empty()
    assert c.removed.difference(fields_of(old, SERVICE)).difference(_containers(old)).empty()
    reverse = compare_fields(new, old, SERVICE)
    assert reverse.added == c.removed
    assert reverse.removed == c.added
    assert reverse.modified == c.modified


def _containers(obj: dict[str, Any]) -> FieldSet:
    # container nodes (maps and lists under declared fields) are members of a comparison but not
    # of a field set; allow for them
    out = FieldSet()
    for path in fields_of(obj, SERVICE).paths():
        for end in range(1, len(path)):
            out.insert(path[:end])
    return out
