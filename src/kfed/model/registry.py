"""Every kind kfed serves, as ResourceTypes, and the lists the two kinds of API server register.

The federation API server serves FEDERATION_RESOURCES; each simulated member cluster serves
MEMBER_RESOURCES. `ResourceIndex` finds a ResourceType by group/version/plural (URL routing),
by kind (decoding bodies, owner references) or by any name kubectl accepts (`svc`, `service`,
`services`, `services.v1.`, `clusters.federation.kfed.io`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from kfed.model.resource import ResourceType
from kfed.model.schemas import (
    CLUSTER_SCHEMA,
    CONFIG_MAP_SCHEMA,
    DEPLOYMENT_SCHEMA,
    DNS_RECORD_SET_SCHEMA,
    ENDPOINT_SLICE_SCHEMA,
    ENDPOINTS_SCHEMA,
    EVENT_SCHEMA,
    LEASE_SCHEMA,
    NAMESPACE_SCHEMA,
    NODE_SCHEMA,
    POD_SCHEMA,
    REPLICA_SET_SCHEMA,
    SECRET_SCHEMA,
    SERVICE_SCHEMA,
)
from kfed.model.strategies.apps import DeploymentStrategy, ReplicaSetStrategy
from kfed.model.strategies.coordination import LeaseStrategy
from kfed.model.strategies.core import (
    ConfigMapStrategy,
    EndpointsStrategy,
    EventStrategy,
    NamespaceStrategy,
    NodeStrategy,
    PodStrategy,
    SecretStrategy,
    ServiceStrategy,
)
from kfed.model.strategies.discovery import EndpointSliceStrategy
from kfed.model.strategies.federation import ClusterStrategy, DNSRecordSetStrategy

FEDERATION_GROUP = "federation.kfed.io"
FEDERATION_VERSION = "v1beta1"

STATUS = frozenset({"status"})
STATUS_AND_SCALE = frozenset({"status", "scale"})
# kube-apiserver serves no deletecollection for namespaces.
NAMESPACE_VERBS = ("create", "delete", "get", "list", "patch", "update", "watch")

NAMESPACES = ResourceType(
    group="", version="v1", kind="Namespace", plural="namespaces", singular="namespace",
    namespaced=False, schema=NAMESPACE_SCHEMA, strategy=NamespaceStrategy(),
    short_names=("ns",), subresources=STATUS, verbs=NAMESPACE_VERBS)
SERVICES = ResourceType(
    group="", version="v1", kind="Service", plural="services", singular="service",
    namespaced=True, schema=SERVICE_SCHEMA, strategy=ServiceStrategy(),
    short_names=("svc",), categories=("all",), subresources=STATUS)
SECRETS = ResourceType(
    group="", version="v1", kind="Secret", plural="secrets", singular="secret",
    namespaced=True, schema=SECRET_SCHEMA, strategy=SecretStrategy())
CONFIG_MAPS = ResourceType(
    group="", version="v1", kind="ConfigMap", plural="configmaps", singular="configmap",
    namespaced=True, schema=CONFIG_MAP_SCHEMA, strategy=ConfigMapStrategy(), short_names=("cm",))
EVENTS = ResourceType(
    group="", version="v1", kind="Event", plural="events", singular="event",
    namespaced=True, schema=EVENT_SCHEMA, strategy=EventStrategy(), short_names=("ev",))
NODES = ResourceType(
    group="", version="v1", kind="Node", plural="nodes", singular="node",
    namespaced=False, schema=NODE_SCHEMA, strategy=NodeStrategy(), short_names=("no",),
    subresources=STATUS)
PODS = ResourceType(
    group="", version="v1", kind="Pod", plural="pods", singular="pod",
    namespaced=True, schema=POD_SCHEMA, strategy=PodStrategy(), short_names=("po",),
    categories=("all",), subresources=STATUS)
ENDPOINTS = ResourceType(
    group="", version="v1", kind="Endpoints", plural="endpoints", singular="endpoints",
    namespaced=True, schema=ENDPOINTS_SCHEMA, strategy=EndpointsStrategy(), short_names=("ep",))
CLUSTERS = ResourceType(
    group=FEDERATION_GROUP, version=FEDERATION_VERSION, kind="Cluster", plural="clusters",
    singular="cluster", namespaced=False, schema=CLUSTER_SCHEMA, strategy=ClusterStrategy(),
    short_names=("fc",), categories=("federation",), subresources=STATUS)
DNS_RECORD_SETS = ResourceType(
    group=FEDERATION_GROUP, version=FEDERATION_VERSION, kind="DNSRecordSet",
    plural="dnsrecordsets", singular="dnsrecordset", namespaced=False,
    schema=DNS_RECORD_SET_SCHEMA, strategy=DNSRecordSetStrategy(), short_names=("drs",),
    categories=("federation",))
LEASES = ResourceType(
    group="coordination.k8s.io", version="v1", kind="Lease", plural="leases", singular="lease",
    namespaced=True, schema=LEASE_SCHEMA, strategy=LeaseStrategy())
ENDPOINT_SLICES = ResourceType(
    group="discovery.k8s.io", version="v1", kind="EndpointSlice", plural="endpointslices",
    singular="endpointslice", namespaced=True, schema=ENDPOINT_SLICE_SCHEMA,
    strategy=EndpointSliceStrategy())
DEPLOYMENTS = ResourceType(
    group="apps", version="v1", kind="Deployment", plural="deployments", singular="deployment",
    namespaced=True, schema=DEPLOYMENT_SCHEMA, strategy=DeploymentStrategy(),
    short_names=("deploy",), categories=("all",), subresources=STATUS_AND_SCALE)
REPLICA_SETS = ResourceType(
    group="apps", version="v1", kind="ReplicaSet", plural="replicasets", singular="replicaset",
    namespaced=True, schema=REPLICA_SET_SCHEMA, strategy=ReplicaSetStrategy(),
    short_names=("rs",), categories=("all",), subresources=STATUS_AND_SCALE)

FEDERATION_RESOURCES: tuple[ResourceType, ...] = (
    NAMESPACES, SERVICES, SECRETS, CONFIG_MAPS, EVENTS, CLUSTERS, DNS_RECORD_SETS, LEASES,
)
MEMBER_RESOURCES: tuple[ResourceType, ...] = (
    NAMESPACES, NODES, PODS, SERVICES, ENDPOINTS, CONFIG_MAPS, SECRETS, EVENTS, ENDPOINT_SLICES,
    DEPLOYMENTS, REPLICA_SETS, LEASES,
)
# ResourceType holds a dict, so it is not hashable: de-duplicate by identity.
ALL_RESOURCES: tuple[ResourceType, ...] = tuple(
    {id(rt): rt for rt in FEDERATION_RESOURCES + MEMBER_RESOURCES}.values())


class ResourceIndex:
    """Lookups over one server's resources (built once; every lookup is a dict access)."""

    __slots__ = ("resources", "_by_path", "_by_kind", "_by_name")

    def __init__(self, resources: Iterable[ResourceType]) -> None:
        self.resources: tuple[ResourceType, ...] = tuple(resources)
        self._by_path: dict[tuple[str, str, str], ResourceType] = {}
        self._by_kind: dict[tuple[str, str, str], ResourceType] = {}
        self._by_name: dict[str, list[ResourceType]] = {}
        for rt in self.resources:
            key = (rt.group, rt.version, rt.plural)
            if key in self._by_path:
                raise ValueError(f"{rt.plural} registered twice in {rt.group_version}")
            self._by_path[key] = rt
            self._by_kind[(rt.group, rt.version, rt.kind)] = rt
            for name in dict.fromkeys((rt.plural, rt.singular, rt.kind.lower(), *rt.short_names)):
                self._by_name.setdefault(name, []).append(rt)

    def __iter__(self) -> Iterator[ResourceType]:
        return iter(self.resources)

    def __len__(self) -> int:
        return len(self.resources)

    def get(self, group: str, version: str, plural: str) -> ResourceType | None:
        """The resource served at /api(s)/<group>/<version>/.../<plural>."""
        return self._by_path.get((group, version, plural))

    def for_kind(self, group: str, version: str, kind: str) -> ResourceType | None:
        return self._by_kind.get((group, version, kind))

    def for_api_version(self, api_version: str, kind: str) -> ResourceType | None:
        """From an object's `apiVersion` and `kind` (`v1`/`Service`, `apps/v1`/`Deployment`)."""
        group, _, version = api_version.rpartition("/")
        return self.for_kind(group, version, kind)

    def resolve(self, name: str) -> list[ResourceType]:
        """Resources a kubectl-style name may mean: `svc`, `Service`, `services`,
        `clusters.federation.kfed.io`, `deployments.v1.apps`. Several when ambiguous."""
        name = name.strip()
        plain = self._by_name.get(name.lower())
        if plain:
            return list(plain)
        head, _, rest = name.partition(".")
        candidates = self._by_name.get(head.lower(), [])
        if not rest:
            return []
        version, _, group = rest.partition(".")
        exact_version = [rt for rt in candidates if rt.version == version and rt.group == group]
        if exact_version:
            return exact_version
        return [rt for rt in candidates if rt.group == rest]

    def group_versions(self) -> list[tuple[str, str]]:
        """Distinct (group, version) pairs in registration order."""
        return list(dict.fromkeys((rt.group, rt.version) for rt in self.resources))


FEDERATION_INDEX = ResourceIndex(FEDERATION_RESOURCES)
MEMBER_INDEX = ResourceIndex(MEMBER_RESOURCES)
ALL_INDEX = ResourceIndex(ALL_RESOURCES)


def find_resource(resources: Sequence[ResourceType], group: str, version: str,
                  plural: str) -> ResourceType | None:
    """One-off lookup by group/version/plural without building an index."""
    return next((rt for rt in resources
                 if (rt.group, rt.version, rt.plural) == (group, version, plural)), None)


def find_kind(resources: Sequence[ResourceType], kind: str, group: str | None = None,
              version: str | None = None) -> ResourceType | None:
    """One-off lookup by kind, optionally narrowed to a group and version."""
    return next((rt for rt in resources if rt.kind == kind
                 and (group is None or rt.group == group)
                 and (version is None or rt.version == version)), None)
