"""federation.kfed.io/v1beta1: Cluster (a member cluster) and DNSRecordSet (DNS records of one owner)."""

from __future__ import annotations

from kfed.model.schema import (
    ListType,
    Schema,
    date_time,
    int32,
    keyed_list,
    named,
    obj,
    string,
    strings,
)
from kfed.model.schemas.meta import kind_schema, local_object_reference

FEDERATION = "io.kfed.federation.v1beta1"

RECORD_TYPES = ("A", "AAAA", "CNAME", "TXT", "NS", "SOA", "SRV", "MX", "PTR", "CAA")


def _server_address() -> Schema:
    return named(f"{FEDERATION}.ServerAddressByClientCIDR", obj(
        "Which API server address clients from one network should use.", {
            "clientCIDR": string("Network of the clients, in CIDR form; 0.0.0.0/0 for everyone."),
            "serverAddress": string("Address of the member's API server as those clients reach "
                                    "it: host:port or an https:// URL."),
        }, required=("clientCIDR", "serverAddress")))


def _cluster_condition() -> Schema:
    return named(f"{FEDERATION}.ClusterCondition", obj("One observation of a member cluster.", {
        "type": string("Ready when the cluster answers its health check; Offline when it cannot "
                       "be reached.", enum=("Offline", "Ready")),
        "status": string("Whether the observation holds.", enum=("False", "True", "Unknown")),
        "lastProbeTime": date_time("When kfed last checked the cluster."),
        "lastTransitionTime": date_time("When the status last changed."),
        "reason": string("CamelCase cause of the last change, for example ClusterReady or "
                         "ClusterNotReachable."),
        "message": string("Human-readable details of the last change."),
    }, required=("type", "status")))


CLUSTER_SCHEMA = kind_schema(
    "federation.kfed.io", "v1beta1", "Cluster",
    "A member cluster of the federation: where its API server is, the Secret holding the "
    "credentials to reach it, and its health and topology as kfed sees them.",
    spec=named(f"{FEDERATION}.ClusterSpec", obj("How to reach and place the member cluster.", {
        "serverAddressByClientCIDRs": keyed_list(
            _server_address(), "API server addresses of the member, per client network; kfed "
            "uses the entry whose network contains it, the longest prefix winning.",
            keys=("clientCIDR",)),
        "secretRef": local_object_reference(
            "A Secret in the federation-system namespace whose `kubeconfig` key holds the "
            "credentials for the member's API server."),
        "region": string("Region of the cluster, overriding what its nodes' "
                         "topology.kubernetes.io/region labels say."),
        "zones": strings("Zones of the cluster, overriding what its nodes' "
                         "topology.kubernetes.io/zone labels say.", list_type=ListType.SET),
    }, required=("serverAddressByClientCIDRs",))),
    status=named(f"{FEDERATION}.ClusterStatus", obj("The member cluster as kfed last saw it.", {
        "conditions": keyed_list(_cluster_condition(), "Health of the cluster.", keys=("type",)),
        "zones": strings("Zones the cluster's nodes are in (or the spec override)."),
        "region": string("Region of the cluster's nodes (or the spec override)."),
    })),
)


def _record() -> Schema:
    return named(f"{FEDERATION}.DNSRecord", obj("The records of one name and type.", {
        "name": string("The owner name of the records, absolute and inside the zone, for example "
                       "`nginx.mynamespace.myfederation.svc.example.com.`"),
        "type": string("The record type.", enum=RECORD_TYPES),
        "ttl": int32("Time to live of the records, in seconds.", minimum=0),
        "data": strings("The record data in zone-file form, one entry per record: an address "
                        "for A/AAAA, an absolute name for CNAME, a quoted string for TXT."),
    }, required=("name", "type", "data")))


DNS_RECORD_SET_SCHEMA = kind_schema(
    "federation.kfed.io", "v1beta1", "DNSRecordSet",
    "DNS records kfed's built-in DNS server answers with: the records of one owner (the DNS "
    "controller writes one object per federated Service, holding all of its names), or any set "
    "of records written by hand. When several objects hold records at one name, the oldest "
    "object (by creation time, then name) serves all of that name's records.",
    spec=named(f"{FEDERATION}.DNSRecordSetSpec", obj("The records, all in one zone.", {
        "zone": string("The zone the records are in, absolute (ending in a dot), for example "
                       "`example.com.`"),
        "records": keyed_list(_record(), "The records, one entry per name and type.",
                              keys=("name", "type"), patch_strategy=None),
    }, required=("zone", "records"))),
)
