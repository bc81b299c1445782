"""core/v1 Service: defaulting, preparing, validation, table and field selectors as kube-apiserver.

The federation allocates no cluster IPs or node ports (those belong to member clusters), so it
keeps spec.clusterIP as the user gave it. Simulated member clusters allocate in their own
controllers after the fact; with allocates_ips=True the strategy additionally behaves like a
real cluster's on update: allocated values are carried over when a client omits them, and a
set cluster IP may not change.
"""

from __future__ import annotations

import copy
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
    format_labels,
    name_of,
    status,
)

CLUSTER_IP = "ClusterIP"
NODE_PORT = "NodePort"
LOAD_BALANCER = "LoadBalancer"
EXTERNAL_NAME = "ExternalName"
SERVICE_TYPES = (CLUSTER_IP, EXTERNAL_NAME, LOAD_BALANCER, NODE_PORT)  # sorted, as kube lists them
SESSION_AFFINITIES = ("ClientIP", "None")
PROTOCOLS = ("SCTP", "TCP", "UDP")
TRAFFIC_POLICIES = ("Cluster", "Local")
IP_FAMILIES = ("IPv4", "IPv6")
IP_FAMILY_POLICIES = ("PreferDualStack", "RequireDualStack", "SingleStack")
IP_MODES = ("Proxy", "VIP")
TRAFFIC_DISTRIBUTIONS = ("PreferClose",)
DEFAULT_CLIENT_IP_TIMEOUT = 10800
MAX_CLIENT_IP_TIMEOUT = 86400
DEFAULT_NODE_PORT_RANGE = (30000, 32767)
LB_SOURCE_RANGES_ANNOTATION = "service.beta.kubernetes.io/load-balancer-source-ranges"
TOPOLOGY_MODE_ANNOTATION = "service.kubernetes.io/topology-mode"
TOPOLOGY_HINTS_ANNOTATION = "service.kubernetes.io/topology-aware-hints"


# ---------------------------------------------------------------------------------------------
# Predicates over a service spec (kube's apiservice helpers)


def service_type(spec: dict[str, Any]) -> str:
    return as_str(spec.get("type"))


def cluster_ips(spec: dict[str, Any]) -> list[str]:
    return [ip for ip in as_list(spec.get("clusterIPs")) if isinstance(ip, str)]


def is_headless(spec: dict[str, Any]) -> bool:
    ips = cluster_ips(spec)
    return len(ips) == 1 and ips[0] == "None"


def externally_accessible(spec: dict[str, Any]) -> bool:
    t = service_type(spec)
    return t in (LOAD_BALANCER, NODE_PORT) or (t == CLUSTER_IP and bool(as_list(spec.get("externalIPs"))))


def needs_health_check(spec: dict[str, Any]) -> bool:
    return service_type(spec) == LOAD_BALANCER and spec.get("externalTrafficPolicy") == "Local"


def _needs_cluster_ip(spec: dict[str, Any]) -> bool:
    return service_type(spec) != EXTERNAL_NAME


def _needs_node_port(spec: dict[str, Any]) -> bool:
    return service_type(spec) in (NODE_PORT, LOAD_BALANCER)


def _ports(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in as_list(spec.get("ports")) if isinstance(p, dict)]


def _int_or_zero(value: Any) -> int | None:
    """A Go int32 field: absent reads as 0; another type is left to the schema check (None)."""
    if value is None:
        return 0
    return as_int(value)


def _go_service_port(port: dict[str, Any]) -> v.GoValue:
    """How kube-apiserver prints the (protocol, port) key of a duplicate port."""
    protocol = as_str(port.get("protocol"))
    number = as_int(port.get("port")) or 0
    return v.GoValue(f'core.ServicePort{{Name:"", Protocol:"{protocol}", AppProtocol:(*string)(nil), '
                     f'Port:{number}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:""}}, NodePort:0}}')


# ---------------------------------------------------------------------------------------------


class ServiceStrategy(KindStrategy):
    status_subresource = True
    tracks_generation = False  # Services have no metadata.generation in Kubernetes

    def __init__(self, allocates_ips: bool = False, *,
                 node_port_range: tuple[int, int] = DEFAULT_NODE_PORT_RANGE,
                 allow_special_external_ips: bool = False) -> None:
        self.allocates_ips = allocates_ips
        self.node_port_range = node_port_range
        # kube-apiserver refuses loopback/link-local externalIPs; a simulation on 127.0.0.0/8 may allow them.
        self.allow_special_external_ips = allow_special_external_ips

    # -- defaulting ----------------------------------------------------------------------------

    def default(self, obj: Obj) -> None:
        spec = obj.get("spec")
        if spec is None:
            spec = obj["spec"] = {}
        if not isinstance(spec, dict):
            return
        if not spec.get("sessionAffinity"):
            spec["sessionAffinity"] = "None"
        if spec["sessionAffinity"] == "None":
            spec.pop("sessionAffinityConfig", None)
        elif spec["sessionAffinity"] == "ClientIP":
            config = as_dict(spec.get("sessionAffinityConfig"))
            if as_dict(config.get("clientIP")).get("timeoutSeconds") is None:
                spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": DEFAULT_CLIENT_IP_TIMEOUT}}
        if not spec.get("type"):
            spec["type"] = CLUSTER_IP
        for port in _ports(spec):
            if not port.get("protocol"):
                port["protocol"] = "TCP"
            target = port.get("targetPort")
            if (target is None or target == "" or (target == 0 and not isinstance(target, bool))) and "port" in port:
                port["targetPort"] = port["port"]
        if externally_accessible(spec) and not spec.get("externalTrafficPolicy"):
            spec["externalTrafficPolicy"] = "Cluster"
        if spec.get("internalTrafficPolicy") is None and spec["type"] in (CLUSTER_IP, NODE_PORT, LOAD_BALANCER):
            spec["internalTrafficPolicy"] = "Cluster"
        if spec["type"] == LOAD_BALANCER and spec.get("allocateLoadBalancerNodePorts") is None:
            spec["allocateLoadBalancerNodePorts"] = True
        if spec["type"] != EXTERNAL_NAME:
            if spec.get("ipFamilyPolicy") is None:
                spec["ipFamilyPolicy"] = "SingleStack"
            if self.allocates_ips and not spec.get("ipFamilies"):
                spec["ipFamilies"] = self._families_for(spec)
        default_ingress_ip_mode(obj)

    @staticmethod
    def _families_for(spec: dict[str, Any]) -> list[str]:
        ips = [ip for ip in cluster_ips(spec) or [as_str(spec.get("clusterIP"))] if ip and ip != "None"]
        families = ["IPv6" if v.is_ipv6(ip) else "IPv4" for ip in ips if v.parse_ip_sloppy(ip) is not None]
        return families or ["IPv4"]

    # -- preparing -----------------------------------------------------------------------------

    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        spec = obj.get("spec")
        if isinstance(spec, dict):
            normalize_cluster_ips(None, spec)

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_update(new, old)
        new_spec, old_spec = new.get("spec"), as_dict(old.get("spec"))
        if not isinstance(new_spec, dict):
            return
        if self.allocates_ips:
            patch_allocated_values(new_spec, old_spec)
        normalize_cluster_ips(old_spec, new_spec)
        drop_type_dependent_fields(new_spec, old_spec)
        trim_for_dual_stack_downgrade(new_spec, old_spec)

    def prepare_for_status_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_status_update(new, old)
        default_ingress_ip_mode(new)

    # -- validation ----------------------------------------------------------------------------

    def validate(self, obj: Obj) -> list[FieldCause]:
        spec = as_dict(obj.get("spec"))
        annotations = as_dict(as_dict(obj.get("metadata")).get("annotations"))
        causes: list[FieldCause] = []
        hints, mode = annotations.get(TOPOLOGY_HINTS_ANNOTATION), annotations.get(TOPOLOGY_MODE_ANNOTATION)
        if hints is not None and mode is not None and hints != mode:
            causes.append(v.invalid(f"metadata.annotations[{TOPOLOGY_MODE_ANNOTATION}]", mode,
                                    f"must match annotations[{TOPOLOGY_HINTS_ANNOTATION}] when both are specified"))
        stype = service_type(spec)
        headless = is_headless(spec)
        ports = _ports(spec)
        if not ports and not headless and stype != EXTERNAL_NAME:
            causes.append(v.required("spec.ports"))
        if stype == LOAD_BALANCER and headless:
            causes.append(v.invalid("spec.clusterIPs[0]", "None", "may not be set to 'None' for LoadBalancer services"))
        elif stype == NODE_PORT and headless:
            causes.append(v.invalid("spec.clusterIPs[0]", "None", "may not be set to 'None' for NodePort services"))
        elif stype == EXTERNAL_NAME:
            causes += self._validate_external_name(spec)

        names: set[str] = set()
        for i, port in enumerate(ports):
            causes += _validate_port(port, len(ports) > 1, names, f"spec.ports[{i}]")

        if spec.get("selector") is not None:
            causes += v.validate_labels(spec.get("selector"), "spec.selector")

        affinity = spec.get("sessionAffinity")
        if not affinity:
            causes.append(v.required("spec.sessionAffinity"))
        elif affinity not in SESSION_AFFINITIES:
            causes.append(v.not_supported("spec.sessionAffinity", affinity, SESSION_AFFINITIES))
        if affinity == "ClientIP":
            causes += _validate_client_ip_affinity(spec.get("sessionAffinityConfig"))
        elif affinity == "None" and spec.get("sessionAffinityConfig") is not None:
            causes.append(v.forbidden("spec.sessionAffinityConfig", "must not be set when session affinity is None"))

        causes += validate_cluster_ips_related_fields(spec)

        for i, ip in enumerate(as_list(spec.get("externalIPs"))):
            if not isinstance(ip, str):
                continue
            path = f"spec.externalIPs[{i}]"
            errs = v.validate_ip(path, ip)
            if errs:
                causes += errs
            elif not self.allow_special_external_ips:
                causes += v.validate_non_special_ip(path, ip)

        if not stype:
            causes.append(v.required("spec.type"))
        elif stype not in SERVICE_TYPES:
            causes.append(v.not_supported("spec.type", stype, SERVICE_TYPES))

        if stype == CLUSTER_IP:
            for i, port in enumerate(ports):
                if as_int(port.get("nodePort")):
                    causes.append(v.forbidden(f"spec.ports[{i}].nodePort", "may not be used when `type` is 'ClusterIP'"))

        seen_node_ports: set[tuple[str, int]] = set()
        for i, port in enumerate(ports):
            node_port = as_int(port.get("nodePort"))
            if not node_port:
                continue
            key = (as_str(port.get("protocol")), node_port)
            if key in seen_node_ports:
                causes.append(v.duplicate(f"spec.ports[{i}].nodePort", node_port))
            seen_node_ports.add(key)

        seen_ports: set[tuple[str, int]] = set()
        for i, port in enumerate(ports):
            key = (as_str(port.get("protocol")), as_int(port.get("port")) or 0)
            if key in seen_ports:
                causes.append(v.duplicate(f"spec.ports[{i}]", _go_service_port(port)))
            seen_ports.add(key)

        causes += _validate_source_ranges(spec, annotations)

        if spec.get("allocateLoadBalancerNodePorts") is not None and stype != LOAD_BALANCER:
            causes.append(v.forbidden("spec.allocateLoadBalancerNodePorts", "may only be used when `type` is 'LoadBalancer'"))
        if stype == LOAD_BALANCER and spec.get("allocateLoadBalancerNodePorts") is None:
            # kube-apiserver reports this one without the spec. prefix
            causes.append(v.required("allocateLoadBalancerNodePorts"))

        causes += _validate_load_balancer_class(spec)
        causes += _validate_external_traffic_policy(spec)
        causes += _validate_internal_traffic_policy(spec)
        td = spec.get("trafficDistribution")
        if isinstance(td, str) and td not in TRAFFIC_DISTRIBUTIONS:
            causes.append(v.not_supported("spec.trafficDistribution", td, TRAFFIC_DISTRIBUTIONS))

        # Node ports outside the range fail allocation in a real cluster; every member would refuse them.
        if stype in (NODE_PORT, LOAD_BALANCER):
            lo, hi = self.node_port_range
            for i, port in enumerate(ports):
                node_port = as_int(port.get("nodePort"))
                if node_port and not lo <= node_port <= hi:
                    causes.append(v.invalid(f"spec.ports[{i}].nodePort", node_port,
                                            f"provided port is not in the valid range. The range of valid ports is {lo}-{hi}"))

        causes += validate_load_balancer_status(status(obj))
        return causes

    def validate_status_update(self, new: Obj, old: Obj) -> list[FieldCause]:
        # ValidateServiceStatusUpdate: the spec is the stored one; only the load balancer status
        # is new (a cloud controller writes it for every Service it provisions).
        return validate_load_balancer_status(status(new))

    @staticmethod
    def _validate_external_name(spec: dict[str, Any]) -> list[FieldCause]:
        causes = []
        if cluster_ips(spec):
            causes.append(v.forbidden("spec.clusterIPs", "may not be set for ExternalName services"))
        if as_list(spec.get("ipFamilies")):
            causes.append(v.forbidden("spec.ipFamilies", "may not be set for ExternalName services"))
        if spec.get("ipFamilyPolicy") is not None:
            causes.append(v.forbidden("spec.ipFamilyPolicy", "may not be set for ExternalName services"))
        cname = as_str(spec.get("externalName")).removesuffix(".")
        if cname:
            causes += v.validate_dns1123_subdomain("spec.externalName", cname)
        else:
            causes.append(v.required("spec.externalName"))
        return causes

    def validate_update(self, new: Obj, old: Obj) -> list[FieldCause]:
        new_spec, old_spec = as_dict(new.get("spec")), as_dict(old.get("spec"))
        causes: list[FieldCause] = []
        if self.allocates_ips:
            causes += validate_upgrade_downgrade_cluster_ips(old_spec, new_spec)
            causes += validate_upgrade_downgrade_ip_families(old_spec, new_spec)
            if needs_health_check(old_spec) and needs_health_check(new_spec) and \
                    new_spec.get("healthCheckNodePort") != old_spec.get("healthCheckNodePort"):
                causes.append(v.forbidden("spec.healthCheckNodePort", v.FIELD_IMMUTABLE))
        if service_type(old_spec) == LOAD_BALANCER and service_type(new_spec) == LOAD_BALANCER and \
                old_spec.get("loadBalancerClass") != new_spec.get("loadBalancerClass"):
            causes.append(v.invalid("spec.loadBalancerClass", new_spec.get("loadBalancerClass"), "may not change once set"))
        return causes

    # -- table and field selectors -------------------------------------------------------------

    def table_columns(self) -> list[TableColumn]:
        return [
            NAME_COLUMN,
            TableColumn("Type", description="type determines how the Service is exposed. Defaults to ClusterIP. "
                                            "Valid options are ExternalName, ClusterIP, NodePort, and LoadBalancer."),
            TableColumn("Cluster-IP", description="clusterIP is the IP address of the service and is usually "
                                                  "assigned randomly."),
            TableColumn("External-IP", description="externalIPs is a list of IP addresses for which nodes in the "
                                                   "cluster will also accept traffic for this service."),
            TableColumn("Port(s)", description="The list of ports that are exposed by this service."),
            AGE_COLUMN,
            TableColumn("Selector", priority=1, description="Route service traffic to pods with label keys and "
                                                             "values matching this selector."),
        ]

    def table_row(self, obj: Obj) -> list[Any]:
        spec = as_dict(obj.get("spec"))
        ips = cluster_ips(spec)
        internal_ip = ips[0] if ips else (as_str(spec.get("clusterIP")) or "<none>")
        ports = make_port_string(_ports(spec)) or "<none>"
        return [name_of(obj), service_type(spec), internal_ip, external_ip_cell(obj), ports,
                creation_timestamp(obj), format_labels(spec.get("selector"))]

    def selectable_fields(self, obj: Obj) -> dict[str, str]:
        spec = as_dict(obj.get("spec"))
        return {"spec.clusterIP": as_str(spec.get("clusterIP")), "spec.type": service_type(spec)}


# ---------------------------------------------------------------------------------------------
# Validation pieces


def _validate_port(port: dict[str, Any], require_name: bool, names: set[str], path: str) -> list[FieldCause]:
    causes: list[FieldCause] = []
    name = as_str(port.get("name"))
    if require_name and not name:
        causes.append(v.required(f"{path}.name"))
    elif name:
        causes += v.validate_dns1123_label(f"{path}.name", name)
        if name in names:
            causes.append(v.duplicate(f"{path}.name", name))
        else:
            names.add(name)
    number = _int_or_zero(port.get("port"))
    if number is not None:
        causes += v.validate_port_number(f"{path}.port", number)
    protocol = port.get("protocol")
    if not protocol:
        causes.append(v.required(f"{path}.protocol"))
    elif isinstance(protocol, str) and protocol not in PROTOCOLS:
        causes.append(v.not_supported(f"{path}.protocol", protocol, PROTOCOLS))
    causes += v.validate_port_num_or_name(f"{path}.targetPort", port.get("targetPort"))
    app_protocol = port.get("appProtocol")
    if isinstance(app_protocol, str):
        causes += v.validate_qualified_name(f"{path}.appProtocol", app_protocol)
    return causes


def _validate_client_ip_affinity(config: Any) -> list[FieldCause]:
    when = "when session affinity type is ClientIP"
    if config is None:
        return [v.required("spec.sessionAffinityConfig", when)]
    client_ip = as_dict(config).get("clientIP")
    if client_ip is None:
        return [v.required("spec.sessionAffinityConfig.clientIP", when)]
    timeout = as_dict(client_ip).get("timeoutSeconds")
    path = "spec.sessionAffinityConfig.clientIP.timeoutSeconds"
    if timeout is None:
        return [v.required(path, when)]
    seconds = as_int(timeout)
    if seconds is not None and not 0 < seconds <= MAX_CLIENT_IP_TIMEOUT:
        return [v.invalid(path, seconds, f"must be greater than 0 and less than {MAX_CLIENT_IP_TIMEOUT}")]
    return []


def _validate_source_ranges(spec: dict[str, Any], annotations: dict[str, Any]) -> list[FieldCause]:
    causes: list[FieldCause] = []
    ranges = as_list(spec.get("loadBalancerSourceRanges"))
    is_lb = service_type(spec) == LOAD_BALANCER
    if ranges:
        path = "spec.LoadBalancerSourceRanges"  # sic: kube-apiserver's spelling of this path
        if not is_lb:
            causes.append(v.forbidden(path, "may only be used when `type` is 'LoadBalancer'"))
        for i, value in enumerate(ranges):
            if isinstance(value, str):
                # Historically these may be space-padded.
                causes += v.validate_cidr(f"{path}[{i}]", value.strip())
    elif LB_SOURCE_RANGES_ANNOTATION in annotations:
        path = f"metadata.annotations[{LB_SOURCE_RANGES_ANNOTATION}]"
        if not is_lb:
            causes.append(v.forbidden(path, "may only be used when `type` is 'LoadBalancer'"))
        text = as_str(annotations[LB_SOURCE_RANGES_ANNOTATION]).strip()
        if text:
            for value in text.split(","):
                causes += v.validate_cidr(path, value.strip())
    return causes


def _validate_load_balancer_class(spec: dict[str, Any]) -> list[FieldCause]:
    lb_class = spec.get("loadBalancerClass")
    if lb_class is None:
        return []
    if service_type(spec) == LOAD_BALANCER:
        return v.validate_qualified_name("spec.loadBalancerClass", as_str(lb_class))
    return [v.forbidden("spec.loadBalancerClass", "may only be used when `type` is 'LoadBalancer'")]


def _validate_external_traffic_policy(spec: dict[str, Any]) -> list[FieldCause]:
    causes: list[FieldCause] = []
    policy = spec.get("externalTrafficPolicy")
    if not externally_accessible(spec):
        if policy:
            causes.append(v.invalid("spec.externalTrafficPolicy", policy,
                                    "may only be set for externally-accessible services"))
    elif not policy:
        causes.append(v.required("spec.externalTrafficPolicy"))
    elif policy not in TRAFFIC_POLICIES:
        causes.append(v.not_supported("spec.externalTrafficPolicy", policy, TRAFFIC_POLICIES))
    hc_port = as_int(spec.get("healthCheckNodePort")) or 0
    if not needs_health_check(spec):
        if hc_port:
            causes.append(v.invalid("spec.healthCheckNodePort", hc_port,
                                    "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"))
    elif hc_port:
        # No "Required" when unset: a real cluster allocates it before validating; here member
        # clusters (or their simulations) allocate it afterwards.
        causes += v.validate_port_number("spec.healthCheckNodePort", hc_port)
    return causes


def _validate_internal_traffic_policy(spec: dict[str, Any]) -> list[FieldCause]:
    policy = spec.get("internalTrafficPolicy")
    if policy is None:
        if service_type(spec) in (NODE_PORT, LOAD_BALANCER, CLUSTER_IP):
            return [v.required("spec.internalTrafficPolicy")]
        return []
    if policy not in TRAFFIC_POLICIES:
        return [v.not_supported("spec.internalTrafficPolicy", policy, TRAFFIC_POLICIES)]
    return []


def validate_cluster_ips_related_fields(spec: dict[str, Any]) -> list[FieldCause]:
    """clusterIP / clusterIPs / ipFamilies / ipFamilyPolicy consistency (not for ExternalName)."""
    if service_type(spec) == EXTERNAL_NAME:
        return []
    causes: list[FieldCause] = []
    cluster_ip = as_str(spec.get("clusterIP"))
    raw_ips = spec.get("clusterIPs")
    ips = cluster_ips(spec)
    if cluster_ip:
        if not ips:
            causes.append(v.required("spec.clusterIPs"))
        elif ips[0] != cluster_ip:
            causes.append(v.invalid("spec.clusterIPs", v.go_string_slice(raw_ips), "first value must match `clusterIP`"))
    elif ips:
        causes.append(v.invalid("spec.clusterIPs", v.go_string_slice(raw_ips),
                                "must be empty when `clusterIP` is not specified"))
    families = as_list(spec.get("ipFamilies"))
    seen: set[str] = set()
    for i, family in enumerate(families):
        if not isinstance(family, str):
            continue
        if family not in IP_FAMILIES:
            causes.append(v.not_supported(f"spec.ipFamilies[{i}]", family, IP_FAMILIES))
        if family in seen:
            causes.append(v.duplicate(f"spec.ipFamilies[{i}]", family))
        seen.add(family)
    policy = spec.get("ipFamilyPolicy")
    if policy is not None and policy not in IP_FAMILY_POLICIES:
        causes.append(v.not_supported("spec.ipFamilyPolicy", policy, IP_FAMILY_POLICIES))
    has_invalid = False
    for i, ip in enumerate(ips):
        if i == 0 and ip == "None":
            if len(ips) > 1:
                has_invalid = True
                causes.append(v.invalid("spec.clusterIPs", v.go_string_slice(ips), "'None' must be the first and only value"))
            continue
        errs = v.validate_ip(f"spec.clusterIPs[{i}]", ip)
        has_invalid = has_invalid or bool(errs)
        causes += errs
    if len(ips) > 2:
        causes.append(v.invalid("spec.clusterIPs", v.go_string_slice(ips), "may only hold up to 2 values"))
    if has_invalid:
        return causes
    if len(ips) > 1 and len({v.is_ipv6(ip) for ip in ips}) != 2:
        causes.append(v.invalid("spec.clusterIPs", v.go_string_slice(ips), "may specify no more than one IP for each IP family"))
    if not is_headless(spec) and ips and families:
        for i, ip in enumerate(ips[:len(families)]):
            if families[i] == "IPv4" and v.is_ipv6(ip):
                causes.append(v.invalid(f"spec.clusterIPs[{i}]", ip,
                                        f"expected an IPv4 value as indicated by `ipFamilies[{i}]`"))
            if families[i] == "IPv6" and not v.is_ipv6(ip):
                causes.append(v.invalid(f"spec.clusterIPs[{i}]", ip,
                                        f"expected an IPv6 value as indicated by `ipFamilies[{i}]`"))
    return causes


def validate_upgrade_downgrade_cluster_ips(old: dict[str, Any], new: dict[str, Any]) -> list[FieldCause]:
    """A cluster IP, once set, may not change (a secondary one may be added or released)."""
    if EXTERNAL_NAME in (service_type(old), service_type(new)):
        return []
    if is_headless(old) and is_headless(new):
        return []
    old_ips, new_ips = cluster_ips(old), cluster_ips(new)
    shown = v.go_string_slice(new_ips or None)
    causes: list[FieldCause] = []
    if len(old_ips) == len(new_ips):
        for i, ip in enumerate(old_ips):
            if ip != new_ips[i]:
                causes.append(v.invalid(f"spec.clusterIPs[{i}]", shown, "may not change once set"))
    elif len(old_ips) > len(new_ips):
        if not new_ips:
            causes.append(v.invalid("spec.clusterIPs[0]", shown, "primary clusterIP can not be unset"))
        if new_ips and new_ips[0] != old_ips[0]:
            causes.append(v.invalid("spec.clusterIPs[0]", shown, "may not change once set"))
        if len(new_ips) == 1 and new.get("ipFamilyPolicy") != "SingleStack":
            causes.append(v.invalid("spec.ipFamilyPolicy", new.get("ipFamilyPolicy"),
                                    "must be set to 'SingleStack' when releasing the secondary clusterIP"))
    elif old_ips and new_ips[0] != old_ips[0]:
        causes.append(v.invalid("spec.clusterIPs[0]", shown, "may not change once set"))
    return causes


def validate_upgrade_downgrade_ip_families(old: dict[str, Any], new: dict[str, Any]) -> list[FieldCause]:
    if EXTERNAL_NAME in (service_type(old), service_type(new)):
        return []
    if is_headless(old) or is_headless(new):
        return []
    old_f, new_f = as_list(old.get("ipFamilies")), as_list(new.get("ipFamilies"))
    shown = v.go_string_slice([str(f) for f in new_f] or None)
    causes: list[FieldCause] = []
    if len(old_f) == len(new_f):
        for i, family in enumerate(old_f):
            if family != new_f[i]:
                causes.append(v.invalid("spec.ipFamilies[0]", shown, "may not change once set"))
    elif len(old_f) > len(new_f):
        if not cluster_ips(new):
            causes.append(v.invalid("spec.ipFamilies[0]", shown, "primary ipFamily can not be unset"))
        if new_f and new_f[0] != old_f[0]:
            causes.append(v.invalid("spec.ipFamilies[0]", shown, "may not change once set"))
        if len(new_f) == 1 and new.get("ipFamilyPolicy") != "SingleStack":
            causes.append(v.invalid("spec.ipFamilyPolicy", new.get("ipFamilyPolicy"),
                                    "must be set to 'SingleStack' when releasing the secondary ipFamily"))
    elif old_f and new_f[0] != old_f[0]:
        causes.append(v.invalid("spec.ipFamilies[0]", shown, "may not change once set"))
    return causes


def validate_load_balancer_status(st: dict[str, Any]) -> list[FieldCause]:
    causes: list[FieldCause] = []
    for i, ingress in enumerate(as_list(as_dict(st.get("loadBalancer")).get("ingress"))):
        if not isinstance(ingress, dict):
            continue
        path = f"status.loadBalancer.ingress[{i}]"
        ip = as_str(ingress.get("ip"))
        if ip:
            causes += v.validate_ip(f"{path}.ip", ip)
        mode = ingress.get("ipMode")
        if mode is None:
            if ip:
                causes.append(v.required(f"{path}.ipMode", "must be specified when `ip` is set"))
        elif not ip:
            causes.append(v.forbidden(f"{path}.ipMode", "may not be specified when `ip` is not set"))
        elif mode not in IP_MODES:
            causes.append(v.not_supported(f"{path}.ipMode", mode, IP_MODES))
        hostname = as_str(ingress.get("hostname"))
        if hostname:
            causes += v.validate_dns1123_subdomain(f"{path}.hostname", hostname)
            if v.parse_ip_sloppy(hostname) is not None:
                causes.append(v.invalid(f"{path}.hostname", hostname, "must be a DNS name, not an IP address"))
    return causes


# ---------------------------------------------------------------------------------------------
# Preparing (kube-apiserver's service registry strategy)


def default_ingress_ip_mode(obj: Obj) -> None:
    """Ingress points with an IP get ipMode VIP when none is given (LoadBalancerIPMode defaulting)."""
    for ingress in as_list(as_dict(as_dict(obj.get("status")).get("loadBalancer")).get("ingress")):
        if isinstance(ingress, dict) and ingress.get("ip") and ingress.get("ipMode") is None:
            ingress["ipMode"] = "VIP"


def normalize_cluster_ips(old: dict[str, Any] | None, new: dict[str, Any]) -> None:
    """Keep clusterIP and clusterIPs in step for clients that only know the singular field."""
    new_ip = as_str(new.get("clusterIP"))
    new_ips = cluster_ips(new)
    if old is None:
        if new_ip and not new_ips:
            new["clusterIPs"] = [new_ip]
        return
    old_ip, old_ips = as_str(old.get("clusterIP")), cluster_ips(old)
    if old_ips and not new_ips and old_ip == new_ip:
        new["clusterIPs"] = copy.deepcopy(old_ips)
        new_ips = old_ips
    if old_ip != new_ip:
        if old_ip and not new_ip:
            if old_ips == new_ips:
                new.pop("clusterIPs", None)
        elif old_ips == new_ips:
            new["clusterIPs"] = [new_ip]


def patch_allocated_values(new: dict[str, Any], old: dict[str, Any]) -> None:
    """Carry over values the cluster allocated when a client resubmits without them."""
    if _needs_cluster_ip(old) and _needs_cluster_ip(new):
        if not new.get("clusterIP") and old.get("clusterIP"):
            new["clusterIP"] = old["clusterIP"]
        if not cluster_ips(new) and cluster_ips(old):
            new["clusterIPs"] = copy.deepcopy(cluster_ips(old))
    if _needs_node_port(old) and _needs_node_port(new):
        by_name = {as_str(p.get("name")): p.get("nodePort") for p in _ports(old)}
        for port in _ports(new):
            if not port.get("nodePort") and by_name.get(as_str(port.get("name"))):
                port["nodePort"] = by_name[as_str(port.get("name"))]
    if needs_health_check(old) and needs_health_check(new) and \
            not new.get("healthCheckNodePort") and old.get("healthCheckNodePort"):
        new["healthCheckNodePort"] = old["healthCheckNodePort"]


def drop_type_dependent_fields(new: dict[str, Any], old: dict[str, Any]) -> None:
    """On a type change, drop fields the new type cannot have, unless the client changed them too."""
    if _needs_cluster_ip(old) and not _needs_cluster_ip(new):
        if old.get("clusterIP") == new.get("clusterIP") and cluster_ips(old) == cluster_ips(new):
            new.pop("clusterIP", None)
            new.pop("clusterIPs", None)
        if as_list(old.get("ipFamilies")) == as_list(new.get("ipFamilies")):
            new.pop("ipFamilies", None)
        if old.get("ipFamilyPolicy") == new.get("ipFamilyPolicy"):
            new.pop("ipFamilyPolicy", None)
    if _needs_node_port(old) and not _needs_node_port(new):
        old_node_ports = {as_int(p.get("nodePort")) for p in _ports(old)} - {None, 0}
        new_node_ports = {as_int(p.get("nodePort")) for p in _ports(new)} - {None, 0}
        if new_node_ports <= old_node_ports:
            for port in _ports(new):
                port.pop("nodePort", None)
    if needs_health_check(old) and not needs_health_check(new) and \
            old.get("healthCheckNodePort") == new.get("healthCheckNodePort"):
        new.pop("healthCheckNodePort", None)
    if externally_accessible(old) and not externally_accessible(new) and \
            old.get("externalTrafficPolicy") == new.get("externalTrafficPolicy"):
        new.pop("externalTrafficPolicy", None)
    if service_type(old) == LOAD_BALANCER and service_type(new) != LOAD_BALANCER:
        if new.get("allocateLoadBalancerNodePorts") is not None and \
                old.get("allocateLoadBalancerNodePorts") == new.get("allocateLoadBalancerNodePorts"):
            new.pop("allocateLoadBalancerNodePorts", None)
        if old.get("loadBalancerClass") == new.get("loadBalancerClass"):
            new.pop("loadBalancerClass", None)


def trim_for_dual_stack_downgrade(new: dict[str, Any], old: dict[str, Any]) -> None:
    """Setting ipFamilyPolicy SingleStack on a dual-stack service releases the secondary family."""
    if old.get("ipFamilyPolicy") in ("RequireDualStack", "PreferDualStack") and new.get("ipFamilyPolicy") == "SingleStack":
        if len(cluster_ips(new)) > 1:
            new["clusterIPs"] = cluster_ips(new)[:1]
        if len(as_list(new.get("ipFamilies"))) > 1:
            new["ipFamilies"] = as_list(new.get("ipFamilies"))[:1]


# ---------------------------------------------------------------------------------------------
# Table cells


def make_port_string(ports: list[dict[str, Any]]) -> str:
    """80/TCP,443:30443/TCP"""
    pieces = []
    for port in ports:
        number = as_int(port.get("port")) or 0
        protocol = as_str(port.get("protocol"))
        node_port = as_int(port.get("nodePort")) or 0
        pieces.append(f"{number}:{node_port}/{protocol}" if node_port > 0 else f"{number}/{protocol}")
    return ",".join(pieces)


def load_balancer_addresses(obj: Obj) -> list[str]:
    """The ingress points' IPs (else hostnames), deduplicated and sorted as kubectl prints them."""
    result = set()
    for ingress in as_list(as_dict(status(obj).get("loadBalancer")).get("ingress")):
        ingress = as_dict(ingress)
        if ingress.get("ip"):
            result.add(as_str(ingress["ip"]))
        elif ingress.get("hostname"):
            result.add(as_str(ingress["hostname"]))
    return sorted(result)


def external_ip_cell(obj: Obj) -> str:
    spec = as_dict(obj.get("spec"))
    external_ips = [ip for ip in as_list(spec.get("externalIPs")) if isinstance(ip, str)]
    stype = service_type(spec)
    if stype in (CLUSTER_IP, NODE_PORT):
        return ",".join(external_ips) if external_ips else "<none>"
    if stype == LOAD_BALANCER:
        addresses = load_balancer_addresses(obj)
        if external_ips:
            return ",".join(addresses + external_ips)
        return ",".join(addresses) if addresses else "<pending>"
    if stype == EXTERNAL_NAME:
        return as_str(spec.get("externalName"))
    return "<unknown>"
