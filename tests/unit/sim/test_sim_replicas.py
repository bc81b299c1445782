"""Deployment and ReplicaSet planning (the pure core of the workload controllers)."""

from __future__ import annotations

import copy
from typing import Any

from kfed.sim.replicas import (
    REVISION_ANNOTATION,
    TEMPLATE_HASH_LABEL,
    Expectations,
    desired_pod_count_change,
    plan_deployment,
    pod_from_template,
    pods_to_delete,
    replica_set_status,
    template_hash,
)
from kfed.sim.views import pod_view

NOW = "2026-01-01T00:00:00Z"


def deployment(replicas: int | None = 3, image: str = "nginx", **spec: Any) -> dict[str, Any]:
    d: dict[str, Any] = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "uid": "d-uid", "generation": 2},
        "spec": {"selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "web", "image": image}]}}, **spec},
    }
    if replicas is not None:
        d["spec"]["replicas"] = replicas
    return d


def with_status(rs: dict[str, Any], replicas: int, available: int | None = None) -> dict[str, Any]:
    rs = copy.deepcopy(rs)
    rs["metadata"]["uid"] = f"uid-{rs['metadata']['name']}"
    avail = replicas if available is None else available
    rs["status"] = {"replicas": replicas, "readyReplicas": avail, "availableReplicas": avail}
    return rs


def test_template_hash_is_stable_and_follows_the_template() -> None:
    a, b = deployment(), deployment(image="nginx:2")
    assert template_hash(a["spec"]["template"]) == template_hash(copy.deepcopy(a["spec"]["template"]))
    assert template_hash(a["spec"]["template"]) != template_hash(b["spec"]["template"])
    assert len(template_hash(a["spec"]["template"])) == 10


def test_new_deployment_creates_its_replica_set() -> None:
    plan = plan_deployment(deployment(), [], NOW)
    rs = plan.create
    assert rs is not None
    h = template_hash(deployment()["spec"]["template"])
    assert rs["metadata"]["name"] == f"web-{h}"
    assert rs["metadata"]["ownerReferences"][0]["uid"] == "d-uid"
    assert rs["metadata"]["annotations"][REVISION_ANNOTATION] == "1"
    assert rs["spec"]["replicas"] == 3
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "web", TEMPLATE_HASH_LABEL: h}
    assert rs["spec"]["template"]["metadata"]["labels"][TEMPLATE_HASH_LABEL] == h
    assert plan.status["observedGeneration"] == 2
    assert {c["type"]: c["status"] for c in plan.status["conditions"]} == {"Available": "False",
                                                                          "Progressing": "True"}


def test_replicas_default_to_one_and_scale_follows_the_deployment() -> None:
    rs = plan_deployment(deployment(replicas=None), [], NOW).create
    assert rs is not None and rs["spec"]["replicas"] == 1
    plan = plan_deployment(deployment(replicas=5), [with_status(rs, 1)], NOW)
    assert plan.create is None and plan.scale == {rs["metadata"]["name"]: 5}


def test_rollout_scales_old_replica_sets_down_once_the_new_one_is_available() -> None:
    old = with_status(plan_deployment(deployment(), [], NOW).create or {}, 3)
    new_d = deployment(image="nginx:2")
    plan = plan_deployment(new_d, [old], NOW)
    assert plan.create is not None and plan.create["metadata"]["annotations"][REVISION_ANNOTATION] == "2"
    assert plan.scale == {}  # the old one keeps serving until the new one is available
    new = with_status(plan.create, 3, available=1)
    assert plan_deployment(new_d, [old, new], NOW).scale == {}
    new = with_status(plan.create, 3)
    plan = plan_deployment(new_d, [old, new], NOW)
    assert plan.scale == {old["metadata"]["name"]: 0}
    old["spec"]["replicas"], old["status"] = 0, {}
    done = plan_deployment(new_d, [old, new], NOW)
    assert done.scale == {}
    assert done.status["updatedReplicas"] == done.status["replicas"] == done.status["availableReplicas"] == 3
    progressing = next(c for c in done.status["conditions"] if c["type"] == "Progressing")
    assert progressing["reason"] == "NewReplicaSetAvailable"


def test_history_limit_deletes_the_oldest_idle_replica_sets() -> None:
    d = deployment(revisionHistoryLimit=1)
    sets = []
    for i in range(3):
        rs = with_status(plan_deployment(deployment(image=f"nginx:{i}"), [], NOW).create or {}, 0)
        rs["spec"]["replicas"] = 0
        rs["metadata"]["annotations"][REVISION_ANNOTATION] = str(i + 1)
        sets.append(rs)
    plan = plan_deployment(d, sets, NOW)
    assert plan.delete == [sets[0]["metadata"]["name"], sets[1]["metadata"]["name"]]


def test_replica_sets_of_another_owner_are_ignored() -> None:
    other = with_status(plan_deployment(deployment(), [], NOW).create or {}, 3)
    other["metadata"]["ownerReferences"][0]["uid"] = "someone-else"
    assert plan_deployment(deployment(), [other], NOW).create is not None


def rs_obj(replicas: int) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": "web-abc", "namespace": "default", "uid": "rs-uid", "generation": 4},
            "spec": {"replicas": replicas, "template": {"metadata": {"labels": {"app": "web"},
                                                                     "annotations": {"a": "b"}},
                                                        "spec": {"containers": [{"name": "c", "image": "i"}]}}}}


def pv(name: str, *, node: str = "n", phase: str = "Running", ready: bool = True, created: str = NOW,
       labels: dict[str, str] | None = None, terminating: bool = False) -> Any:
    return pod_view({"metadata": {"name": name, "namespace": "default", "uid": name, "creationTimestamp": created,
                                  "labels": labels or {"app": "web"},
                                  **({"deletionTimestamp": NOW} if terminating else {})},
                     "spec": {"nodeName": node},
                     "status": {"phase": phase, "conditions": [{"type": "Ready", "status": str(ready)}]}})


def test_pod_from_template() -> None:
    pod = pod_from_template(rs_obj(1))
    assert pod["metadata"]["generateName"] == "web-abc-"
    assert pod["metadata"]["labels"] == {"app": "web"} and pod["metadata"]["annotations"] == {"a": "b"}
    assert pod["metadata"]["ownerReferences"] == [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-abc",
                                                   "uid": "rs-uid", "controller": True, "blockOwnerDeletion": True}]


def test_pod_count_change_and_status() -> None:
    pods = [pv("a"), pv("b", ready=False), pv("c", terminating=True), pv("d", phase="Failed"),
            pv("e", labels={"app": "web", "extra": "x"})]
    assert desired_pod_count_change(rs_obj(5), pods) == 2  # a, b, e count
    assert desired_pod_count_change(rs_obj(1), pods) == -2
    assert replica_set_status(rs_obj(3), pods) == {"replicas": 3, "observedGeneration": 4, "fullyLabeledReplicas": 3,
                                                   "readyReplicas": 2, "availableReplicas": 2}


def test_pods_to_delete_prefers_unscheduled_pending_unready_then_newest() -> None:
    pods = [pv("old-ready", created="2026-01-01T00:00:00Z"), pv("new-ready", created="2026-01-02T00:00:00Z"),
            pv("unready", ready=False), pv("pending", phase="Pending", ready=False),
            pv("unscheduled", node="", phase="Pending", ready=False)]
    assert [p.name for p in pods_to_delete(pods, 5)] == ["unscheduled", "pending", "unready", "new-ready", "old-ready"]
    assert [p.name for p in pods_to_delete(pods, 1)] == ["unscheduled"]


def test_expectations() -> None:
    exp = Expectations(timeout=10)
    assert exp.satisfied("rs", 0)
    exp.expect("rs", 2, 1, now=0)
    assert not exp.satisfied("rs", 1)
    assert not exp.observed_add("rs")
    assert not exp.observed_delete("rs")
    assert exp.observed_add("rs")  # the last one
    assert exp.satisfied("rs", 1)
    exp.expect("rs", 1, 0, now=0)
    assert exp.satisfied("rs", 11)  # timed out: act on what is seen
    exp.expect("rs", 1, 0, now=0)
    exp.forget("rs")
    assert exp.satisfied("rs", 0)
