"""Strategic merge patch, with the patches kubectl 1.32 really sends."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kfed.api.patch import PatchError, apply_merge_patch, apply_strategic_merge_patch
from tests.unit.patch.patch_schemas import POD, SERVICE, service, stored

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def live_service() -> dict[str, Any]:
    return stored(service(
        ports=[{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080},
               {"name": "metrics", "port": 9090, "protocol": "TCP", "targetPort": 9090}],
        selector={"app": "web"}, labels={"app": "web"}, type="ClusterIP", clusterIP="10.0.0.7",
        sessionAffinity="None"))


def ports_of(obj: dict[str, Any]) -> list[int]:
    return [p["port"] for p in obj["spec"]["ports"]]


def test_kubectl_patch_adds_a_port_by_merge_key() -> None:
    live = live_service()
    before = copy.deepcopy(live)
    # kubectl patch svc web --type=strategic -p '{"spec":{"ports":[{"port":443,"name":"https"}]}}'
    out = apply_strategic_merge_patch(live, {"spec": {"ports": [{"port": 443, "name": "https"}]}}, SERVICE)
    # as kube-apiserver does: the patch's items first, then the live-only items in their order
    assert ports_of(out) == [443, 80, 9090]
    assert out["spec"]["ports"][0] == {"port": 443, "name": "https"}
    assert out["spec"]["ports"][1] == before["spec"]["ports"][0]
    assert out["spec"]["clusterIP"] == "10.0.0.7"
    assert live == before


def test_patch_merges_into_an_existing_port() -> None:
    out = apply_strategic_merge_patch(live_service(), {"spec": {"ports": [{"port": 80, "targetPort": 8081}]}},
                                      SERVICE)
    assert out["spec"]["ports"] == [
        {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8081},
        {"name": "metrics", "port": 9090, "protocol": "TCP", "targetPort": 9090},
    ]


def test_patch_delete_directive_removes_a_port() -> None:
    out = apply_strategic_merge_patch(live_service(), {"spec": {"ports": [{"$patch": "delete", "port": 9090}]}},
                                      SERVICE)
    assert ports_of(out) == [80]


def test_replace_directive_in_a_list_and_in_a_map() -> None:
    out = apply_strategic_merge_patch(live_service(), {"spec": {"ports": [{"$patch": "replace"}, {"port": 7000}]}},
                                      SERVICE)
    assert out["spec"]["ports"] == [{"port": 7000}]
    out = apply_strategic_merge_patch(live_service(),
                                      {"metadata": {"labels": {"$patch": "replace", "only": "this"}}}, SERVICE)
    assert out["metadata"]["labels"] == {"only": "this"}
    out = apply_strategic_merge_patch(live_service(), {"metadata": {"labels": {"$patch": "delete"}}}, SERVICE)
    assert out["metadata"]["labels"] == {}


def test_null_deletes_and_maps_merge() -> None:
    out = apply_strategic_merge_patch(live_service(), {
        "metadata": {"labels": {"app": None, "env": "prod"}},
        "spec": {"sessionAffinity": None, "selector": {"tier": "front"}},
    }, SERVICE)
    assert out["metadata"]["labels"] == {"env": "prod"}
    assert "sessionAffinity" not in out["spec"]
    # strategic merge patch merges maps whatever server-side apply's map type says
    assert out["spec"]["selector"] == {"app": "web", "tier": "front"}


def test_null_for_an_absent_key_is_not_stored() -> None:
    out = apply_strategic_merge_patch(live_service(), {"spec": {"externalName": None,
                                                                "extra": {"a": None, "b": 1}}}, SERVICE)
    assert "externalName" not in out["spec"]
    assert out["spec"]["extra"] == {"b": 1}


def test_lists_without_merge_strategy_are_replaced() -> None:
    live = live_service()
    live["spec"]["externalIPs"] = ["1.2.3.4", "5.6.7.8"]
    out = apply_strategic_merge_patch(live, {"spec": {"externalIPs": ["9.9.9.9"]}}, SERVICE)
    assert out["spec"]["externalIPs"] == ["9.9.9.9"]


def _client_side_apply_patch(config: dict[str, Any], order: list[int], ports: list[dict[str, Any]]) -> dict[str, Any]:
    """What `kubectl apply` (client side) sends for a changed Service: new annotation, order, changes."""
    return {
        "metadata": {"annotations": {LAST_APPLIED: json.dumps(config, separators=(",", ":"), sort_keys=True) + "\n"}},
        "spec": {"$setElementOrder/ports": [{"port": p} for p in order], "ports": ports},
    }


def test_kubectl_apply_client_side_patch_with_set_element_order() -> None:
    live = live_service()
    config = service(ports=[{"name": "http", "port": 80, "targetPort": 8080},
                            {"name": "alt", "port": 8080, "targetPort": 8080}], selector={"app": "web"})
    patch = _client_side_apply_patch(config, [80, 8080], [
        {"name": "alt", "port": 8080, "targetPort": 8080},
        {"$patch": "delete", "port": 9090},
    ])
    out = apply_strategic_merge_patch(live, patch, SERVICE)
    assert ports_of(out) == [80, 8080]
    assert out["spec"]["ports"][1] == {"name": "alt", "port": 8080, "targetPort": 8080}
    assert json.loads(out["metadata"]["annotations"][LAST_APPLIED]) == config
    assert out["metadata"]["labels"] == {"app": "web"}
    assert not any(k.startswith("$") for k in out["spec"]), "directives must not be stored"


def test_set_element_order_alone_reorders() -> None:
    out = apply_strategic_merge_patch(live_service(), {"spec": {"$setElementOrder/ports": [{"port": 9090},
                                                                                          {"port": 80}]}}, SERVICE)
    assert ports_of(out) == [9090, 80]


def test_set_element_order_for_a_list_the_object_lacks() -> None:
    live = stored(service(selector={"app": "web"}))
    out = apply_strategic_merge_patch(live, {"spec": {"$setElementOrder/ports": [{"port": 443}, {"port": 80}],
                                                      "ports": [{"port": 443}, {"port": 80, "name": "http"}]}},
                                      SERVICE)
    assert out["spec"]["ports"] == [{"port": 443}, {"port": 80, "name": "http"}]
    assert "$setElementOrder/ports" not in out["spec"]


def test_set_element_order_not_matching_the_patch_is_400() -> None:
    with pytest.raises(PatchError) as err:
        apply_strategic_merge_patch(live_service(), {"spec": {
            "$setElementOrder/ports": [{"port": 80}, {"port": 443}],
            "ports": [{"port": 443}, {"port": 80}]}}, SERVICE)
    assert err.value.status == 400


def test_primitive_list_union_and_delete_from_primitive_list() -> None:
    live = live_service()
    live["metadata"]["finalizers"] = ["a", "b"]
    out = apply_strategic_merge_patch(live, {"metadata": {"finalizers": ["b", "c"]}}, SERVICE)
    assert out["metadata"]["finalizers"] == ["a", "b", "c"]
    out = apply_strategic_merge_patch(live, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"],
                                                          "finalizers": ["c"]}}, SERVICE)
    assert out["metadata"]["finalizers"] == ["c", "b"]
    out = apply_strategic_merge_patch(live, {"metadata": {"$setElementOrder/finalizers": ["b", "a"]}}, SERVICE)
    assert out["metadata"]["finalizers"] == ["b", "a"]


def pod() -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {
        "containers": [
            {"name": "app", "image": "nginx:1", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
             "args": ["--x"]},
            {"name": "sidecar", "image": "envoy:1"},
        ],
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
        "volumes": [{"name": "data", "emptyDir": {}}],
    }}


def test_containers_merge_by_name_with_nested_env() -> None:
    out = apply_strategic_merge_patch(pod(), {"spec": {"containers": [
        {"name": "app", "image": "nginx:2", "env": [{"name": "B", "value": "20"}, {"name": "C", "value": "3"}],
         "args": ["--y"]}]}}, POD)
    app, sidecar = out["spec"]["containers"]
    assert app["image"] == "nginx:2"
    assert app["args"] == ["--y"]
    # a live-only item that came before a patched one in the live list stays before it
    assert app["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "20"}, {"name": "C", "value": "3"}]
    assert sidecar == {"name": "sidecar", "image": "envoy:1"}


def test_retain_keys_clears_the_other_members() -> None:
    # kubectl apply switching a Deployment-like strategy to Recreate
    out = apply_strategic_merge_patch(pod(), {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate",
                                                                    "rollingUpdate": None}}}, POD)
    assert out["spec"]["strategy"] == {"type": "Recreate"}
    # in a list item: a volume changing from emptyDir to configMap
    out = apply_strategic_merge_patch(pod(), {"spec": {"volumes": [
        {"$retainKeys": ["configMap", "name"], "name": "data", "configMap": {"name": "cfg"}}]}}, POD)
    assert out["spec"]["volumes"] == [{"name": "data", "configMap": {"name": "cfg"}}]


def test_retain_keys_must_list_the_patched_keys() -> None:
    with pytest.raises(PatchError) as err:
        apply_strategic_merge_patch(pod(), {"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {}}}},
                                    POD)
    assert err.value.status == 400
    assert "retainKeys" in err.value.message


@pytest.mark.parametrize(("patch", "status"), [
    ({"spec": {"ports": [{"name": "no-port"}]}}, 422),
    ({"spec": {"ports": [{"$patch": "delete", "name": "no-port"}]}}, 422),
    ({"spec": {"$patch": "explode"}}, 400),
    ({"spec": {"ports": [{"$patch": "merge"}]}}, 422),
    ({"metadata": {"$deleteFromPrimitiveList/finalizers": "a"}}, 400),
    ({"spec": {"$setElementOrder/ports": {"port": 80}}}, 400),
    (["not", "an", "object"], 400),
])
def test_patches_that_make_no_sense(patch: Any, status: int) -> None:
    with pytest.raises(PatchError) as err:
        apply_strategic_merge_patch(live_service(), patch, SERVICE)
    assert err.value.status == status


def test_unknown_structure_merges_maps_and_replaces_lists() -> None:
    live = {"spec": {"x": {"a": 1, "list": [1, 2]}}}
    out = apply_strategic_merge_patch(live, {"spec": {"x": {"b": 2, "list": [3]}}}, {})
    assert out == {"spec": {"x": {"a": 1, "b": 2, "list": [3]}}}


def test_result_shares_nothing_with_patch_or_object() -> None:
    live = live_service()
    patch = {"spec": {"ports": [{"port": 443, "name": "https"}], "newmap": {"k": "v"}}}
    snapshot = copy.deepcopy(patch)
    out = apply_strategic_merge_patch(live, patch, SERVICE)
    assert patch == snapshot
    out["spec"]["newmap"]["k"] = "changed"
    out["spec"]["ports"][0]["name"] = "changed"
    assert patch == snapshot


keys = st.sampled_from(["a", "b", "c"])
scalars = st.booleans() | st.integers(-3, 3) | st.text(alphabet="xyz", max_size=2)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
                      max_leaves=10)
patch_values = st.recursive(scalars | st.none(), lambda inner: st.lists(scalars, max_size=3)
                            | st.dictionaries(keys, inner, max_size=3), max_leaves=10)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(keys, values, max_size=3), st.dictionaries(keys, patch_values, max_size=3))
def test_without_schema_strategic_merge_is_a_merge_patch(doc: dict[str, Any], patch: dict[str, Any]) -> None:
    assert apply_strategic_merge_patch(doc, patch, {}) == apply_merge_patch(doc, patch)


# The body kubectl 1.32 sent (captured with -v=8) for `kubectl apply -f svc.yaml` after port 443 was
# replaced by 8080 in the file.
KUBECTL_132_APPLY_PATCH = (
    r'{"metadata":{"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{\"apiVersion\":\"v1\",'
    r'\"kind\":\"Service\",\"metadata\":{\"annotations\":{},\"labels\":{\"app\":\"web\"},\"name\":\"web\",'
    r'\"namespace\":\"default\"},\"spec\":{\"ports\":[{\"name\":\"p80\",\"port\":80,\"targetPort\":8080},'
    r'{\"name\":\"p8080\",\"port\":8080,\"targetPort\":9090}],\"selector\":{\"app\":\"web\"}}}\n"}},'
    r'"spec":{"$setElementOrder/ports":[{"port":80},{"port":8080}],"ports":[{"name":"p8080","port":8080,'
    r'"targetPort":9090},{"$patch":"delete","port":443}]}}'
)


def test_the_patch_kubectl_132_sends_for_client_side_apply() -> None:
    live = stored(service(ports=[{"name": "p80", "port": 80, "protocol": "TCP", "targetPort": 8080},
                                 {"name": "p443", "port": 443, "protocol": "TCP", "targetPort": 8443}],
                          selector={"app": "web"}, labels={"app": "web"}, type="ClusterIP"))
    live["metadata"]["annotations"] = {LAST_APPLIED: "{}\n"}
    out = apply_strategic_merge_patch(live, json.loads(KUBECTL_132_APPLY_PATCH), SERVICE)
    assert out["spec"]["ports"] == [
        {"name": "p80", "port": 80, "protocol": "TCP", "targetPort": 8080},
        {"name": "p8080", "port": 8080, "targetPort": 9090},
    ]
    assert json.loads(out["metadata"]["annotations"][LAST_APPLIED])["spec"]["ports"][1]["port"] == 8080
    assert out["spec"]["type"] == "ClusterIP"
