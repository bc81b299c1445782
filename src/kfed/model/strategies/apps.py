"""apps/v1 Deployment and ReplicaSet."""

from __future__ import annotations

from typing import Any

from kfed.model import validation as v
from kfed.model.resource import FieldCause, Obj, TableColumn
from kfed.model.strategies.base import (
    AGE_COLUMN,
    NAME_COLUMN,
    KindStrategy,
    as_dict,
    as_int,
    as_list,
    as_str,
    creation_timestamp,
    format_label_selector,
    meta,
    name_of,
    spec,
    status,
)
from kfed.model.strategies.podspec import default_pod_spec, validate_pod_template

CONTAINERS_COLUMN = TableColumn("Containers", priority=1, description="Names of each container in the template.")
IMAGES_COLUMN = TableColumn("Images", priority=1, description="Images referenced by each container in the template.")
SELECTOR_COLUMN = TableColumn("Selector", priority=1, description="Label selector for pods. Existing ReplicaSets "
                                                                   "whose pods are selected by this will be the ones "
                                                                   "affected by this deployment.")


def _default_template(workload_spec: dict[str, Any]) -> None:
    template = workload_spec.get("template")
    if isinstance(template, dict):
        pod_spec = template.get("spec")
        if pod_spec is None:
            pod_spec = template["spec"] = {}
        if isinstance(pod_spec, dict):
            default_pod_spec(pod_spec)


def _int_or_percent(value: Any) -> int:
    if isinstance(value, str) and not v.is_valid_percent(value):
        return int(value[:-1])
    return as_int(value) or 0


def _int_or_string(value: Any) -> v.GoValue:
    """An intstr.IntOrString prints through its String() method: unquoted."""
    return v.GoValue(str(value), value)


def _validate_int_or_percent(path: str, value: Any) -> list[FieldCause]:
    if isinstance(value, str):
        return [v.invalid(path, _int_or_string(value), m) for m in v.is_valid_percent(value)]
    number = as_int(value)
    if number is not None:
        return v.validate_nonnegative(path, number)
    return []


def _not_more_than_100_percent(path: str, value: Any) -> list[FieldCause]:
    if isinstance(value, str) and not v.is_valid_percent(value) and int(value[:-1]) > 100:
        return [v.invalid(path, _int_or_string(value), "must not be greater than 100%")]
    return []


def _validate_selector_and_template(workload_spec: dict[str, Any]) -> list[FieldCause]:
    """The selector (required, non-empty, valid) and the template it must select."""
    causes: list[FieldCause] = []
    selector = workload_spec.get("selector")
    if selector is None:
        causes.append(v.required("spec.selector"))
    else:
        sel = as_dict(selector)
        causes += v.validate_label_selector(sel, "spec.selector")
        if not as_dict(sel.get("matchLabels")) and not as_list(sel.get("matchExpressions")):
            causes.append(v.invalid("spec.selector", v.go_label_selector(sel), "empty selector is invalid for deployment"))
    template = workload_spec.get("template")
    if not isinstance(template, dict):
        causes.append(v.required("spec.template"))
        return causes
    labels = as_dict(template.get("metadata")).get("labels")
    sel = as_dict(selector)
    if (as_dict(sel.get("matchLabels")) or as_list(sel.get("matchExpressions"))) and \
            not v.label_selector_matches(sel, labels if isinstance(labels, dict) else {}):
        causes.append(v.invalid("spec.template.metadata.labels",
                                v.go_string_map(labels if isinstance(labels, dict) else None),
                                "`selector` does not match template `labels`"))
    causes += validate_pod_template(template, "spec.template")
    pod_spec = as_dict(template.get("spec"))
    restart = as_str(pod_spec.get("restartPolicy"))
    if restart != "Always":
        causes.append(v.not_supported("spec.template.spec.restartPolicy", restart, ("Always",)))
    if pod_spec.get("activeDeadlineSeconds") is not None:
        causes.append(v.forbidden("spec.template.spec.activeDeadlineSeconds",
                                  "activeDeadlineSeconds in ReplicaSet is not Supported"))
    return causes


def _layout_containers(obj: Obj) -> tuple[str, str]:
    containers = [as_dict(c) for c in as_list(as_dict(as_dict(spec(obj).get("template")).get("spec")).get("containers"))]
    return (",".join(as_str(c.get("name")) for c in containers),
            ",".join(as_str(c.get("image")) for c in containers))


class _WorkloadStrategy(KindStrategy):
    status_subresource = True
    tracks_generation = True

    def prepare_for_status_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_status_update(new, old)
        # Status updates keep the old labels (kube-apiserver's workload status strategies).
        old_labels = as_dict(old.get("metadata")).get("labels")
        if old_labels is None:
            meta(new).pop("labels", None)
        else:
            meta(new)["labels"] = old_labels  # shared: see KindStrategy (ownership)

    def validate_update(self, new: Obj, old: Obj) -> list[FieldCause]:
        new_sel, old_sel = spec(new).get("selector"), spec(old).get("selector")
        if new_sel != old_sel:
            return [v.invalid("spec.selector", v.go_label_selector(as_dict(new_sel)), v.FIELD_IMMUTABLE)]
        return []

    def _validate_counts(self, obj: Obj) -> list[FieldCause]:
        workload_spec = spec(obj)
        causes: list[FieldCause] = []
        replicas = as_int(workload_spec.get("replicas"))
        if replicas is not None:
            causes += v.validate_nonnegative("spec.replicas", replicas)
        min_ready = as_int(workload_spec.get("minReadySeconds"))
        if min_ready is not None:
            causes += v.validate_nonnegative("spec.minReadySeconds", min_ready)
        return causes

    def _validate_status(self, obj: Obj) -> list[FieldCause]:
        st = status(obj)
        causes: list[FieldCause] = []
        counts = {k: as_int(st.get(k)) or 0 for k in ("replicas", "updatedReplicas", "readyReplicas",
                                                     "availableReplicas", "fullyLabeledReplicas")}
        for key, value in counts.items():
            if key in st:
                causes += v.validate_nonnegative(f"status.{key}", value)
        for key in ("updatedReplicas", "readyReplicas", "availableReplicas", "fullyLabeledReplicas"):
            if counts[key] > counts["replicas"]:
                causes.append(v.invalid(f"status.{key}", counts[key], "cannot be greater than status.replicas"))
        if counts["availableReplicas"] > counts["readyReplicas"]:
            causes.append(v.invalid("status.availableReplicas", counts["availableReplicas"],
                                    "cannot be greater than readyReplicas"))
        return causes


class DeploymentStrategy(_WorkloadStrategy):
    def default(self, obj: Obj) -> None:
        dep_spec = obj.get("spec")
        if dep_spec is None:
            dep_spec = obj["spec"] = {}
        if not isinstance(dep_spec, dict):
            return
        if dep_spec.get("replicas") is None:
            dep_spec["replicas"] = 1
        strategy = dep_spec.get("strategy")
        if not isinstance(strategy, dict):
            strategy = dep_spec["strategy"] = {}
        if not strategy.get("type"):
            strategy["type"] = "RollingUpdate"
        if strategy["type"] == "RollingUpdate":
            rolling = strategy.get("rollingUpdate")
            if not isinstance(rolling, dict):
                rolling = strategy["rollingUpdate"] = {}
            rolling.setdefault("maxUnavailable", "25%")
            rolling.setdefault("maxSurge", "25%")
        if dep_spec.get("revisionHistoryLimit") is None:
            dep_spec["revisionHistoryLimit"] = 10
        if dep_spec.get("progressDeadlineSeconds") is None:
            dep_spec["progressDeadlineSeconds"] = 600
        _default_template(dep_spec)

    def changes_generation(self, new: Obj, old: Obj) -> bool:
        # Annotations count too: a Deployment copies them to its ReplicaSets.
        return spec(new) != spec(old) or \
            as_dict(new.get("metadata")).get("annotations") != as_dict(old.get("metadata")).get("annotations")

    def validate(self, obj: Obj) -> list[FieldCause]:
        dep_spec = spec(obj)
        causes = self._validate_counts(obj)[:1]  # replicas first, as kube-apiserver orders them
        causes += _validate_selector_and_template(dep_spec)
        causes += _validate_strategy(as_dict(dep_spec.get("strategy")))
        causes += self._validate_counts(obj)[1:]
        history = as_int(dep_spec.get("revisionHistoryLimit"))
        if history is not None:
            causes += v.validate_nonnegative("spec.revisionHistoryLimit", history)
        deadline = as_int(dep_spec.get("progressDeadlineSeconds"))
        if deadline is not None:
            causes += v.validate_nonnegative("spec.progressDeadlineSeconds", deadline)
            if deadline <= (as_int(dep_spec.get("minReadySeconds")) or 0):
                causes.append(v.invalid("spec.progressDeadlineSeconds", deadline, "must be greater than minReadySeconds"))
        causes += self._validate_status(obj)
        return causes

    def table_columns(self) -> list[TableColumn]:
        return [NAME_COLUMN,
                TableColumn("Ready", description="Number of the pod with ready state"),
                TableColumn("Up-to-date", description="Total number of non-terminated pods targeted by this "
                                                      "deployment that have the desired template spec."),
                TableColumn("Available", description="Total number of available pods (ready for at least "
                                                     "minReadySeconds) targeted by this deployment."),
                AGE_COLUMN, CONTAINERS_COLUMN, IMAGES_COLUMN, SELECTOR_COLUMN]

    def table_row(self, obj: Obj) -> list[Any]:
        st = status(obj)
        desired = as_int(spec(obj).get("replicas")) or 0
        names, images = _layout_containers(obj)
        return [name_of(obj), f"{as_int(st.get('readyReplicas')) or 0}/{desired}",
                as_int(st.get("updatedReplicas")) or 0, as_int(st.get("availableReplicas")) or 0,
                creation_timestamp(obj), names, images, format_label_selector(spec(obj).get("selector"))]


def _validate_strategy(strategy: dict[str, Any]) -> list[FieldCause]:
    stype = strategy.get("type")
    rolling = strategy.get("rollingUpdate")
    if stype == "Recreate":
        if rolling is not None:
            return [v.forbidden("spec.strategy.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'")]
        return []
    if stype == "RollingUpdate":
        if rolling is None:
            return [v.required("spec.strategy.rollingUpdate", "this should be defaulted and never be nil")]
        rolling = as_dict(rolling)
        path = "spec.strategy.rollingUpdate"
        max_unavailable, max_surge = rolling.get("maxUnavailable"), rolling.get("maxSurge")
        causes = _validate_int_or_percent(f"{path}.maxUnavailable", max_unavailable)
        causes += _validate_int_or_percent(f"{path}.maxSurge", max_surge)
        if _int_or_percent(max_unavailable) == 0 and _int_or_percent(max_surge) == 0:
            causes.append(v.invalid(f"{path}.maxUnavailable", _int_or_string(max_unavailable),
                                    "may not be 0 when `maxSurge` is 0"))
        causes += _not_more_than_100_percent(f"{path}.maxUnavailable", max_unavailable)
        return causes
    shown = v.GoValue(f'apps.DeploymentStrategy{{Type:"{as_str(stype)}", '
                      f"RollingUpdate:(*apps.RollingUpdateDeployment)(nil)}}")
    return [v.not_supported("spec.strategy", shown, ("Recreate", "RollingUpdate"))]


class ReplicaSetStrategy(_WorkloadStrategy):
    def default(self, obj: Obj) -> None:
        rs_spec = obj.get("spec")
        if rs_spec is None:
            rs_spec = obj["spec"] = {}
        if not isinstance(rs_spec, dict):
            return
        if rs_spec.get("replicas") is None:
            rs_spec["replicas"] = 1
        _default_template(rs_spec)

    def changes_generation(self, new: Obj, old: Obj) -> bool:
        return spec(new) != spec(old)

    def validate(self, obj: Obj) -> list[FieldCause]:
        causes = self._validate_counts(obj)
        causes += _validate_selector_and_template(spec(obj))
        causes += self._validate_status(obj)
        return causes

    def table_columns(self) -> list[TableColumn]:
        return [NAME_COLUMN,
                TableColumn("Desired", type="integer", description="Replicas is the number of desired pods."),
                TableColumn("Current", type="integer", description="Replicas is the most recently observed "
                                                                   "number of replicas."),
                TableColumn("Ready", type="integer", description="The number of ready replicas for this "
                                                                 "replica set."),
                AGE_COLUMN, CONTAINERS_COLUMN, IMAGES_COLUMN, SELECTOR_COLUMN]

    def table_row(self, obj: Obj) -> list[Any]:
        st = status(obj)
        names, images = _layout_containers(obj)
        return [name_of(obj), as_int(spec(obj).get("replicas")) or 0, as_int(st.get("replicas")) or 0,
                as_int(st.get("readyReplicas")) or 0, creation_timestamp(obj), names, images,
                format_label_selector(spec(obj).get("selector"))]

    def selectable_fields(self, obj: Obj) -> dict[str, str]:
        return {"status.replicas": str(as_int(status(obj).get("replicas")) or 0)}
