"""Deployment and ReplicaSet strategies."""

from __future__ import annotations

import copy
from typing import Any

from kfed.model.resource import Obj, Strategy
from kfed.model.strategies.apps import DeploymentStrategy, ReplicaSetStrategy

TS = "2024-05-01T10:00:00Z"


def workload(kind: str, spec: dict[str, Any] | None = None) -> Obj:
    if spec is None:
        spec = {"selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                             "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}
    return {"apiVersion": "apps/v1", "kind": kind,
            "metadata": {"name": "web", "namespace": "default", "creationTimestamp": TS, "generation": 1},
            "spec": spec}


def create(strategy: Strategy, o: Obj) -> list[str]:
    strategy.default(o)
    strategy.prepare_for_create(o)
    return [c.render() for c in strategy.validate(o)]


def test_deployment_defaults() -> None:
    d = workload("Deployment")
    assert create(DeploymentStrategy(), d) == []
    spec = d["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
    assert spec["revisionHistoryLimit"] == 10 and spec["progressDeadlineSeconds"] == 600
    pod_spec = spec["template"]["spec"]
    assert pod_spec["restartPolicy"] == "Always" and pod_spec["dnsPolicy"] == "ClusterFirst"
    assert pod_spec["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    assert d["metadata"]["generation"] == 1


def test_recreate_strategy_gets_no_rolling_update() -> None:
    d = workload("Deployment")
    d["spec"]["strategy"] = {"type": "Recreate"}
    assert create(DeploymentStrategy(), d) == []
    assert d["spec"]["strategy"] == {"type": "Recreate"}


def test_selector_must_match_template_labels() -> None:
    d = workload("Deployment")
    d["spec"]["template"]["metadata"]["labels"] = {"app": "check-out"}
    assert create(DeploymentStrategy(), d) == [
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"check-out"}: `selector` does not '
        "match template `labels`"]


def test_selector_required_and_not_empty() -> None:
    d = workload("Deployment")
    del d["spec"]["selector"]
    assert create(DeploymentStrategy(), d) == ["spec.selector: Required value"]
    e = workload("Deployment")
    e["spec"]["selector"] = {}
    assert create(DeploymentStrategy(), e) == [
        "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), "
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment"]


def test_deployment_spec_validation() -> None:
    d = workload("Deployment")
    d["spec"].update(replicas=-1, minReadySeconds=700,
                     strategy={"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "0%"}})
    d["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    assert create(DeploymentStrategy(), d) == [
        "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
        'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"',
        "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0",
        "spec.progressDeadlineSeconds: Invalid value: 600: must be greater than minReadySeconds"]
    bad = workload("Deployment")
    bad["spec"]["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "120%", "maxSurge": "x"}}
    msgs = create(DeploymentStrategy(), bad)
    # IntOrString values print through String(), without quotes
    assert msgs[0].startswith("spec.strategy.rollingUpdate.maxSurge: Invalid value: x: a valid percent string")
    assert msgs[1] == "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 120%: must not be greater than 100%"


def test_selector_is_immutable() -> None:
    s = DeploymentStrategy()
    old = workload("Deployment")
    create(s, old)
    new = copy.deepcopy(old)
    new["spec"]["selector"] = {"matchLabels": {"app": "web", "tier": "x"}}
    new["spec"]["template"]["metadata"]["labels"]["tier"] = "x"
    assert [c.render() for c in s.validate_update(new, old)] == [
        'spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"web", "tier":"x"}, '
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"]


def test_generation_bumps_on_spec_and_annotation_changes() -> None:
    s = DeploymentStrategy()
    old = workload("Deployment")
    create(s, old)
    scaled = copy.deepcopy(old)
    scaled["spec"]["replicas"] = 3
    assert s.changes_generation(scaled, old)
    annotated = copy.deepcopy(old)
    annotated["metadata"]["annotations"] = {"a": "b"}
    assert s.changes_generation(annotated, old)
    labelled = copy.deepcopy(old)
    labelled["metadata"]["labels"] = {"a": "b"}
    labelled["status"] = {"replicas": 1}
    assert not s.changes_generation(labelled, old)
    rs = ReplicaSetStrategy()
    assert not rs.changes_generation(annotated, old) and rs.changes_generation(scaled, old)


def test_status_handling() -> None:
    s = DeploymentStrategy()
    d = workload("Deployment")
    d["status"] = {"replicas": 5}
    create(s, d)
    assert "status" not in d
    d["metadata"]["labels"] = {"app": "web"}
    new = copy.deepcopy(d)
    new["spec"]["replicas"] = 9
    new["metadata"]["labels"] = {"changed": "yes"}
    new["status"] = {"replicas": 1, "readyReplicas": 2}
    s.prepare_for_status_update(new, d)
    assert new["spec"]["replicas"] == 1
    assert new["metadata"]["labels"] == {"app": "web"}  # workload status updates keep the old labels
    assert [c.render() for c in s.validate(new)] == [
        "status.readyReplicas: Invalid value: 2: cannot be greater than status.replicas"]
    update = copy.deepcopy(d)
    update["status"] = {"replicas": 100}
    d["status"] = {"replicas": 1}
    s.prepare_for_update(update, d)
    assert update["status"] == {"replicas": 1}


def test_deployment_table() -> None:
    s = DeploymentStrategy()
    d = workload("Deployment")
    create(s, d)
    d["spec"]["replicas"] = 3
    d["status"] = {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}
    assert [(c.name, c.priority) for c in s.table_columns()] == [
        ("Name", 0), ("Ready", 0), ("Up-to-date", 0), ("Available", 0), ("Age", 0), ("Containers", 1),
        ("Images", 1), ("Selector", 1)]
    assert s.table_row(d) == ["web", "2/3", 3, 2, TS, "web", "nginx:1.27", "app=web"]


def test_replica_set() -> None:
    s = ReplicaSetStrategy()
    rs = workload("ReplicaSet")
    rs["spec"]["selector"] = {"matchLabels": {"app": "web"},
                              "matchExpressions": [{"key": "pod-template-hash", "operator": "In", "values": ["abc"]}]}
    rs["spec"]["template"]["metadata"]["labels"]["pod-template-hash"] = "abc"
    assert create(s, rs) == []
    assert rs["spec"]["replicas"] == 1 and "strategy" not in rs["spec"]
    rs["status"] = {"replicas": 1, "readyReplicas": 1}
    assert [(c.name, c.priority) for c in s.table_columns()][:5] == [
        ("Name", 0), ("Desired", 0), ("Current", 0), ("Ready", 0), ("Age", 0)]
    assert s.table_row(rs) == ["web", 1, 1, 1, TS, "web", "nginx:1.27", "app=web,pod-template-hash in (abc)"]
    assert s.selectable_fields(rs) == {"status.replicas": "1"}
