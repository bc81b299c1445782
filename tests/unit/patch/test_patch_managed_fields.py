"""managedFields after ordinary create/update/patch (what kube-apiserver records for Update operations)."""

from __future__ import annotations

import copy
from typing import Any

from kfed.api.patch import FieldSet, apply_strategic_merge_patch, server_side_apply, update_managed_fields
from kfed.api.patch.managed_fields import MAX_UPDATE_MANAGERS
from tests.unit.patch.patch_schemas import PORT_80, SERVICE, service, stored

T0, T1, T2 = "2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z", "2025-01-03T00:00:00Z"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def update(old: dict[str, Any] | None, new: dict[str, Any], manager: str, now: str = T1, **kw: Any) -> dict[str, Any]:
    update_managed_fields(old, new, manager=manager, schema=SERVICE, api_version="v1", now=now, **kw)
    return new


def entries(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["manager"]: e for e in obj["metadata"].get("managedFields", [])}


def owned(obj: dict[str, Any], manager: str) -> FieldSet:
    return FieldSet.from_fields_v1(entries(obj)[manager]["fieldsV1"])


def created_by_client_side_apply() -> dict[str, Any]:
    obj = service(ports=[{"port": 80, "protocol": "TCP", "targetPort": 8080}], selector={"app": "web"},
                  labels={"app": "web"}, sessionAffinity="None", type="ClusterIP")
    obj["metadata"]["annotations"] = {LAST_APPLIED: "{...}\n"}
    return stored(update(None, obj, "kubectl-client-side-apply", now=T0))


def test_create_records_what_kube_records() -> None:
    obj = created_by_client_side_apply()
    (entry,) = obj["metadata"]["managedFields"]
    assert entry["manager"] == "kubectl-client-side-apply"
    assert entry["operation"] == "Update"
    assert entry["time"] == T0
    assert entry["fieldsV1"] == {
        "f:metadata": {
            "f:annotations": {".": {}, f"f:{LAST_APPLIED}": {}},
            "f:labels": {".": {}, "f:app": {}},
        },
        "f:spec": {
            "f:ports": {".": {}, PORT_80: {".": {}, "f:port": {}, "f:protocol": {}, "f:targetPort": {}}},
            "f:selector": {},
            "f:sessionAffinity": {},
            "f:type": {},
        },
    }


def test_a_patch_moves_ownership_of_what_it_changed() -> None:
    live = created_by_client_side_apply()
    # kubectl patch svc web -p '{"spec":{"ports":[{"port":80,"targetPort":9090}]},"metadata":{"labels":{"env":"x"}}}'
    patched = apply_strategic_merge_patch(live, {"spec": {"ports": [{"port": 80, "targetPort": 9090}]},
                                                 "metadata": {"labels": {"env": "x"}}}, SERVICE)
    update(live, patched, "kubectl-patch", now=T1)
    mine = owned(patched, "kubectl-patch")
    assert mine == FieldSet.from_paths([("f:metadata", "f:labels", "f:env"),
                                        ("f:spec", "f:ports", PORT_80, "f:targetPort")])
    theirs = owned(patched, "kubectl-client-side-apply")
    assert not theirs.has(("f:spec", "f:ports", PORT_80, "f:targetPort"))
    assert theirs.has(("f:spec", "f:ports", PORT_80, "f:port"))
    assert entries(patched)["kubectl-client-side-apply"]["time"] == T0, "only the writer's time moves"
    # Update entries sort oldest first
    assert [e["manager"] for e in patched["metadata"]["managedFields"]] == ["kubectl-client-side-apply",
                                                                            "kubectl-patch"]


def test_removed_fields_leave_every_manager() -> None:
    live = created_by_client_side_apply()
    new = copy.deepcopy(live)
    del new["spec"]["sessionAffinity"]
    update(live, new, "kubectl-edit")
    assert not owned(new, "kubectl-client-side-apply").has(("f:spec", "f:sessionAffinity"))
    assert "kubectl-edit" not in entries(new), "a write that only removes owns nothing"


def test_a_write_that_changes_nothing_records_nothing() -> None:
    live = created_by_client_side_apply()
    new = copy.deepcopy(live)
    new["metadata"]["resourceVersion"] = "2"  # bookkeeping fields are nobody's
    update(live, new, "kubectl-edit", now=T2)
    assert new["metadata"]["managedFields"] == live["metadata"]["managedFields"]


def test_update_takes_fields_from_an_applier() -> None:
    live = stored(server_side_apply(None, service(selector={"app": "web"}, type="ClusterIP"), manager="kubectl",
                                    schema=SERVICE, force=False, api_version="v1", now=T0))
    new = copy.deepcopy(live)
    new["spec"]["type"] = "NodePort"
    update(live, new, "kubectl-edit")
    ops = {e["manager"]: e["operation"] for e in new["metadata"]["managedFields"]}
    assert ops == {"kubectl": "Apply", "kubectl-edit": "Update"}
    assert [e["manager"] for e in new["metadata"]["managedFields"]] == ["kubectl", "kubectl-edit"]
    assert not owned(new, "kubectl").has(("f:spec", "f:type"))
    assert owned(new, "kubectl").has(("f:spec", "f:selector"))


def test_status_subresource_update_is_its_own_entry() -> None:
    live = created_by_client_side_apply()
    new = copy.deepcopy(live)
    new["status"] = {"loadBalancer": {"ingress": [{"ip": "127.0.0.5"}]}}
    new["metadata"]["managedFields"] = []  # ignored on a subresource
    update(live, new, "kfed-lb", subresource="status", reset_fields=[("spec",)])
    entry = entries(new)["kfed-lb"]
    assert entry["subresource"] == "status"
    assert entry["fieldsV1"] == {"f:status": {"f:loadBalancer": {".": {}, "f:ingress": {}}}}
    assert "kubectl-client-side-apply" in entries(new)


def test_status_is_nobodys_on_the_main_resource_when_reset() -> None:
    live = created_by_client_side_apply()
    new = copy.deepcopy(live)
    new["status"] = {"loadBalancer": {"ingress": [{"ip": "127.0.0.5"}]}}
    update(live, new, "kubectl-edit", reset_fields=[("status",)])
    assert "kubectl-edit" not in entries(new)


def test_managed_fields_sent_by_the_client_are_respected() -> None:
    live = created_by_client_side_apply()
    new = copy.deepcopy(live)
    new["metadata"]["managedFields"][0]["manager"] = "renamed"
    update(live, new, "kubectl-replace")
    assert set(entries(new)) == {"renamed"}
    # a client that drops the field (an old client) does not wipe ownership
    new = copy.deepcopy(live)
    del new["metadata"]["managedFields"]
    update(live, new, "kubectl-replace")
    assert set(entries(new)) == {"kubectl-client-side-apply"}
    # garbage from the client falls back to the stored entries
    new = copy.deepcopy(live)
    new["metadata"]["managedFields"] = [{"manager": "x", "operation": "Explode"}]
    update(live, new, "kubectl-replace")
    assert set(entries(new)) == {"kubectl-client-side-apply"}


def test_managed_fields_reset_with_an_empty_entry() -> None:
    live = created_by_client_side_apply()
    new = copy.deepcopy(live)
    new["metadata"]["managedFields"] = [{}]
    update(live, new, "kubectl-patch")
    assert "managedFields" not in new["metadata"]


def test_update_managers_are_capped() -> None:
    obj = created_by_client_side_apply()
    for i in range(MAX_UPDATE_MANAGERS + 3):
        new = copy.deepcopy(obj)
        new["metadata"]["labels"][f"l{i}"] = "x"
        update(obj, new, f"writer-{i:02d}", now=f"2025-02-{i + 1:02d}T00:00:00Z")
        obj = new
    managers = [e["manager"] for e in obj["metadata"]["managedFields"]]
    assert len(managers) == MAX_UPDATE_MANAGERS
    assert "ancient-changes" in managers
    assert "kubectl-client-side-apply" not in managers
    bucket = owned(obj, "ancient-changes")
    assert bucket.has(("f:metadata", "f:labels", "f:l0"))
    assert bucket.has(("f:spec", "f:selector"))
    assert owned(obj, f"writer-{MAX_UPDATE_MANAGERS + 2:02d}").has(("f:metadata", "f:labels",
                                                                    f"f:l{MAX_UPDATE_MANAGERS + 2}"))
