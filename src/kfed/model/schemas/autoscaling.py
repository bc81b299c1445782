"""autoscaling/v1 Scale: the body of the scale subresource of Deployments and ReplicaSets."""

from __future__ import annotations

from kfed.model.schema import int32, named, obj, string
from kfed.model.schemas.meta import kind_schema

SCALE_SCHEMA = kind_schema(
    "autoscaling", "v1", "Scale",
    "The replica count of a scalable resource, read and written through its scale subresource.",
    spec=named("io.k8s.api.autoscaling.v1.ScaleSpec", obj("The wanted scale.", {
        "replicas": int32("Number of replicas wanted.", minimum=0),
    })),
    status=named("io.k8s.api.autoscaling.v1.ScaleStatus", obj("The current scale.", {
        "replicas": int32("Number of replicas that exist."),
        "selector": string("The label selector of the pods, in its string form (as for "
                           "`kubectl get -l`)."),
    }, required=("replicas",))),
)
