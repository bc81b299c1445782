"""PodSpec defaulting and validation, shared by Pods and the pod templates of workloads."""

from __future__ import annotations

from typing import Any

from kfed.model import validation as v
from kfed.model.resource import FieldCause
from kfed.model.strategies.base import as_dict, as_int, as_list, as_str

RESTART_POLICIES = ("Always", "OnFailure", "Never")
DNS_POLICIES = ("ClusterFirst", "ClusterFirstWithHostNet", "Default", "None")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
PORT_PROTOCOLS = ("SCTP", "TCP", "UDP")
TERMINATION_MESSAGE_POLICIES = ("FallbackToLogsOnError", "File")


def default_pull_policy(image: str) -> str:
    """`:latest` or no tag pulls Always; a tag or a digest pulls IfNotPresent."""
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return "Always"
    return "Always" if last.rsplit(":", 1)[1] == "latest" else "IfNotPresent"


def _default_probe(probe: Any) -> None:
    if not isinstance(probe, dict):
        return
    probe.setdefault("timeoutSeconds", 1)
    probe.setdefault("periodSeconds", 10)
    probe.setdefault("successThreshold", 1)
    probe.setdefault("failureThreshold", 3)
    http = probe.get("httpGet")
    if isinstance(http, dict):
        http.setdefault("path", "/")
        http.setdefault("scheme", "HTTP")


def default_container(container: Any) -> None:
    """SetDefaults_Container (+ its ports and probes)."""
    if not isinstance(container, dict):
        return
    image = container.get("image")
    if not container.get("imagePullPolicy") and isinstance(image, str) and image:
        container["imagePullPolicy"] = default_pull_policy(image)
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    container.setdefault("resources", {})
    for port in as_list(container.get("ports")):
        if isinstance(port, dict) and not port.get("protocol"):
            port["protocol"] = "TCP"
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        _default_probe(container.get(probe))


def default_pod_spec(spec: dict[str, Any]) -> None:
    """SetDefaults_PodSpec and the container defaults (what pod templates get too)."""
    if not spec.get("dnsPolicy"):
        spec["dnsPolicy"] = "ClusterFirst"
    if not spec.get("restartPolicy"):
        spec["restartPolicy"] = "Always"
    if not isinstance(spec.get("securityContext"), dict):
        spec["securityContext"] = {}
    if spec.get("terminationGracePeriodSeconds") is None:
        spec["terminationGracePeriodSeconds"] = 30
    if not spec.get("schedulerName"):
        spec["schedulerName"] = "default-scheduler"
    for key in ("containers", "initContainers"):
        for container in as_list(spec.get(key)):
            default_container(container)
            if spec.get("hostNetwork") is True:
                # With the host's network, a container port is a host port.
                for port in as_list(container.get("ports") if isinstance(container, dict) else None):
                    if isinstance(port, dict) and not port.get("hostPort"):
                        port["hostPort"] = port.get("containerPort")


def validate_container_ports(ports: Any, path: str) -> list[FieldCause]:
    causes: list[FieldCause] = []
    names: set[str] = set()
    for i, port in enumerate(as_list(ports)):
        if not isinstance(port, dict):
            continue
        ppath = f"{path}[{i}]"
        name = as_str(port.get("name"))
        if name:
            causes += [v.invalid(f"{ppath}.name", name, m) for m in v.is_valid_port_name(name)]
            if name in names:
                causes.append(v.duplicate(f"{ppath}.name", name))
            names.add(name)
        container_port = as_int(port.get("containerPort"))
        if container_port is None or container_port == 0:
            causes.append(v.required(f"{ppath}.containerPort"))
        else:
            causes += v.validate_port_number(f"{ppath}.containerPort", container_port)
        host_port = as_int(port.get("hostPort"))
        if host_port:
            causes += v.validate_port_number(f"{ppath}.hostPort", host_port)
        protocol = as_str(port.get("protocol"))
        if not protocol:
            causes.append(v.required(f"{ppath}.protocol"))
        elif protocol not in PORT_PROTOCOLS:
            causes.append(v.not_supported(f"{ppath}.protocol", protocol, PORT_PROTOCOLS))
    return causes


def validate_containers(containers: Any, path: str, *, required_list: bool = True,
                        seen: set[str] | None = None) -> list[FieldCause]:
    causes: list[FieldCause] = []
    items = as_list(containers)
    if required_list and not items:
        return [v.required(path)]
    names = seen if seen is not None else set()
    for i, container in enumerate(items):
        if not isinstance(container, dict):
            continue
        cpath = f"{path}[{i}]"
        name = as_str(container.get("name"))
        if not name:
            causes.append(v.required(f"{cpath}.name"))
        else:
            causes += v.validate_dns1123_label(f"{cpath}.name", name)
            if name in names:
                causes.append(v.duplicate(f"{cpath}.name", name))
            names.add(name)
        if not as_str(container.get("image")):
            causes.append(v.required(f"{cpath}.image"))
        causes += validate_container_ports(container.get("ports"), f"{cpath}.ports")
        pull = as_str(container.get("imagePullPolicy"))
        if not pull:
            causes.append(v.required(f"{cpath}.imagePullPolicy"))
        elif pull not in PULL_POLICIES:
            causes.append(v.not_supported(f"{cpath}.imagePullPolicy", pull, PULL_POLICIES))
        tmp = container.get("terminationMessagePolicy")
        if isinstance(tmp, str) and tmp not in TERMINATION_MESSAGE_POLICIES:
            if tmp:
                causes.append(v.not_supported(f"{cpath}.terminationMessagePolicy", tmp,
                                              TERMINATION_MESSAGE_POLICIES))
            else:
                causes.append(v.required(f"{cpath}.terminationMessagePolicy",
                                         "must be 'File' or 'FallbackToLogsOnError'"))
        env = as_list(container.get("env"))
        for j, var in enumerate(env):
            if isinstance(var, dict) and not as_str(var.get("name")):
                causes.append(v.required(f"{cpath}.env[{j}].name"))
    return causes


def validate_pod_spec(spec: dict[str, Any], path: str) -> list[FieldCause]:
    """ValidatePodSpec, the parts a simulated cluster meets: containers, policies, node name."""
    names: set[str] = set()
    causes = validate_containers(spec.get("containers"), f"{path}.containers", seen=names)
    causes += validate_containers(spec.get("initContainers"), f"{path}.initContainers",
                                  required_list=False, seen=names)
    restart = spec.get("restartPolicy")
    if isinstance(restart, str):
        if not restart:
            causes.append(v.required(f"{path}.restartPolicy"))
        elif restart not in RESTART_POLICIES:
            causes.append(v.not_supported(f"{path}.restartPolicy", restart, RESTART_POLICIES))
    dns = spec.get("dnsPolicy")
    if isinstance(dns, str):
        if not dns:
            causes.append(v.required(f"{path}.dnsPolicy"))
        elif dns not in DNS_POLICIES:
            causes.append(v.not_supported(f"{path}.dnsPolicy", dns, DNS_POLICIES))
    node_name = spec.get("nodeName")
    if isinstance(node_name, str) and node_name:
        causes += [v.invalid(f"{path}.nodeName", node_name, m) for m in v.is_dns1123_subdomain(node_name)]
    sa = spec.get("serviceAccountName")
    if isinstance(sa, str) and sa:
        causes += [v.invalid(f"{path}.serviceAccountName", sa, m) for m in v.is_dns1123_subdomain(sa)]
    deadline = as_int(spec.get("activeDeadlineSeconds"))
    if deadline is not None and not 1 <= deadline <= 2**31 - 1:
        causes.append(v.invalid(f"{path}.activeDeadlineSeconds", deadline, v.inclusive_range_error(1, 2**31 - 1)))
    causes += v.validate_labels(spec.get("nodeSelector"), f"{path}.nodeSelector")
    return causes


def validate_pod_template(template: Any, path: str) -> list[FieldCause]:
    """ValidatePodTemplateSpec: template labels, annotations and its pod spec."""
    if not isinstance(template, dict):
        return [v.required(path)]
    tmeta = as_dict(template.get("metadata"))
    causes = v.validate_labels(tmeta.get("labels"), f"{path}.labels")
    causes += v.validate_annotations(tmeta.get("annotations"), f"{path}.annotations")
    causes += validate_pod_spec(as_dict(template.get("spec")), f"{path}.spec")
    if as_list(as_dict(template.get("spec")).get("ephemeralContainers")):
        causes.append(v.forbidden(f"{path}.spec.ephemeralContainers", "ephemeral containers not allowed in pod template"))
    return causes


def qos_class(spec: dict[str, Any]) -> str:
    """The pod's QoS class: Guaranteed, Burstable or BestEffort, from its containers' resources."""
    containers = [c for c in as_list(spec.get("containers")) + as_list(spec.get("initContainers"))
                  if isinstance(c, dict)]
    any_set = False
    guaranteed = True
    for c in containers:
        res = as_dict(c.get("resources"))
        requests, limits = as_dict(res.get("requests")), as_dict(res.get("limits"))
        if requests or limits:
            any_set = True
        for resource in ("cpu", "memory"):
            unequal = resource in requests and str(requests.get(resource)) != str(limits.get(resource))
            if resource not in limits or unequal:
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed and containers else "Burstable"
