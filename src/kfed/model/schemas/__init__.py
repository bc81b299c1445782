"""OpenAPI v3 schemas of every kind kfed serves, built with `kfed.model.schema`.

Each `*_SCHEMA` is the whole object (apiVersion, kind, metadata, spec/status or fields), fully
inline, tagged with `x-kubernetes-group-version-kind` and carrying the list merge keys and
list types Kubernetes uses.
"""

from kfed.model.schemas.apps import DEPLOYMENT_SCHEMA, REPLICA_SET_SCHEMA
from kfed.model.schemas.autoscaling import SCALE_SCHEMA
from kfed.model.schemas.coordination import LEASE_SCHEMA
from kfed.model.schemas.core import (
    CONFIG_MAP_SCHEMA,
    ENDPOINTS_SCHEMA,
    EVENT_SCHEMA,
    NAMESPACE_SCHEMA,
    NODE_SCHEMA,
    SECRET_SCHEMA,
    SERVICE_SCHEMA,
)
from kfed.model.schemas.discovery import ENDPOINT_SLICE_SCHEMA
from kfed.model.schemas.federation import CLUSTER_SCHEMA, DNS_RECORD_SET_SCHEMA
from kfed.model.schemas.pod import POD_SCHEMA

__all__ = [
    "CLUSTER_SCHEMA",
    "CONFIG_MAP_SCHEMA",
    "DEPLOYMENT_SCHEMA",
    "DNS_RECORD_SET_SCHEMA",
    "ENDPOINTS_SCHEMA",
    "ENDPOINT_SLICE_SCHEMA",
    "EVENT_SCHEMA",
    "LEASE_SCHEMA",
    "NAMESPACE_SCHEMA",
    "NODE_SCHEMA",
    "POD_SCHEMA",
    "REPLICA_SET_SCHEMA",
    "SCALE_SCHEMA",
    "SECRET_SCHEMA",
    "SERVICE_SCHEMA",
]
