"""JSON patch (RFC 6902) and JSON merge patch (RFC 7386)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kfed.api.patch import PatchError, apply_json_patch, apply_merge_patch, create_merge_patch

SVC: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "web", "labels": {"app": "web", "tier": "front"}},
    "spec": {"ports": [{"port": 80, "targetPort": 8080}], "selector": {"app": "web"}, "type": "ClusterIP"},
}


# --- JSON patch ---------------------------------------------------------------------------------


def test_json_patch_add_replace_remove() -> None:
    before = copy.deepcopy(SVC)
    out = apply_json_patch(SVC, [
        {"op": "add", "path": "/spec/ports/-", "value": {"port": 443}},
        {"op": "replace", "path": "/spec/type", "value": "LoadBalancer"},
        {"op": "remove", "path": "/metadata/labels/tier"},
        {"op": "test", "path": "/metadata/name", "value": "web"},
    ])
    assert out["spec"]["ports"] == [{"port": 80, "targetPort": 8080}, {"port": 443}]
    assert out["spec"]["type"] == "LoadBalancer"
    assert out["metadata"]["labels"] == {"app": "web"}
    assert before == SVC, "the input object must not change"
    out["spec"]["selector"]["app"] = "changed"
    assert SVC["spec"]["selector"]["app"] == "web", "the result must not share containers with the input"


def test_json_patch_move_and_copy() -> None:
    out = apply_json_patch(SVC, [
        {"op": "copy", "from": "/metadata/labels/app", "path": "/metadata/labels/copy"},
        {"op": "move", "from": "/metadata/labels/tier", "path": "/metadata/labels/layer"},
    ])
    assert out["metadata"]["labels"] == {"app": "web", "copy": "web", "layer": "front"}


def test_json_patch_failed_test_is_422() -> None:
    with pytest.raises(PatchError) as err:
        apply_json_patch(SVC, [{"op": "test", "path": "/spec/type", "value": "NodePort"},
                               {"op": "replace", "path": "/spec/type", "value": "LoadBalancer"}])
    assert err.value.status == 422
    assert err.value.reason == "Invalid"


@pytest.mark.parametrize("patch", [
    [{"op": "remove", "path": "/spec/nothere"}],
    [{"op": "replace", "path": "/metadata/labels/nothere", "value": "x"}],
    [{"op": "add", "path": "/spec/ports/7", "value": {}}],
    [{"op": "frobnicate", "path": "/spec"}],
    [{"path": "/spec"}],
])
def test_json_patch_that_does_not_apply_is_422(patch: list[Any]) -> None:
    with pytest.raises(PatchError) as err:
        apply_json_patch(SVC, patch)
    assert err.value.status == 422
    assert err.value.message


@pytest.mark.parametrize("patch", [{"op": "add"}, "nope", [1]])
def test_malformed_json_patch_is_400(patch: Any) -> None:
    with pytest.raises(PatchError) as err:
        apply_json_patch(SVC, patch)
    assert err.value.status == 400
    assert err.value.reason == "BadRequest"


# --- merge patch --------------------------------------------------------------------------------


def test_merge_patch_null_deletes_lists_replace() -> None:
    before = copy.deepcopy(SVC)
    out = apply_merge_patch(SVC, {"metadata": {"labels": {"tier": None, "env": "prod"}},
                                  "spec": {"ports": [{"port": 443}], "type": None}})
    assert out["metadata"]["labels"] == {"app": "web", "env": "prod"}
    assert out["spec"] == {"ports": [{"port": 443}], "selector": {"app": "web"}}
    assert before == SVC
    out["metadata"]["name"] = "other"
    assert SVC["metadata"]["name"] == "web"


def test_merge_patch_object_replaces_scalar_and_needs_object_body() -> None:
    assert apply_merge_patch({"a": 1}, {"a": {"b": None, "c": 2}}) == {"a": {"c": 2}}
    with pytest.raises(PatchError) as err:
        apply_merge_patch(SVC, ["not", "an", "object"])
    assert err.value.status == 400


def test_create_merge_patch_minimal() -> None:
    target = copy.deepcopy(SVC)
    target["metadata"]["labels"]["tier"] = "back"
    del target["spec"]["type"]
    patch = create_merge_patch(SVC, target)
    assert patch == {"metadata": {"labels": {"tier": "back"}}, "spec": {"type": None}}
    assert create_merge_patch(SVC, SVC) == {}


json_scalars = st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=3)
null_free_scalars = st.booleans() | st.integers(-5, 5) | st.text(max_size=3)
keys = st.sampled_from(["a", "b", "c", "d"])


def _json(scalars: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
                        max_leaves=12)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(keys, _json(json_scalars), max_size=4),
       st.dictionaries(keys, _json(null_free_scalars), max_size=4))
def test_merge_patch_of_a_diff_reproduces_the_target(source: dict[str, Any], target: dict[str, Any]) -> None:
    before = copy.deepcopy(source)
    patch = create_merge_patch(source, target)
    assert apply_merge_patch(source, patch) == target
    assert source == before


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(keys, _json(json_scalars), max_size=4), st.dictionaries(keys, _json(json_scalars), max_size=4))
def test_merge_patch_is_idempotent(doc: dict[str, Any], patch: dict[str, Any]) -> None:
    once = apply_merge_patch(doc, patch)
    assert apply_merge_patch(once, patch) == once
