"""discovery.k8s.io/v1 EndpointSlice."""

from __future__ import annotations

from kfed.model.schema import (
    ListType,
    MapType,
    Schema,
    atomic_list,
    boolean,
    doc,
    int32,
    named,
    obj,
    string,
    string_map,
    strings,
)
from kfed.model.schemas.core import protocol
from kfed.model.schemas.meta import kind_schema, object_reference

DISCOVERY = "io.k8s.api.discovery.v1"


def _zone_hint() -> Schema:
    return named(f"{DISCOVERY}.ForZone", obj("A zone that should use this endpoint.", {
        "name": string("Name of the zone."),
    }, required=("name",)))


def _node_hint() -> Schema:
    return named(f"{DISCOVERY}.ForNode", obj("A node that should use this endpoint.", {
        "name": string("Name of the node."),
    }, required=("name",)))


def _endpoint() -> Schema:
    return named(f"{DISCOVERY}.Endpoint", obj("One backend of the Service.", {
        "addresses": strings("Addresses of the backend, all of the slice's address type; "
                             "consumers use the first.", list_type=ListType.SET),
        "conditions": named(f"{DISCOVERY}.EndpointConditions", obj("Current state of the "
                                                                   "backend.", {
            "ready": boolean("Whether the backend takes traffic; unset means ready. Terminating "
                             "backends are never ready."),
            "serving": boolean("Like ready, but also true for terminating backends that still "
                               "pass readiness checks."),
            "terminating": boolean("Whether the backend is shutting down."),
        })),
        "hostname": string("Hostname of the backend, for DNS."),
        "targetRef": doc(object_reference(), "The object (usually a pod) behind the endpoint."),
        "deprecatedTopology": string_map("Deprecated topology labels; use nodeName and zone."),
        "nodeName": string("The node hosting the backend."),
        "zone": string("The zone the backend is in."),
        "hints": named(f"{DISCOVERY}.EndpointHints", obj("Routing hints for topology-aware "
                                                         "routing.", {
            "forZones": atomic_list(_zone_hint(), "Zones that should use this endpoint."),
            "forNodes": atomic_list(_node_hint(), "Nodes that should use this endpoint."),
        })),
    }, required=("addresses",)))


def _endpoint_port() -> Schema:
    return named(f"{DISCOVERY}.EndpointPort", obj("A port every endpoint of the slice serves.", {
        "name": string("Name of the port, matching the Service port name."),
        "protocol": protocol("IP protocol of the port; TCP by default."),
        "port": int32("The port number; unset means all ports."),
        "appProtocol": string("Application protocol spoken on the port."),
    }, map_type=MapType.ATOMIC))


ENDPOINT_SLICE_SCHEMA = kind_schema(
    "discovery.k8s.io", "v1", "EndpointSlice",
    "A slice of the backends of a Service; the label kubernetes.io/service-name names the "
    "Service.",
    fields={
        "addressType": string("Kind of address the slice holds.", enum=("FQDN", "IPv4", "IPv6")),
        "endpoints": atomic_list(_endpoint(), "The backends in this slice (at most 1000)."),
        "ports": atomic_list(_endpoint_port(), "Ports every endpoint serves."),
    },
    required=("addressType", "endpoints"),
)
