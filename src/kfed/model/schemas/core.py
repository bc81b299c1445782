"""core/v1 kinds other than Pod: Namespace, Service, Secret, ConfigMap, Event, Node, Endpoints."""

from __future__ import annotations

from kfed.model.schema import (
    ListType,
    MapType,
    PatchStrategy,
    Schema,
    atomic_list,
    boolean,
    date_time,
    doc,
    int32,
    int64,
    int_or_string,
    keyed_list,
    map_of,
    micro_time,
    named,
    obj,
    quantity,
    string,
    string_map,
    strings,
)
from kfed.model.schemas.meta import conditions, kind_schema, object_reference

CORE = "io.k8s.api.core.v1"

PROTOCOLS = ("SCTP", "TCP", "UDP")


def protocol(description: str) -> Schema:
    # the default matters to server-side apply: `protocol` is a list-map key of ports
    schema = string(description, enum=PROTOCOLS)
    schema["default"] = "TCP"
    return schema


# --- Namespace -----------------------------------------------------------------------------

NAMESPACE_SCHEMA = kind_schema(
    "", "v1", "Namespace",
    "A namespace: a scope for names, and the unit that access control and quotas apply to.",
    spec=named(f"{CORE}.NamespaceSpec", obj("What the namespace should look like.", {
        "finalizers": strings("Cleanup steps that must finish before the namespace is removed "
                              "from storage."),
    })),
    status=named(f"{CORE}.NamespaceStatus", obj("What the namespace looks like now.", {
        "phase": string("Lifecycle phase of the namespace.", enum=("Active", "Terminating")),
        "conditions": conditions(
            "The latest observations of the namespace's state.",
            named(f"{CORE}.NamespaceCondition", obj("One observation of the namespace's state.", {
                "type": string("Kind of observation, for example NamespaceDeletionContentFailure."),
                "status": string("Whether the observation holds: True, False or Unknown."),
                "lastTransitionTime": date_time("When the status last changed."),
                "reason": string("CamelCase cause of the last change."),
                "message": string("Human-readable details of the last change."),
            }, required=("type", "status")))),
    })),
)


# --- Service -------------------------------------------------------------------------------


def service_port() -> Schema:
    return named(f"{CORE}.ServicePort", obj("One port a Service exposes.", {
        "name": string("Name of the port, unique within the Service; required when there is more "
                       "than one port. Endpoints use it to match the port."),
        "protocol": protocol("IP protocol of the port; TCP when left out."),
        "appProtocol": string("The application protocol spoken on this port, as an IANA service "
                              "name or a domain-prefixed name; a hint for implementations."),
        "port": int32("The port number the Service listens on.", minimum=1, maximum=65535),
        "targetPort": int_or_string("The port on the backing pods to send traffic to: a number, or "
                                    "the name of a container port. Defaults to `port`."),
        "nodePort": int32("For NodePort and LoadBalancer Services, the port opened on every node; "
                          "allocated by the system when left out."),
    }, required=("port",)))


def session_affinity_config() -> Schema:
    return named(f"{CORE}.SessionAffinityConfig", obj("Settings of session affinity.", {
        "clientIP": named(f"{CORE}.ClientIPConfig", obj("Settings of ClientIP affinity.", {
            "timeoutSeconds": int32("How long, in seconds, a client stays with the same backend; "
                                    "between 1 and 86400, default 10800.", minimum=1, maximum=86400),
        })),
    }))


def port_status() -> Schema:
    return named(f"{CORE}.PortStatus", obj("The state of one port of a load-balancer address.", {
        "port": int32("The port number."),
        "protocol": protocol("The protocol of the port."),
        "error": string("Why the port could not be set up, as a CamelCase reason; empty when fine."),
    }, required=("port", "protocol")))


def load_balancer_ingress() -> Schema:
    return named(f"{CORE}.LoadBalancerIngress", obj("One address traffic for the load balancer "
                                                    "reaches it through.", {
        "ip": string("IP address of the load balancer."),
        "hostname": string("DNS name of the load balancer, for those that publish a name instead "
                           "of an address."),
        "ipMode": string("How traffic to `ip` is delivered: VIP (straight to the node, as if "
                         "addressed to it) or Proxy (via the load balancer's own address).",
                         enum=("Proxy", "VIP")),
        "ports": atomic_list(port_status(), "The state of each port on this address."),
    }))


def load_balancer_status() -> Schema:
    return named(f"{CORE}.LoadBalancerStatus", obj("The state of a load balancer.", {
        "ingress": atomic_list(load_balancer_ingress(), "The addresses of the load balancer."),
    }))


SERVICE_SCHEMA = kind_schema(
    "", "v1", "Service",
    "A Service: a stable name and address for a set of pods (or an external name), with the ports "
    "it serves. In a federation, one Service here is copied into every member cluster.",
    spec=named(f"{CORE}.ServiceSpec", obj("How the Service should behave.", {
        "ports": keyed_list(service_port(), "The ports the Service exposes.",
                            keys=("port", "protocol")),
        "selector": string_map("Pods whose labels match all of these pairs back the Service. "
                               "Without a selector, endpoints are managed by someone else.",
                               map_type=MapType.ATOMIC),
        "clusterIP": string("The virtual IP address of the Service, allocated by the system unless "
                            "set on create; `None` makes a headless Service. Fixed afterwards."),
        "clusterIPs": strings("All the virtual IPs of the Service, one per IP family; the first one "
                              "equals clusterIP."),
        "type": string("How the Service is exposed: ClusterIP (inside the cluster), NodePort "
                       "(also on a port of every node), LoadBalancer (also through an external "
                       "load balancer) or ExternalName (a DNS alias).",
                       enum=("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")),
        "externalIPs": strings("Extra IP addresses, not managed by Kubernetes, on which nodes "
                               "accept traffic for this Service."),
        "sessionAffinity": string("ClientIP keeps each client on one backend; None (default) "
                                  "spreads connections.", enum=("ClientIP", "None")),
        "loadBalancerIP": string("Deprecated: the address to ask the load balancer for, where the "
                                 "provider supports it."),
        "loadBalancerSourceRanges": strings("Client CIDR ranges allowed through the cloud load "
                                            "balancer, where the provider supports it."),
        "externalName": string("For type ExternalName: the DNS name the Service is an alias of "
                               "(a CNAME)."),
        "externalTrafficPolicy": string("Cluster sends external traffic to any ready endpoint; "
                                        "Local only to endpoints on the node that received it, "
                                        "keeping the client address.", enum=("Cluster", "Local")),
        "healthCheckNodePort": int32("Node port on which health checks for externalTrafficPolicy "
                                     "Local are answered; allocated when left out."),
        "publishNotReadyAddresses": boolean("Publish addresses of endpoints that are not ready yet "
                                            "(for peer discovery of stateful workloads)."),
        "sessionAffinityConfig": doc(session_affinity_config(), "Settings of session affinity."),
        "ipFamilies": strings("The IP families (IPv4, IPv6) of the Service, in order of the "
                              "clusterIPs."),
        "ipFamilyPolicy": string("Whether the Service is single- or dual-stack.",
                                 enum=("PreferDualStack", "RequireDualStack", "SingleStack")),
        "allocateLoadBalancerNodePorts": boolean("Whether LoadBalancer Services get node ports; "
                                                 "true by default."),
        "loadBalancerClass": string("Which load balancer implementation handles this Service; "
                                    "fixed once set."),
        "internalTrafficPolicy": string("Cluster sends in-cluster traffic to any ready endpoint; "
                                        "Local only to endpoints on the sending node.",
                                        enum=("Cluster", "Local")),
        "trafficDistribution": string("A preference for how traffic is spread over endpoints, such "
                                      "as PreferClose to favour topologically near ones."),
    })),
    status=named(f"{CORE}.ServiceStatus", obj("The observed state of the Service.", {
        "loadBalancer": doc(load_balancer_status(), "The load balancer of the Service, if any. For "
                            "a federated Service, the union of its shards' addresses."),
        "conditions": conditions("The latest observations of the Service's state."),
    })),
)


# --- Secret and ConfigMap ------------------------------------------------------------------

SECRET_SCHEMA = kind_schema(
    "", "v1", "Secret",
    "A Secret holds sensitive data such as passwords, tokens or a kubeconfig, base64-encoded.",
    fields={
        "data": map_of({"type": "string", "format": "byte"},
                       "The secret values, base64-encoded, keyed by names made of letters, digits, "
                       "-, _ and ."),
        "stringData": string_map("Write-only plain-text values, merged into data on write (and "
                                 "winning over it); never returned by reads."),
        "type": string("What the secret is for, which decides the keys it must have, for "
                       "example Opaque or kubernetes.io/tls."),
        "immutable": boolean("When true, data can no longer be changed, only the Secret deleted."),
    },
)

CONFIG_MAP_SCHEMA = kind_schema(
    "", "v1", "ConfigMap",
    "A ConfigMap holds non-confidential configuration as key/value pairs.",
    fields={
        "data": string_map("Text values keyed by names made of letters, digits, -, _ and .; keys "
                           "must not also appear in binaryData."),
        "binaryData": map_of({"type": "string", "format": "byte"},
                             "Binary values, base64-encoded; keys must not also appear in data."),
        "immutable": boolean("When true, the data can no longer be changed, only the ConfigMap "
                             "deleted."),
    },
)


# --- Event ---------------------------------------------------------------------------------

EVENT_SCHEMA = kind_schema(
    "", "v1", "Event",
    "A report of something that happened to an object, for people and tools to read. Events are "
    "informational and may be dropped or expire.",
    fields={
        "involvedObject": doc(object_reference(), "The object the event is about."),
        "reason": string("Short CamelCase machine-readable cause, for example FailedSync."),
        "message": string("Human-readable description of what happened."),
        "source": named(f"{CORE}.EventSource", obj("The component that reported the event.", {
            "component": string("Name of the reporting component."),
            "host": string("Node or host the reporting component runs on."),
        })),
        "firstTimestamp": date_time("When this event was first recorded."),
        "lastTimestamp": date_time("When this event was most recently recorded."),
        "count": int32("How many times this event has happened."),
        "type": string("Normal or Warning; new types may be added."),
        "eventTime": micro_time("When the event first happened, with microsecond precision."),
        "series": named(f"{CORE}.EventSeries", obj("Data about a run of repeated events.", {
            "count": int32("Number of occurrences in the run so far."),
            "lastObservedTime": micro_time("When the latest occurrence was seen."),
        })),
        "action": string("What was done, or failed, about the involved object."),
        "related": doc(object_reference(), "A second object involved, if any."),
        "reportingComponent": string("Name of the controller that emitted the event, for example "
                                     "kfed.io/service-controller."),
        "reportingInstance": string("Identity of the controller instance that emitted the event."),
    },
    required=("metadata", "involvedObject"),
)


# --- Node ----------------------------------------------------------------------------------


def taint() -> Schema:
    return named(f"{CORE}.Taint", obj("A mark on a node that repels pods not tolerating it.", {
        "key": string("Key of the taint."),
        "value": string("Value of the taint."),
        "effect": string("What happens to pods that do not tolerate the taint.",
                         enum=("NoExecute", "NoSchedule", "PreferNoSchedule")),
        "timeAdded": date_time("When a NoExecute taint was added."),
    }, required=("key", "effect")))


def node_condition() -> Schema:
    return named(f"{CORE}.NodeCondition", obj("One observation of a node's state.", {
        "type": string("Kind of observation: Ready, MemoryPressure, DiskPressure, PIDPressure, "
                       "NetworkUnavailable."),
        "status": string("Whether the observation holds: True, False or Unknown."),
        "lastHeartbeatTime": date_time("When the kubelet last confirmed the observation."),
        "lastTransitionTime": date_time("When the status last changed."),
        "reason": string("CamelCase cause of the last change."),
        "message": string("Human-readable details of the last change."),
    }, required=("type", "status")))


def node_address() -> Schema:
    return named(f"{CORE}.NodeAddress", obj("One address of a node.", {
        "type": string("Kind of address: Hostname, ExternalIP, InternalIP, ExternalDNS or "
                       "InternalDNS."),
        "address": string("The address itself."),
    }, required=("type", "address")))


def node_system_info() -> Schema:
    return named(f"{CORE}.NodeSystemInfo", obj("Identity and software versions of a node.", {
        "machineID": string("The machine id reported by the node."),
        "systemUUID": string("The system UUID reported by the node."),
        "bootID": string("Identifier of the current boot of the node."),
        "kernelVersion": string("Kernel version of the node."),
        "osImage": string("Operating system image of the node."),
        "containerRuntimeVersion": string("Container runtime and its version."),
        "kubeletVersion": string("Version of the kubelet."),
        "kubeProxyVersion": string("Deprecated: version of kube-proxy."),
        "operatingSystem": string("Operating system family, for example linux."),
        "architecture": string("CPU architecture, for example amd64."),
    }, required=("machineID", "systemUUID", "bootID", "kernelVersion", "osImage",
                 "containerRuntimeVersion", "kubeletVersion", "kubeProxyVersion",
                 "operatingSystem", "architecture")))


NODE_SCHEMA = kind_schema(
    "", "v1", "Node",
    "A node: a machine that runs pods. Its zone and region labels place it in the topology.",
    spec=named(f"{CORE}.NodeSpec", obj("How the node should be configured.", {
        "podCIDR": string("The pod address range of the node."),
        "podCIDRs": strings("The pod address ranges of the node, one per IP family; the first "
                            "equals podCIDR.", list_type=ListType.SET,
                            patch_strategy=PatchStrategy.MERGE),
        "providerID": string("The node's identity at its infrastructure provider."),
        "unschedulable": boolean("When true, no new pods are placed on the node."),
        "taints": atomic_list(taint(), "Taints of the node."),
        "externalID": string("Deprecated and unused."),
    })),
    status=named(f"{CORE}.NodeStatus", obj("The observed state of the node.", {
        "capacity": map_of(quantity("An amount of the resource."), "Total resources of the node."),
        "allocatable": map_of(quantity("An amount of the resource."),
                              "Resources of the node available to pods."),
        "phase": string("Deprecated lifecycle phase.", enum=("Pending", "Running", "Terminated")),
        "conditions": conditions("Current observations of the node's state.", node_condition()),
        "addresses": keyed_list(node_address(), "Addresses the node can be reached at.",
                                keys=("type",)),
        "daemonEndpoints": named(f"{CORE}.NodeDaemonEndpoints", obj(
            "Ports of the daemons running on the node.", {
                "kubeletEndpoint": named(f"{CORE}.DaemonEndpoint", obj("Port of the kubelet.", {
                    "Port": int32("The port number."),
                }, required=("Port",))),
            })),
        "nodeInfo": doc(node_system_info(), "Identity and software versions of the node."),
        "images": atomic_list(named(f"{CORE}.ContainerImage", obj("A container image on the node.", {
            "names": strings("Names the image is known by."),
            "sizeBytes": int64("Size of the image in bytes."),
        })), "Container images present on the node."),
        "volumesInUse": strings("Volumes in use on the node."),
        "volumesAttached": atomic_list(named(f"{CORE}.AttachedVolume", obj("A volume attached to "
                                                                           "the node.", {
            "name": string("Name of the volume."),
            "devicePath": string("Where the volume is available on the node."),
        }, required=("name", "devicePath"))), "Volumes attached to the node."),
    })),
)


# --- Endpoints -----------------------------------------------------------------------------


def endpoint_address() -> Schema:
    return named(f"{CORE}.EndpointAddress", obj("One address of a Service's backend.", {
        "ip": string("IP address of the backend."),
        "hostname": string("Hostname of the backend."),
        "nodeName": string("The node hosting the backend."),
        "targetRef": doc(object_reference(), "The object (usually a pod) behind the address."),
    }, required=("ip",), map_type=MapType.ATOMIC))


def endpoint_port() -> Schema:
    return named("io.k8s.api.core.v1.EndpointPort", obj("A port of the backends.", {
        "name": string("Name of the port, matching the Service port name."),
        "port": int32("The port number."),
        "protocol": protocol("IP protocol of the port; TCP by default."),
        "appProtocol": string("Application protocol spoken on the port."),
    }, required=("port",), map_type=MapType.ATOMIC))


ENDPOINTS_SCHEMA = kind_schema(
    "", "v1", "Endpoints",
    "The backend addresses of a Service, maintained from the pods its selector matches.",
    fields={
        "subsets": atomic_list(named(f"{CORE}.EndpointSubset", obj(
            "A group of addresses that all serve the same ports.", {
                "addresses": atomic_list(endpoint_address(), "Addresses ready to take traffic."),
                "notReadyAddresses": atomic_list(endpoint_address(),
                                                 "Addresses of backends not ready yet."),
                "ports": atomic_list(endpoint_port(), "Ports served at every address."),
            })), "The backends of the Service, grouped by the ports they serve."),
    },
)
