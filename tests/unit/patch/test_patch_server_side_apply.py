"""Server-side apply: merging, pruning, ownership and conflicts, as `kubectl apply --server-side` sees them."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kfed.api.patch import (
    LAST_APPLIED_ANNOTATION,
    ApplyConflict,
    FieldSet,
    PatchError,
    decode_managed_fields,
    server_side_apply,
    update_managed_fields,
)
from tests.unit.patch.patch_schemas import POD, PORT_80, PORT_443, SERVICE, service, stored

T0, T1, T2, T3 = (f"2025-01-0{d}T00:00:00Z" for d in range(1, 5))


def apply(live: dict[str, Any] | None, cfg: dict[str, Any], manager: str = "kubectl", *, force: bool = False,
          now: str = T1, **kw: Any) -> dict[str, Any]:
    return server_side_apply(live, cfg, manager=manager, schema=SERVICE, force=force, api_version="v1", now=now, **kw)


def entries(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["manager"]: e for e in obj["metadata"].get("managedFields", [])}


def owned(obj: dict[str, Any], manager: str) -> FieldSet:
    return FieldSet.from_fields_v1(entries(obj)[manager]["fieldsV1"])


def web_config(**changes: Any) -> dict[str, Any]:
    cfg = service(ports=[{"name": "http", "port": 80, "targetPort": 8080},
                         {"name": "https", "port": 443, "targetPort": 8443}],
                  selector={"app": "web"}, labels={"app": "web", "tier": "front"})
    cfg["spec"].update(changes)
    return cfg


def test_create_by_apply_records_exactly_the_applied_fields() -> None:
    cfg = web_config()
    snapshot = copy.deepcopy(cfg)
    out = apply(None, cfg, now=T0)
    assert cfg == snapshot, "the applied configuration must not change"
    assert out["spec"] == cfg["spec"]
    assert out["metadata"]["labels"] == {"app": "web", "tier": "front"}
    (entry,) = out["metadata"]["managedFields"]
    assert {k: v for k, v in entry.items() if k != "fieldsV1"} == {
        "manager": "kubectl", "operation": "Apply", "apiVersion": "v1", "time": T0, "fieldsType": "FieldsV1"}
    assert entry["fieldsV1"] == {
        "f:metadata": {"f:labels": {"f:app": {}, "f:tier": {}}},
        "f:spec": {
            "f:ports": {
                PORT_80: {".": {}, "f:name": {}, "f:port": {}, "f:targetPort": {}},
                PORT_443: {".": {}, "f:name": {}, "f:port": {}, "f:targetPort": {}},
            },
            "f:selector": {},
        },
    }
    out["spec"]["ports"][0]["port"] = 1
    assert cfg["spec"]["ports"][0]["port"] == 80, "the result must not share containers with the input"


def test_reapply_with_fields_removed_prunes_them() -> None:
    live = stored(apply(None, web_config(), now=T0))
    live["spec"]["ports"][0]["protocol"] = "TCP"  # the server's defaulting
    live["spec"]["clusterIP"] = "10.0.0.9"  # allocated, owned by nobody
    cfg = service(ports=[{"name": "http", "port": 80, "targetPort": 8080}], selector={"app": "web"},
                  labels={"app": "web"})
    out = apply(live, cfg, now=T1)
    assert [p["port"] for p in out["spec"]["ports"]] == [80]
    assert out["spec"]["ports"][0]["protocol"] == "TCP", "fields nobody applied stay"
    assert out["spec"]["clusterIP"] == "10.0.0.9"
    assert out["metadata"]["labels"] == {"app": "web"}
    assert out["metadata"]["uid"] == "u-1"
    assert entries(out)["kubectl"]["time"] == T1
    assert not owned(out, "kubectl").has(("f:spec", "f:ports", PORT_443))
    assert not owned(out, "kubectl").has(("f:metadata", "f:labels", "f:tier"))


def test_removing_every_label_removes_the_map() -> None:
    live = stored(apply(None, web_config(), now=T0))
    cfg = web_config()
    del cfg["metadata"]["labels"]
    out = apply(live, cfg)
    assert "labels" not in out["metadata"]


def test_fields_another_manager_also_owns_survive_pruning() -> None:
    live = stored(apply(None, web_config(), now=T0))
    # `kubectl label svc web env=prod --overwrite` and tier re-set to the same value by hand
    edited = copy.deepcopy(live)
    edited["metadata"]["labels"]["env"] = "prod"
    update_managed_fields(live, edited, manager="kubectl-label", schema=SERVICE, api_version="v1", now=T1)
    # a second applier applies the https port too
    shared = apply(edited, service(ports=[{"name": "https", "port": 443, "targetPort": 8443}]), "helper", now=T1)
    cfg = service(ports=[{"name": "http", "port": 80, "targetPort": 8080}], selector={"app": "web"},
                  labels={"app": "web"})
    out = apply(shared, cfg, now=T2)
    assert out["metadata"]["labels"] == {"app": "web", "env": "prod"}
    assert [p["port"] for p in out["spec"]["ports"]] == [80, 443]
    assert owned(out, "helper").has(("f:spec", "f:ports", PORT_443, "f:targetPort"))


def test_reapplying_the_same_config_changes_nothing() -> None:
    first = stored(apply(None, web_config(), now=T0))
    again = apply(first, web_config(), now=T1)
    assert again == first, "no change: same object, same managedFields, same time"


def test_conflict_with_a_client_side_apply_manager() -> None:
    # created by client-side `kubectl apply` (an Update by kubectl-client-side-apply)
    created = web_config()
    update_managed_fields(None, created, manager="kubectl-client-side-apply", schema=SERVICE, api_version="v1",
                          now=T0)
    live = stored(created)
    cfg = web_config(selector={"app": "web2"})
    with pytest.raises(ApplyConflict) as err:
        apply(live, cfg)
    assert err.value.status == 409
    assert err.value.message == (
        'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using v1: .spec.selector')
    assert err.value.conflicts == [("kubectl-client-side-apply", ".spec.selector")]
    assert err.value.causes() == [{"reason": "FieldManagerConflict",
                                   "message": 'conflict with "kubectl-client-side-apply" using v1',
                                   "field": ".spec.selector"}]
    # the same values are no conflict: both managers own them
    out = apply(live, web_config())
    assert owned(out, "kubectl").has(("f:spec", "f:selector"))
    assert owned(out, "kubectl-client-side-apply").has(("f:spec", "f:selector"))
    # --force-conflicts takes the field over
    forced = apply(live, cfg, force=True)
    assert forced["spec"]["selector"] == {"app": "web2"}
    assert owned(forced, "kubectl").has(("f:spec", "f:selector"))
    assert not owned(forced, "kubectl-client-side-apply").has(("f:spec", "f:selector"))
    assert owned(forced, "kubectl-client-side-apply").has(("f:spec", "f:ports", PORT_80, "f:targetPort"))


def test_conflicts_between_two_appliers() -> None:
    live = stored(apply(None, web_config(), "team-a", now=T0))
    cfg = service(ports=[{"port": 80, "targetPort": 9090}, {"port": 443, "targetPort": 9443}],
                  selector={"app": "web"})
    with pytest.raises(ApplyConflict) as err:
        apply(live, cfg, "team-b")
    assert err.value.conflicts == [
        ("team-a", '.spec.ports[port=80,protocol="TCP"].targetPort'),
        ("team-a", '.spec.ports[port=443,protocol="TCP"].targetPort'),
    ]
    assert err.value.message == (
        'Apply failed with 2 conflicts: conflicts with "team-a":\n'
        '- .spec.ports[port=80,protocol="TCP"].targetPort\n'
        '- .spec.ports[port=443,protocol="TCP"].targetPort')
    out = apply(live, cfg, "team-b", force=True)
    assert [p["targetPort"] for p in out["spec"]["ports"]] == [9090, 9443]
    assert not owned(out, "team-a").has(("f:spec", "f:ports", PORT_80, "f:targetPort"))
    # team-a applying its old config again now conflicts the other way
    with pytest.raises(ApplyConflict, match='conflicts with "team-b"'):
        apply(stored(out), web_config(), "team-a")


def test_conflicts_with_several_managers_are_grouped_by_manager() -> None:
    live = stored(apply(None, service(selector={"app": "a"}), "zeta", now=T0))
    live = apply(live, service(type="ClusterIP", sessionAffinity="None"), "alpha", now=T0)
    with pytest.raises(ApplyConflict) as err:
        apply(live, service(selector={"app": "b"}, type="NodePort", sessionAffinity="ClientIP"), "me")
    assert err.value.message == (
        'Apply failed with 3 conflicts: conflicts with "alpha":\n- .spec.sessionAffinity\n- .spec.type\n'
        'conflicts with "zeta":\n- .spec.selector')


def test_first_apply_to_an_object_without_managed_fields() -> None:
    live = stored(web_config())
    with pytest.raises(ApplyConflict, match='conflict with "before-first-apply" using v1: .spec.selector'):
        apply(live, web_config(selector={"app": "other"}))
    out = apply(live, web_config(), now=T1)
    assert set(entries(out)) == {"kubectl", "before-first-apply"}


def test_null_in_the_config_unsets_the_field() -> None:
    live = stored(apply(None, web_config(type="NodePort"), now=T0))
    cfg = web_config(type=None)
    out = apply(live, cfg, now=T1)
    assert "type" not in out["spec"]
    assert owned(out, "kubectl").has(("f:spec", "f:type"))


def test_updater_that_changed_a_field_loses_it_to_a_forced_apply_only() -> None:
    live = stored(apply(None, web_config(), now=T0))
    edited = copy.deepcopy(live)
    edited["spec"]["ports"][0]["targetPort"] = 7070  # kubectl edit
    update_managed_fields(live, edited, manager="kubectl-edit", schema=SERVICE, api_version="v1", now=T1)
    assert owned(edited, "kubectl-edit").has(("f:spec", "f:ports", PORT_80, "f:targetPort"))
    assert not owned(edited, "kubectl").has(("f:spec", "f:ports", PORT_80, "f:targetPort"))
    with pytest.raises(ApplyConflict, match=r'"kubectl-edit" using v1: \.spec\.ports\[port=80,protocol="TCP"\]'):
        apply(edited, web_config())
    out = apply(edited, web_config(), force=True, now=T2)
    assert out["spec"]["ports"][0]["targetPort"] == 8080
    assert "kubectl-edit" not in entries(out), "an entry left with no fields is dropped"


def test_status_is_not_owned_when_reset() -> None:
    cfg = web_config()
    cfg["status"] = {"loadBalancer": {"ingress": [{"ip": "127.0.0.2"}]}}
    out = apply(None, cfg, reset_fields=[("status",)])
    assert "f:status" not in entries(out)["kubectl"]["fieldsV1"]
    out = apply(None, cfg)
    assert "f:status" in entries(out)["kubectl"]["fieldsV1"]


def test_subresource_apply_is_its_own_entry() -> None:
    live = stored(apply(None, web_config(), now=T0))
    status = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
              "status": {"loadBalancer": {"ingress": [{"ip": "127.0.0.2"}]}}}
    out = apply(live, status, "lb-controller", subresource="status", reset_fields=[("spec",), ("metadata",)])
    (entry,) = [e for e in out["metadata"]["managedFields"] if e["manager"] == "lb-controller"]
    assert entry["subresource"] == "status"
    assert entry["fieldsV1"] == {"f:status": {"f:loadBalancer": {"f:ingress": {}}}}
    assert out["spec"] == live["spec"]


@pytest.mark.parametrize("cfg", [
    service(ports=[{"port": 80}, {"port": 80, "protocol": "TCP"}]),
    {**service(), "metadata": {"name": "web", "managedFields": []}},
])
def test_configurations_apply_refuses(cfg: dict[str, Any]) -> None:
    with pytest.raises(PatchError) as err:
        apply(None, cfg)
    assert err.value.status in (400, 422)


def test_apply_merges_lists_of_maps_by_keys_with_defaults() -> None:
    schema = POD
    live = server_side_apply(None, {"spec": {"containers": [{"name": "app", "image": "a:1",
                                                             "ports": [{"containerPort": 80}]}]}},
                             manager="one", schema=schema, force=False, api_version="v1", now=T0)
    live["spec"]["containers"][0]["ports"][0]["protocol"] = "TCP"
    out = server_side_apply(live, {"spec": {"containers": [{"name": "side", "image": "s:1"},
                                                           {"name": "app", "ports": [{"containerPort": 80,
                                                                                      "name": "http"}]}]}},
                            manager="two", schema=schema, force=False, api_version="v1", now=T1)
    assert [c["name"] for c in out["spec"]["containers"]] == ["side", "app"]
    assert out["spec"]["containers"][1] == {"name": "app", "image": "a:1",
                                            "ports": [{"containerPort": 80, "protocol": "TCP", "name": "http"}]}


def test_last_applied_annotation_follows_kubectl_server_side_applies() -> None:
    cfg = web_config()
    cfg["metadata"]["annotations"] = {LAST_APPLIED_ANNOTATION: "{}\n", "team": "a"}
    out = apply(None, cfg)
    recorded = json.loads(out["metadata"]["annotations"][LAST_APPLIED_ANNOTATION])
    assert recorded["spec"] == cfg["spec"]
    assert recorded["metadata"]["annotations"] == {"team": "a"}
    other = apply(None, cfg, "someone-else")
    assert other["metadata"]["annotations"][LAST_APPLIED_ANNOTATION] == "{}\n"


def test_managed_fields_json_round_trip() -> None:
    live = stored(apply(None, web_config(), now=T0))
    edited = copy.deepcopy(live)
    edited["metadata"]["labels"]["env"] = "prod"
    update_managed_fields(live, edited, manager="kubectl-label", schema=SERVICE, api_version="v1", now=T1)
    encoded = edited["metadata"]["managedFields"]
    wire = json.loads(json.dumps(encoded))
    decoded = decode_managed_fields(wire)
    assert {m for m, _, _, _ in decoded} == {"kubectl", "kubectl-label"}
    assert [e.to_dict() for e in sorted(decoded.values(), key=lambda e: e.operation)] == encoded


def test_set_lists_are_shared_item_by_item() -> None:
    def cfg(*finalizers: str) -> dict[str, Any]:
        obj = service()
        obj["metadata"]["finalizers"] = list(finalizers)
        return obj

    live = stored(apply(None, cfg("a.example/one", "shared"), "first", now=T0))
    live = apply(live, cfg("b.example/two", "shared"), "second", now=T1)
    assert live["metadata"]["finalizers"] == ["a.example/one", "b.example/two", "shared"]
    out = apply(live, cfg(), "first", now=T2)
    assert out["metadata"]["finalizers"] == ["b.example/two", "shared"]
    assert owned(out, "second").has(("f:metadata", "f:finalizers", 'v:"shared"'))


def test_unknown_structure_is_merged_and_pruned_by_key() -> None:
    schema = {"type": "object", "properties": {"spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}
    first = server_side_apply(None, {"spec": {"a": {"x": 1, "y": 2}, "list": [1, 2]}}, manager="m", schema=schema,
                              force=False, api_version="v1", now=T0)
    out = server_side_apply(first, {"spec": {"a": {"x": 1}, "list": [3]}}, manager="m", schema=schema, force=False,
                            api_version="v1", now=T1)
    assert out["spec"] == {"a": {"x": 1}, "list": [3]}
    assert FieldSet.from_fields_v1(out["metadata"]["managedFields"][0]["fieldsV1"]) == FieldSet.from_paths([
        ("f:spec", "f:a"), ("f:spec", "f:a", "f:x"), ("f:spec", "f:list")])


port_numbers = st.lists(st.integers(1, 6), unique=True, max_size=4)
label_maps = st.dictionaries(st.sampled_from(["app", "tier", "env"]), st.sampled_from(["a", "b"]), max_size=3)


def _cfg(ports: list[int], labels: dict[str, str], affinity: str | None) -> dict[str, Any]:
    cfg = service(ports=[{"port": p, "targetPort": p * 10} for p in ports], labels=labels)
    if affinity is not None:
        cfg["spec"]["sessionAffinity"] = affinity
    return cfg


@settings(max_examples=100, deadline=None)
@given(port_numbers, label_maps, st.none() | st.sampled_from(["None", "ClientIP"]),
       port_numbers, label_maps, st.none() | st.sampled_from(["None", "ClientIP"]))
def test_reapplying_converges_to_the_latest_config(p1: list[int], l1: dict[str, str], a1: str | None,
                                                    p2: list[int], l2: dict[str, str], a2: str | None) -> None:
    first = stored(apply(None, _cfg(p1, l1, a1), now=T0))
    second = apply(first, _cfg(p2, l2, a2), now=T1)
    # one applier alone: the object is exactly its latest configuration
    fresh = apply(None, _cfg(p2, l2, a2), now=T1)
    assert second["spec"] == fresh["spec"]
    assert second["metadata"].get("labels") == fresh["metadata"].get("labels")
    assert [e["fieldsV1"] for e in second["metadata"]["managedFields"]] == [
        e["fieldsV1"] for e in fresh["metadata"]["managedFields"]]
    assert apply(second, _cfg(p2, l2, a2), now=T2) == second


def test_pruning_never_removes_identity_metadata() -> None:
    live = stored(apply(None, web_config(), now=T0))
    cfg = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}}
    out = apply(live, cfg, now=T1)
    assert out["metadata"]["name"] == "web"
    assert out["metadata"]["uid"] == "u-1"
    assert out["metadata"]["namespace"] == "default"
    assert "labels" not in out["metadata"]
    assert out["spec"] == {}
    assert "managedFields" not in out["metadata"], "an applier that owns nothing has no entry"
