"""Small inline schemas in the shape the kinds' schemas have (Kubernetes extensions, no $ref)."""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]

STRING: Obj = {"type": "string"}
INTEGER: Obj = {"type": "integer"}
STRING_MAP: Obj = {"type": "object", "additionalProperties": STRING}

METADATA: Obj = {
    "type": "object",
    "properties": {
        "name": STRING,
        "namespace": STRING,
        "uid": STRING,
        "resourceVersion": STRING,
        "generation": INTEGER,
        "creationTimestamp": STRING,
        "labels": STRING_MAP,
        "annotations": STRING_MAP,
        "finalizers": {
            "type": "array",
            "items": STRING,
            "x-kubernetes-list-type": "set",
            "x-kubernetes-patch-strategy": "merge",
        },
        "ownerReferences": {
            "type": "array",
            "items": {"type": "object", "properties": {"uid": STRING, "name": STRING, "kind": STRING}},
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["uid"],
            "x-kubernetes-patch-merge-key": "uid",
            "x-kubernetes-patch-strategy": "merge",
        },
        "managedFields": {"type": "array", "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
    },
}

SERVICE_PORT: Obj = {
    "type": "object",
    "required": ["port"],
    "properties": {
        "name": STRING,
        "protocol": {"type": "string", "default": "TCP"},
        "port": INTEGER,
        "targetPort": {"x-kubernetes-int-or-string": True},
        "nodePort": INTEGER,
    },
}

SERVICE: Obj = {
    "type": "object",
    "properties": {
        "apiVersion": STRING,
        "kind": STRING,
        "metadata": METADATA,
        "spec": {
            "type": "object",
            "properties": {
                "ports": {
                    "type": "array",
                    "items": SERVICE_PORT,
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["port", "protocol"],
                    "x-kubernetes-patch-merge-key": "port",
                    "x-kubernetes-patch-strategy": "merge",
                },
                "selector": {**STRING_MAP, "x-kubernetes-map-type": "atomic"},
                "type": STRING,
                "clusterIP": STRING,
                "clusterIPs": {"type": "array", "items": STRING, "x-kubernetes-list-type": "atomic"},
                "externalIPs": {"type": "array", "items": STRING},
                "sessionAffinity": STRING,
            },
        },
        "status": {
            "type": "object",
            "properties": {
                "loadBalancer": {
                    "type": "object",
                    "properties": {
                        "ingress": {
                            "type": "array",
                            "x-kubernetes-list-type": "atomic",
                            "items": {"type": "object", "properties": {"ip": STRING, "hostname": STRING}},
                        },
                    },
                },
            },
        },
    },
}

CONTAINER: Obj = {
    "type": "object",
    "properties": {
        "name": STRING,
        "image": STRING,
        "args": {"type": "array", "items": STRING, "x-kubernetes-list-type": "atomic"},
        "env": {
            "type": "array",
            "items": {"type": "object", "properties": {"name": STRING, "value": STRING}},
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["name"],
            "x-kubernetes-patch-merge-key": "name",
            "x-kubernetes-patch-strategy": "merge",
        },
        "ports": {
            "type": "array",
            "items": {"type": "object", "properties": {
                "containerPort": INTEGER, "protocol": {"type": "string", "default": "TCP"}, "name": STRING}},
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["containerPort", "protocol"],
            "x-kubernetes-patch-merge-key": "containerPort",
            "x-kubernetes-patch-strategy": "merge",
        },
    },
}

VOLUME: Obj = {
    "type": "object",
    "properties": {
        "name": STRING,
        "emptyDir": {"type": "object", "properties": {"medium": STRING}},
        "configMap": {"type": "object", "properties": {"name": STRING}},
        "hostPath": {"type": "object", "properties": {"path": STRING}},
    },
}

POD: Obj = {
    "type": "object",
    "properties": {
        "apiVersion": STRING,
        "kind": STRING,
        "metadata": METADATA,
        "spec": {
            "type": "object",
            "properties": {
                "containers": {
                    "type": "array",
                    "items": CONTAINER,
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name"],
                    "x-kubernetes-patch-merge-key": "name",
                    "x-kubernetes-patch-strategy": "merge",
                },
                "volumes": {
                    "type": "array",
                    "items": VOLUME,
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name"],
                    "x-kubernetes-patch-merge-key": "name",
                    "x-kubernetes-patch-strategy": "merge,retainKeys",
                },
                "strategy": {
                    "type": "object",
                    "x-kubernetes-patch-strategy": "retainKeys",
                    "properties": {
                        "type": STRING,
                        "rollingUpdate": {"type": "object", "properties": {
                            "maxSurge": {"x-kubernetes-int-or-string": True},
                            "maxUnavailable": {"x-kubernetes-int-or-string": True}}},
                    },
                },
                "nodeSelector": STRING_MAP,
            },
        },
    },
}

PORT_80 = 'k:{"port":80,"protocol":"TCP"}'
PORT_443 = 'k:{"port":443,"protocol":"TCP"}'


def service(name: str = "web", *, ports: list[Obj] | None = None, selector: Obj | None = None,
            labels: Obj | None = None, **spec: Any) -> Obj:
    """A Service as a client would send it."""
    obj: Obj = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"},
                "spec": {}}
    if labels is not None:
        obj["metadata"]["labels"] = labels
    if ports is not None:
        obj["spec"]["ports"] = ports
    if selector is not None:
        obj["spec"]["selector"] = selector
    obj["spec"].update(spec)
    return obj


def stored(obj: Obj, *, uid: str = "u-1", rv: str = "1") -> Obj:
    """`obj` with the fields the API server adds when it stores it."""
    out = {**obj, "metadata": {**obj["metadata"], "uid": uid, "resourceVersion": rv,
                               "creationTimestamp": "2025-01-01T00:00:00Z"}}
    return out
