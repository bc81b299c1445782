"""apps/v1 Deployment and ReplicaSet."""

from __future__ import annotations

from kfed.model.schema import (
    Schema,
    boolean,
    date_time,
    doc,
    int32,
    int64,
    int_or_string,
    keyed_list,
    named,
    obj,
    string,
)
from kfed.model.schemas.meta import kind_schema, label_selector
from kfed.model.schemas.pod import pod_template_spec

APPS = "io.k8s.api.apps.v1"


def _workload_condition(type_name: str, what: str, *, with_update_time: bool) -> Schema:
    properties: dict[str, Schema] = {
        "type": string(f"Kind of observation of the {what}."),
        "status": string("Whether the observation holds: True, False or Unknown."),
    }
    if with_update_time:
        properties["lastUpdateTime"] = date_time("When the condition was last refreshed.")
    properties.update({
        "lastTransitionTime": date_time("When the status last changed."),
        "reason": string("CamelCase cause of the last change."),
        "message": string("Human-readable details of the last change."),
    })
    return named(f"{APPS}.{type_name}", obj(f"One observation of the {what}'s state.", properties,
                                            required=("type", "status")))


def _selector() -> Schema:
    return doc(label_selector(), "Which pods belong to this workload; must match the template's "
                                 "labels and cannot change after create.")


DEPLOYMENT_SCHEMA = kind_schema(
    "apps", "v1", "Deployment",
    "A Deployment keeps a number of identical pods running and rolls out changes to them "
    "through ReplicaSets.",
    spec=named(f"{APPS}.DeploymentSpec", obj("The desired state of the Deployment.", {
        "replicas": int32("Number of pods wanted; 1 by default.", minimum=0),
        "selector": _selector(),
        "template": pod_template_spec("The pods to run."),
        "strategy": named(f"{APPS}.DeploymentStrategy", obj("How old pods are replaced by new "
                                                            "ones.", {
            "type": string("Recreate (stop all, then start) or RollingUpdate (the default).",
                           enum=("Recreate", "RollingUpdate")),
            "rollingUpdate": named(f"{APPS}.RollingUpdateDeployment", obj(
                "Limits of a rolling update.", {
                    "maxUnavailable": int_or_string("How many pods (or what percentage) may be "
                                                    "unavailable during the update; 25% by "
                                                    "default."),
                    "maxSurge": int_or_string("How many pods (or what percentage) may exist above "
                                              "the desired number during the update; 25% by "
                                              "default."),
                })),
        })),
        "minReadySeconds": int32("Seconds a new pod must be ready before it counts as available."),
        "revisionHistoryLimit": int32("Old ReplicaSets kept for rollback; 10 by default."),
        "paused": boolean("Stop rolling out changes while true."),
        "progressDeadlineSeconds": int32("Seconds without progress before the rollout is reported "
                                         "as failed; 600 by default."),
    }, required=("selector", "template"))),
    status=named(f"{APPS}.DeploymentStatus", obj("The observed state of the Deployment.", {
        "observedGeneration": int64("The generation the controller last acted on."),
        "replicas": int32("Pods that exist, old and new."),
        "updatedReplicas": int32("Pods running the current template."),
        "readyReplicas": int32("Pods that are ready."),
        "availableReplicas": int32("Pods ready for at least minReadySeconds."),
        "unavailableReplicas": int32("Pods still needed to reach the desired number of available "
                                     "pods."),
        "terminatingReplicas": int32("Pods being shut down."),
        "conditions": keyed_list(_workload_condition("DeploymentCondition", "Deployment",
                                                     with_update_time=True),
                                 "Current observations of the Deployment's state.",
                                 keys=("type",)),
        "collisionCount": int32("Counts hash collisions of ReplicaSet names; used to make new "
                                "names."),
    })),
)

REPLICA_SET_SCHEMA = kind_schema(
    "apps", "v1", "ReplicaSet",
    "A ReplicaSet keeps a number of identical pods running; Deployments manage them.",
    spec=named(f"{APPS}.ReplicaSetSpec", obj("The desired state of the ReplicaSet.", {
        "replicas": int32("Number of pods wanted; 1 by default.", minimum=0),
        "minReadySeconds": int32("Seconds a new pod must be ready before it counts as available."),
        "selector": _selector(),
        "template": pod_template_spec("The pods to create when there are too few."),
    }, required=("selector",))),
    status=named(f"{APPS}.ReplicaSetStatus", obj("The observed state of the ReplicaSet.", {
        "replicas": int32("Pods that exist."),
        "fullyLabeledReplicas": int32("Pods whose labels match the template's."),
        "readyReplicas": int32("Pods that are ready."),
        "availableReplicas": int32("Pods ready for at least minReadySeconds."),
        "terminatingReplicas": int32("Pods being shut down."),
        "observedGeneration": int64("The generation the controller last acted on."),
        "conditions": keyed_list(_workload_condition("ReplicaSetCondition", "ReplicaSet",
                                                     with_update_time=False),
                                 "Current observations of the ReplicaSet's state.",
                                 keys=("type",)),
    }, required=("replicas",))),
)
