"""core/v1 Pod and the types it is made of (containers, probes, volumes, affinity, ...)."""

from __future__ import annotations

from kfed.model.schema import (
    ListType,
    MapType,
    PatchStrategy,
    Schema,
    array,
    atomic_list,
    boolean,
    date_time,
    doc,
    int32,
    int64,
    int_or_string,
    keyed_list,
    map_of,
    named,
    obj,
    quantity,
    string,
    string_map,
    strings,
)
from kfed.model.schemas.core import protocol
from kfed.model.schemas.meta import kind_schema, label_selector, local_object_reference, object_meta

CORE = "io.k8s.api.core.v1"


# --- containers ----------------------------------------------------------------------------


def container_port() -> Schema:
    return named(f"{CORE}.ContainerPort", obj("A network port a container listens on.", {
        "name": string("Name of the port, unique in the pod; Services can target it by name."),
        "hostPort": int32("Port to open on the node for this container port; rarely needed."),
        "containerPort": int32("The port number inside the container's network namespace.",
                               minimum=1, maximum=65535),
        "protocol": protocol("IP protocol of the port; TCP by default."),
        "hostIP": string("Node address to bind the host port to."),
    }, required=("containerPort",)))


def key_selector(type_name: str, what: str) -> Schema:
    return named(f"{CORE}.{type_name}", obj(f"Picks one key of a {what}.", {
        "name": string(f"Name of the {what}."),
        "key": string("The key to use."),
        "optional": boolean(f"Whether a missing {what} or key is acceptable."),
    }, required=("key",), map_type=MapType.ATOMIC))


def object_field_selector() -> Schema:
    return named(f"{CORE}.ObjectFieldSelector", obj("Picks a field of the pod.", {
        "apiVersion": string("Version of the schema fieldPath is written in; v1 by default."),
        "fieldPath": string("Path of the field, for example metadata.name or status.podIP."),
    }, required=("fieldPath",), map_type=MapType.ATOMIC))


def resource_field_selector() -> Schema:
    return named(f"{CORE}.ResourceFieldSelector", obj("Picks a resource request or limit of a "
                                                      "container.", {
        "containerName": string("The container, required for volumes."),
        "resource": string("The resource, for example limits.cpu or requests.memory."),
        "divisor": quantity("Unit to express the value in; 1 by default."),
    }, required=("resource",), map_type=MapType.ATOMIC))


def env_var() -> Schema:
    return named(f"{CORE}.EnvVar", obj("An environment variable of a container.", {
        "name": string("Name of the variable."),
        "value": string("The value; $(VAR) references to earlier variables are expanded and $$ "
                        "escapes a dollar."),
        "valueFrom": named(f"{CORE}.EnvVarSource", obj("Where the value comes from, instead of "
                                                       "`value`.", {
            "fieldRef": doc(object_field_selector(), "A field of the pod."),
            "resourceFieldRef": doc(resource_field_selector(), "A resource request or limit."),
            "configMapKeyRef": doc(key_selector("ConfigMapKeySelector", "ConfigMap"),
                                   "A key of a ConfigMap."),
            "secretKeyRef": doc(key_selector("SecretKeySelector", "Secret"), "A key of a Secret."),
        })),
    }, required=("name",)))


def env_from_source() -> Schema:
    def source(type_name: str, what: str) -> Schema:
        return named(f"{CORE}.{type_name}", obj(f"A {what} whose keys become variables.", {
            "name": string(f"Name of the {what}."),
            "optional": boolean(f"Whether a missing {what} is acceptable."),
        }, map_type=MapType.ATOMIC))

    return named(f"{CORE}.EnvFromSource", obj("A set of variables taken from a ConfigMap or "
                                              "Secret.", {
        "prefix": string("Prefix added to every variable name."),
        "configMapRef": source("ConfigMapEnvSource", "ConfigMap"),
        "secretRef": source("SecretEnvSource", "Secret"),
    }))


def resource_requirements() -> Schema:
    return named(f"{CORE}.ResourceRequirements", obj("Compute resources requested and allowed.", {
        "limits": map_of(quantity("An amount of the resource."),
                         "The most of each resource that may be used."),
        "requests": map_of(quantity("An amount of the resource."),
                           "The amount of each resource to reserve; defaults to the limits."),
        "claims": keyed_list(named(f"{CORE}.ResourceClaim", obj("Use of a dynamically allocated "
                                                                "resource.", {
            "name": string("Name of a resource claim of the pod."),
            "request": string("Name of one request inside that claim."),
        }, required=("name",))), "Dynamically allocated resources the container uses.",
            patch_strategy=None),
    }))


def http_get_action() -> Schema:
    return named(f"{CORE}.HTTPGetAction", obj("An HTTP GET request.", {
        "path": string("Path to request."),
        "port": int_or_string("Port to connect to, by number or container port name."),
        "host": string("Host to connect to; the pod IP by default."),
        "scheme": string("HTTP or HTTPS; HTTP by default.", enum=("HTTP", "HTTPS")),
        "httpHeaders": atomic_list(named(f"{CORE}.HTTPHeader", obj("One request header.", {
            "name": string("Header name."),
            "value": string("Header value."),
        }, required=("name", "value"))), "Extra request headers."),
    }, required=("port",)))


def exec_action() -> Schema:
    return named(f"{CORE}.ExecAction", obj("A command run inside the container.", {
        "command": strings("The command and its arguments, run without a shell; exit status 0 "
                           "means success."),
    }))


def tcp_socket_action() -> Schema:
    return named(f"{CORE}.TCPSocketAction", obj("A TCP connection attempt.", {
        "port": int_or_string("Port to connect to, by number or container port name."),
        "host": string("Host to connect to; the pod IP by default."),
    }, required=("port",)))


def probe() -> Schema:
    return named(f"{CORE}.Probe", obj("A periodic health check of a container.", {
        "exec": doc(exec_action(), "Run a command."),
        "httpGet": doc(http_get_action(), "Send an HTTP GET; 2xx and 3xx mean success."),
        "tcpSocket": doc(tcp_socket_action(), "Open a TCP connection."),
        "grpc": named(f"{CORE}.GRPCAction", obj("Call the gRPC health checking service.", {
            "port": int32("Port of the gRPC service."),
            "service": string("Service name to put in the health check request."),
        }, required=("port",))),
        "initialDelaySeconds": int32("Seconds after container start before the first check."),
        "timeoutSeconds": int32("Seconds before a check times out; 1 by default."),
        "periodSeconds": int32("Seconds between checks; 10 by default."),
        "successThreshold": int32("Consecutive successes needed after a failure; 1 by default."),
        "failureThreshold": int32("Consecutive failures that count as failed; 3 by default."),
        "terminationGracePeriodSeconds": int64("Grace period used when a failed probe kills the "
                                               "container, overriding the pod's."),
    }))


def lifecycle_handler() -> Schema:
    return named(f"{CORE}.LifecycleHandler", obj("An action run at a point of a container's "
                                                 "life.", {
        "exec": doc(exec_action(), "Run a command."),
        "httpGet": doc(http_get_action(), "Send an HTTP GET."),
        "tcpSocket": doc(tcp_socket_action(), "Deprecated: open a TCP connection."),
        "sleep": named(f"{CORE}.SleepAction", obj("Wait a while.", {
            "seconds": int64("Seconds to sleep."),
        }, required=("seconds",))),
    }))


def se_linux_options() -> Schema:
    return named(f"{CORE}.SELinuxOptions", obj("SELinux labels.", {
        "user": string("SELinux user."),
        "role": string("SELinux role."),
        "type": string("SELinux type."),
        "level": string("SELinux level."),
    }))


def seccomp_profile() -> Schema:
    return named(f"{CORE}.SeccompProfile", obj("A seccomp profile.", {
        "type": string("Which profile: Localhost, RuntimeDefault or Unconfined.",
                       enum=("Localhost", "RuntimeDefault", "Unconfined")),
        "localhostProfile": string("Path of a profile file on the node, for type Localhost."),
    }, required=("type",)))


def app_armor_profile() -> Schema:
    return named(f"{CORE}.AppArmorProfile", obj("An AppArmor profile.", {
        "type": string("Which profile: Localhost, RuntimeDefault or Unconfined.",
                       enum=("Localhost", "RuntimeDefault", "Unconfined")),
        "localhostProfile": string("Name of a profile loaded on the node, for type Localhost."),
    }, required=("type",)))


def windows_options() -> Schema:
    return named(f"{CORE}.WindowsSecurityContextOptions", obj("Windows-specific settings.", {
        "gmsaCredentialSpecName": string("Name of the GMSA credential spec to use."),
        "gmsaCredentialSpec": string("Contents of the GMSA credential spec."),
        "runAsUserName": string("User name to run the entrypoint as."),
        "hostProcess": boolean("Run as a host process container."),
    }))


def security_context() -> Schema:
    return named(f"{CORE}.SecurityContext", obj("Security settings of a container; they win over "
                                                 "the pod's.", {
        "capabilities": named(f"{CORE}.Capabilities", obj("Linux capabilities to change.", {
            "add": strings("Capabilities to add."),
            "drop": strings("Capabilities to remove."),
        })),
        "privileged": boolean("Run with the privileges of root on the host."),
        "seLinuxOptions": doc(se_linux_options(), "SELinux labels of the container."),
        "windowsOptions": doc(windows_options(), "Windows-specific settings."),
        "runAsUser": int64("UID to run the entrypoint as."),
        "runAsGroup": int64("GID to run the entrypoint as."),
        "runAsNonRoot": boolean("Refuse to start the container as UID 0."),
        "readOnlyRootFilesystem": boolean("Mount the root filesystem read-only."),
        "allowPrivilegeEscalation": boolean("Whether a process may gain more privileges than its "
                                            "parent."),
        "procMount": string("Kind of /proc mount: Default or Unmasked."),
        "seccompProfile": doc(seccomp_profile(), "The seccomp profile of the container."),
        "appArmorProfile": doc(app_armor_profile(), "The AppArmor profile of the container."),
    }))


def volume_mount() -> Schema:
    return named(f"{CORE}.VolumeMount", obj("Where a volume appears in a container.", {
        "name": string("Name of the pod volume."),
        "readOnly": boolean("Mount read-only."),
        "recursiveReadOnly": string("Whether read-only mounts are read-only all the way down: "
                                    "Disabled, IfPossible or Enabled."),
        "mountPath": string("Path inside the container; must not contain ':'."),
        "subPath": string("Path inside the volume to mount instead of its root."),
        "mountPropagation": string("How mounts propagate between host and container: None, "
                                   "HostToContainer or Bidirectional."),
        "subPathExpr": string("Like subPath, with $(VAR) expanded from the environment."),
    }, required=("name", "mountPath")))


def container() -> Schema:
    return named(f"{CORE}.Container", obj("A container to run in the pod.", {
        "name": string("Name of the container, a DNS label unique in the pod."),
        "image": string("Container image to run."),
        "command": strings("Entrypoint, replacing the image's ENTRYPOINT; run without a shell, "
                           "with $(VAR) expanded."),
        "args": strings("Arguments to the entrypoint, replacing the image's CMD."),
        "workingDir": string("Working directory; the image's by default."),
        "ports": keyed_list(container_port(), "Ports the container exposes; informational, any "
                            "listening port is reachable.", keys=("containerPort", "protocol")),
        "envFrom": atomic_list(env_from_source(), "Sources of environment variables; `env` wins "
                               "on conflicts."),
        "env": keyed_list(env_var(), "Environment variables of the container."),
        "resources": doc(resource_requirements(), "Compute resources of the container."),
        "resizePolicy": atomic_list(named(f"{CORE}.ContainerResizePolicy", obj(
            "How a resource of the container is resized.", {
                "resourceName": string("The resource, cpu or memory."),
                "restartPolicy": string("NotRequired or RestartContainer."),
            }, required=("resourceName", "restartPolicy"))), "How resources are resized in place."),
        "restartPolicy": string("For init containers only: Always makes a sidecar that keeps "
                                "running beside the main containers."),
        "volumeMounts": keyed_list(volume_mount(), "Volumes to mount into the container.",
                                   keys=("mountPath",)),
        "volumeDevices": keyed_list(named(f"{CORE}.VolumeDevice", obj("A raw block device.", {
            "name": string("Name of a persistentVolumeClaim volume of the pod."),
            "devicePath": string("Path of the device inside the container."),
        }, required=("name", "devicePath"))), "Block devices the container uses.",
            keys=("devicePath",)),
        "livenessProbe": doc(probe(), "Check that the container is alive; failing it restarts "
                             "the container."),
        "readinessProbe": doc(probe(), "Check that the container can take traffic; failing it "
                              "removes the pod from Service endpoints."),
        "startupProbe": doc(probe(), "Check that the container has started; other probes wait "
                            "for it to pass."),
        "lifecycle": named(f"{CORE}.Lifecycle", obj("Actions run when the container starts or "
                                                    "stops.", {
            "postStart": doc(lifecycle_handler(), "Run right after the container is created."),
            "preStop": doc(lifecycle_handler(), "Run before the container is stopped."),
        })),
        "terminationMessagePath": string("File whose content becomes the termination message."),
        "terminationMessagePolicy": string("File, or FallbackToLogsOnError to use the log tail "
                                           "when the file is empty.",
                                           enum=("FallbackToLogsOnError", "File")),
        "imagePullPolicy": string("When to pull the image: Always, Never or IfNotPresent.",
                                  enum=("Always", "IfNotPresent", "Never")),
        "securityContext": doc(security_context(), "Security settings of the container."),
        "stdin": boolean("Keep a stdin buffer open for the container."),
        "stdinOnce": boolean("Close stdin after the first attach disconnects."),
        "tty": boolean("Allocate a TTY; needs stdin."),
    }, required=("name",)))


# --- volumes -------------------------------------------------------------------------------


def key_to_path() -> Schema:
    return named(f"{CORE}.KeyToPath", obj("Puts one key into a file.", {
        "key": string("The key to project."),
        "path": string("Relative path of the file."),
        "mode": int32("Permission bits of the file."),
    }, required=("key", "path")))


def downward_api_file() -> Schema:
    return named(f"{CORE}.DownwardAPIVolumeFile", obj("A file holding a field of the pod.", {
        "path": string("Relative path of the file."),
        "fieldRef": doc(object_field_selector(), "A field of the pod."),
        "resourceFieldRef": doc(resource_field_selector(), "A resource request or limit."),
        "mode": int32("Permission bits of the file."),
    }, required=("path",)))


def secret_source() -> Schema:
    return named(f"{CORE}.SecretVolumeSource", obj("A Secret's keys as files.", {
        "secretName": string("Name of the Secret."),
        "items": atomic_list(key_to_path(), "Keys to project; all of them by default."),
        "defaultMode": int32("Permission bits of the files; 0644 by default."),
        "optional": boolean("Whether a missing Secret is acceptable."),
    }))


def config_map_source() -> Schema:
    return named(f"{CORE}.ConfigMapVolumeSource", obj("A ConfigMap's keys as files.", {
        "name": string("Name of the ConfigMap."),
        "items": atomic_list(key_to_path(), "Keys to project; all of them by default."),
        "defaultMode": int32("Permission bits of the files; 0644 by default."),
        "optional": boolean("Whether a missing ConfigMap is acceptable."),
    }))


def volume_projection() -> Schema:
    def projection(type_name: str, what: str) -> Schema:
        return named(f"{CORE}.{type_name}", obj(f"Keys of a {what} to project.", {
            "name": string(f"Name of the {what}."),
            "items": atomic_list(key_to_path(), "Keys to project; all of them by default."),
            "optional": boolean(f"Whether a missing {what} is acceptable."),
        }))

    return named(f"{CORE}.VolumeProjection", obj("One source of a projected volume.", {
        "secret": projection("SecretProjection", "Secret"),
        "configMap": projection("ConfigMapProjection", "ConfigMap"),
        "downwardAPI": named(f"{CORE}.DownwardAPIProjection", obj("Fields of the pod.", {
            "items": atomic_list(downward_api_file(), "The files to write."),
        })),
        "serviceAccountToken": named(f"{CORE}.ServiceAccountTokenProjection", obj(
            "A token of the pod's service account.", {
                "audience": string("Intended audience of the token."),
                "expirationSeconds": int64("Requested lifetime of the token."),
                "path": string("Relative path of the token file."),
            }, required=("path",))),
        "clusterTrustBundle": named(f"{CORE}.ClusterTrustBundleProjection", obj(
            "Certificates of ClusterTrustBundle objects.", {
                "name": string("Name of one ClusterTrustBundle."),
                "signerName": string("Select bundles of this signer."),
                "labelSelector": doc(label_selector(), "Select bundles by label."),
                "optional": boolean("Whether missing bundles are acceptable."),
                "path": string("Relative path of the file."),
            }, required=("path",))),
    }))


def volume() -> Schema:
    return named(f"{CORE}.Volume", obj("A named volume the pod's containers can mount; exactly "
                                       "one source is set.", {
        "name": string("Name of the volume, a DNS label unique in the pod."),
        "hostPath": named(f"{CORE}.HostPathVolumeSource", obj("A file or directory of the node.", {
            "path": string("Path on the node."),
            "type": string("What must be at the path, for example Directory or FileOrCreate."),
        }, required=("path",))),
        "emptyDir": named(f"{CORE}.EmptyDirVolumeSource", obj("A scratch directory that lives as "
                                                              "long as the pod.", {
            "medium": string("Storage medium: empty for the node's default, or Memory."),
            "sizeLimit": quantity("Most space the directory may use."),
        })),
        "secret": doc(secret_source(), "A Secret's keys as files."),
        "configMap": doc(config_map_source(), "A ConfigMap's keys as files."),
        "persistentVolumeClaim": named(f"{CORE}.PersistentVolumeClaimVolumeSource", obj(
            "A PersistentVolumeClaim in the pod's namespace.", {
                "claimName": string("Name of the claim."),
                "readOnly": boolean("Mount read-only."),
            }, required=("claimName",))),
        "downwardAPI": named(f"{CORE}.DownwardAPIVolumeSource", obj("Fields of the pod as files.", {
            "items": atomic_list(downward_api_file(), "The files to write."),
            "defaultMode": int32("Permission bits of the files; 0644 by default."),
        })),
        "projected": named(f"{CORE}.ProjectedVolumeSource", obj("Several sources in one "
                                                                "directory.", {
            "sources": atomic_list(volume_projection(), "The sources to combine."),
            "defaultMode": int32("Permission bits of the files; 0644 by default."),
        })),
        "nfs": named(f"{CORE}.NFSVolumeSource", obj("An NFS export.", {
            "server": string("Host name or address of the NFS server."),
            "path": string("Path exported by the server."),
            "readOnly": boolean("Mount read-only."),
        }, required=("server", "path"))),
        "csi": named(f"{CORE}.CSIVolumeSource", obj("An ephemeral volume from a CSI driver.", {
            "driver": string("Name of the CSI driver."),
            "readOnly": boolean("Mount read-only."),
            "fsType": string("Filesystem type to mount."),
            "volumeAttributes": string_map("Driver-specific settings."),
            "nodePublishSecretRef": local_object_reference("Secret with credentials for the "
                                                           "driver."),
        }, required=("driver",))),
        "image": named(f"{CORE}.ImageVolumeSource", obj("The content of an OCI image.", {
            "reference": string("The image reference."),
            "pullPolicy": string("When to pull the image: Always, Never or IfNotPresent."),
        })),
    }, required=("name",)))


# --- scheduling ----------------------------------------------------------------------------


def node_selector_term() -> Schema:
    requirement = named(f"{CORE}.NodeSelectorRequirement", obj(
        "A test on one node label or field.", {
            "key": string("The label key or field name."),
            "operator": string("In, NotIn, Exists, DoesNotExist, Gt or Lt.",
                               enum=("DoesNotExist", "Exists", "Gt", "In", "Lt", "NotIn")),
            "values": strings("Values to compare with."),
        }, required=("key", "operator")))
    return named(f"{CORE}.NodeSelectorTerm", obj("Tests that must all hold for a node.", {
        "matchExpressions": atomic_list(requirement, "Tests on node labels."),
        "matchFields": atomic_list(requirement, "Tests on node fields."),
    }, map_type=MapType.ATOMIC))


def pod_affinity_term() -> Schema:
    return named(f"{CORE}.PodAffinityTerm", obj("A set of pods, and the topology domain to be "
                                                "in (or out of) together with them.", {
        "labelSelector": doc(label_selector(), "Pods to consider."),
        "namespaces": strings("Namespaces of the pods to consider; the pod's own by default."),
        "topologyKey": string("Node label whose value defines the domain, for example "
                              "topology.kubernetes.io/zone."),
        "namespaceSelector": doc(label_selector(), "Namespaces of the pods to consider, by label."),
        "matchLabelKeys": strings("Label keys whose values, taken from the incoming pod, are added "
                                  "to labelSelector as In tests."),
        "mismatchLabelKeys": strings("Label keys whose values, taken from the incoming pod, are "
                                     "added to labelSelector as NotIn tests."),
    }, required=("topologyKey",)))


def weighted_pod_affinity_term() -> Schema:
    return named(f"{CORE}.WeightedPodAffinityTerm", obj("A preferred pod affinity term.", {
        "weight": int32("Weight of the preference, 1 to 100.", minimum=1, maximum=100),
        "podAffinityTerm": doc(pod_affinity_term(), "The term."),
    }, required=("weight", "podAffinityTerm")))


def pod_affinity(type_name: str, what: str) -> Schema:
    return named(f"{CORE}.{type_name}", obj(f"Rules placing the pod {what} other pods.", {
        "requiredDuringSchedulingIgnoredDuringExecution": atomic_list(
            pod_affinity_term(), "Terms that must all hold when scheduling."),
        "preferredDuringSchedulingIgnoredDuringExecution": atomic_list(
            weighted_pod_affinity_term(), "Terms the scheduler tries to satisfy."),
    }))


def affinity() -> Schema:
    return named(f"{CORE}.Affinity", obj("Scheduling constraints of the pod.", {
        "nodeAffinity": named(f"{CORE}.NodeAffinity", obj("Rules placing the pod on nodes.", {
            "requiredDuringSchedulingIgnoredDuringExecution": named(
                f"{CORE}.NodeSelector", obj("Node tests; at least one term must hold.", {
                    "nodeSelectorTerms": atomic_list(node_selector_term(), "The terms, ORed."),
                }, required=("nodeSelectorTerms",), map_type=MapType.ATOMIC)),
            "preferredDuringSchedulingIgnoredDuringExecution": atomic_list(named(
                f"{CORE}.PreferredSchedulingTerm", obj("A weighted node preference.", {
                    "weight": int32("Weight of the preference, 1 to 100.", minimum=1, maximum=100),
                    "preference": doc(node_selector_term(), "The node tests."),
                }, required=("weight", "preference"))), "Preferences the scheduler tries to "
                                                        "satisfy."),
        })),
        "podAffinity": pod_affinity("PodAffinity", "near"),
        "podAntiAffinity": pod_affinity("PodAntiAffinity", "away from"),
    }))


def toleration() -> Schema:
    return named(f"{CORE}.Toleration", obj("Lets the pod run on nodes with a matching taint.", {
        "key": string("Taint key to match; empty with Exists matches every taint."),
        "operator": string("Equal (default) or Exists.", enum=("Equal", "Exists")),
        "value": string("Taint value to match."),
        "effect": string("Taint effect to match; empty matches every effect.",
                         enum=("NoExecute", "NoSchedule", "PreferNoSchedule")),
        "tolerationSeconds": int64("For NoExecute: how long the pod stays after the taint appears."),
    }))


def topology_spread_constraint() -> Schema:
    return named(f"{CORE}.TopologySpreadConstraint", obj("How evenly pods must spread over a "
                                                         "topology.", {
        "maxSkew": int32("Largest allowed difference in matching pods between two domains."),
        "topologyKey": string("Node label whose value defines the domain."),
        "whenUnsatisfiable": string("DoNotSchedule or ScheduleAnyway.",
                                    enum=("DoNotSchedule", "ScheduleAnyway")),
        "labelSelector": doc(label_selector(), "Pods counted in each domain."),
        "minDomains": int32("Least number of eligible domains."),
        "nodeAffinityPolicy": string("Honor or Ignore the pod's node affinity when counting."),
        "nodeTaintsPolicy": string("Honor or Ignore node taints when counting."),
        "matchLabelKeys": strings("Label keys whose values, from the incoming pod, narrow the "
                                  "selector."),
    }, required=("maxSkew", "topologyKey", "whenUnsatisfiable")))


def pod_security_context() -> Schema:
    return named(f"{CORE}.PodSecurityContext", obj("Security settings for every container of "
                                                   "the pod.", {
        "seLinuxOptions": doc(se_linux_options(), "SELinux labels of the containers."),
        "windowsOptions": doc(windows_options(), "Windows-specific settings."),
        "runAsUser": int64("UID to run entrypoints as."),
        "runAsGroup": int64("GID to run entrypoints as."),
        "runAsNonRoot": boolean("Refuse to start containers as UID 0."),
        "supplementalGroups": array_of_int64("Extra groups for the first process of each "
                                             "container."),
        "supplementalGroupsPolicy": string("Merge (default) or Strict."),
        "fsGroup": int64("Group that owns the pod's volumes."),
        "sysctls": atomic_list(named(f"{CORE}.Sysctl", obj("A kernel parameter.", {
            "name": string("Name of the parameter."),
            "value": string("Value of the parameter."),
        }, required=("name", "value"))), "Namespaced kernel parameters to set."),
        "fsGroupChangePolicy": string("OnRootMismatch or Always."),
        "seccompProfile": doc(seccomp_profile(), "The seccomp profile of the containers."),
        "appArmorProfile": doc(app_armor_profile(), "The AppArmor profile of the containers."),
        "seLinuxChangePolicy": string("How SELinux labels are applied to volumes: Recursive or "
                                      "MountOption."),
    }))


def array_of_int64(description: str) -> Schema:
    return atomic_list({"type": "integer", "format": "int64"}, description)


# --- the pod -------------------------------------------------------------------------------


def pod_spec() -> Schema:
    return named(f"{CORE}.PodSpec", obj("What the pod should run and how.", {
        "volumes": keyed_list(volume(), "Volumes the containers can mount.",
                              patch_strategy=PatchStrategy.MERGE_RETAIN_KEYS),
        "initContainers": keyed_list(container(), "Containers run one by one, each to "
                                     "completion, before the main ones start."),
        "containers": keyed_list(container(), "The containers of the pod; at least one."),
        "ephemeralContainers": keyed_list(named(f"{CORE}.EphemeralContainer", obj(
            "A temporary debugging container added to a running pod.", {
                "name": string("Name of the container."),
                "image": string("Container image to run."),
                "command": strings("Entrypoint of the container."),
                "args": strings("Arguments to the entrypoint."),
                "targetContainerName": string("Container whose namespaces to share."),
                "stdin": boolean("Keep stdin open."),
                "tty": boolean("Allocate a TTY."),
            }, required=("name",))), "Debugging containers added to the running pod."),
        "restartPolicy": string("When containers are restarted: Always (default), OnFailure or "
                                "Never.", enum=("Always", "Never", "OnFailure")),
        "terminationGracePeriodSeconds": int64("Seconds between the stop signal and the kill; "
                                               "30 by default."),
        "activeDeadlineSeconds": int64("Seconds the pod may be active before it is failed."),
        "dnsPolicy": string("How the pod's DNS is set up: ClusterFirst (default), "
                            "ClusterFirstWithHostNet, Default or None.",
                            enum=("ClusterFirst", "ClusterFirstWithHostNet", "Default", "None")),
        "nodeSelector": string_map("Node labels a node must have to run the pod.",
                                   map_type=MapType.ATOMIC),
        "serviceAccountName": string("Service account the pod runs as."),
        "serviceAccount": string("Deprecated alias of serviceAccountName."),
        "automountServiceAccountToken": boolean("Whether a service account token is mounted."),
        "nodeName": string("The node the pod is bound to; set by the scheduler."),
        "hostNetwork": boolean("Use the node's network namespace."),
        "hostPID": boolean("Use the node's process namespace."),
        "hostIPC": boolean("Use the node's IPC namespace."),
        "shareProcessNamespace": boolean("Share one process namespace among the containers."),
        "securityContext": doc(pod_security_context(), "Security settings of the pod."),
        "imagePullSecrets": keyed_list(local_object_reference("A Secret with registry "
                                                              "credentials."),
                                       "Secrets used to pull the images."),
        "hostname": string("Hostname of the pod; the pod name by default."),
        "subdomain": string("Subdomain of the pod, giving it the name "
                            "<hostname>.<subdomain>.<namespace>.svc.<cluster domain>."),
        "affinity": doc(affinity(), "Scheduling constraints."),
        "schedulerName": string("Scheduler that places the pod."),
        "tolerations": atomic_list(toleration(), "Taints the pod tolerates."),
        "hostAliases": keyed_list(named(f"{CORE}.HostAlias", obj("Extra /etc/hosts entries for "
                                                                 "one address.", {
            "ip": string("The address."),
            "hostnames": strings("Names for the address."),
        }, required=("ip",))), "Extra /etc/hosts entries.", keys=("ip",)),
        "priorityClassName": string("Priority class of the pod."),
        "priority": int32("Priority of the pod, filled in from the priority class."),
        "dnsConfig": named(f"{CORE}.PodDNSConfig", obj("DNS settings merged into the generated "
                                                       "resolv.conf.", {
            "nameservers": strings("DNS server addresses."),
            "searches": strings("Search domains."),
            "options": atomic_list(named(f"{CORE}.PodDNSConfigOption", obj("A resolver option.", {
                "name": string("Option name."),
                "value": string("Option value."),
            })), "Resolver options."),
        })),
        "readinessGates": atomic_list(named(f"{CORE}.PodReadinessGate", obj(
            "An extra condition the pod needs to be ready.", {
                "conditionType": string("Type of a pod condition."),
            }, required=("conditionType",))), "Extra conditions for readiness."),
        "runtimeClassName": string("RuntimeClass to run the pod with."),
        "enableServiceLinks": boolean("Inject Service environment variables; true by default."),
        "preemptionPolicy": string("Never or PreemptLowerPriority."),
        "overhead": map_of(quantity("An amount of the resource."),
                           "Resources the pod's sandbox uses on top of the containers."),
        "topologySpreadConstraints": keyed_list(
            topology_spread_constraint(), "How the pod's replicas spread over topology domains.",
            keys=("topologyKey", "whenUnsatisfiable")),
        "setHostnameAsFQDN": boolean("Use the fully qualified name as the hostname."),
        "os": named(f"{CORE}.PodOS", obj("Operating system of the pod.", {
            "name": string("linux or windows."),
        }, required=("name",))),
        "hostUsers": boolean("Use the node's user namespace; true by default."),
        "schedulingGates": keyed_list(named(f"{CORE}.PodSchedulingGate", obj(
            "A gate that keeps the pod from being scheduled.", {
                "name": string("Name of the gate."),
            }, required=("name",))), "Gates that hold the pod back from scheduling."),
        "resourceClaims": keyed_list(named(f"{CORE}.PodResourceClaim", obj(
            "A dynamically allocated resource the pod needs.", {
                "name": string("Name of the claim within the pod."),
                "resourceClaimName": string("An existing ResourceClaim."),
                "resourceClaimTemplateName": string("A ResourceClaimTemplate to create one from."),
            }, required=("name",))), "Dynamically allocated resources of the pod.",
            patch_strategy=PatchStrategy.MERGE_RETAIN_KEYS),
        "resources": doc(resource_requirements(), "Resources of the pod as a whole."),
    }, required=("containers",)))


def container_state() -> Schema:
    return named(f"{CORE}.ContainerState", obj("State of a container; one member is set.", {
        "waiting": named(f"{CORE}.ContainerStateWaiting", obj("Not running yet.", {
            "reason": string("Why the container is waiting."),
            "message": string("Details."),
        })),
        "running": named(f"{CORE}.ContainerStateRunning", obj("Running.", {
            "startedAt": date_time("When the container (last) started."),
        })),
        "terminated": named(f"{CORE}.ContainerStateTerminated", obj("Finished.", {
            "exitCode": int32("Exit status of the last run."),
            "signal": int32("Signal that stopped the container."),
            "reason": string("Why the container stopped."),
            "message": string("Details."),
            "startedAt": date_time("When the last run started."),
            "finishedAt": date_time("When the last run ended."),
            "containerID": string("Runtime identity of the container."),
        }, required=("exitCode",))),
    }))


def container_status() -> Schema:
    return named(f"{CORE}.ContainerStatus", obj("The observed state of one container.", {
        "name": string("Name of the container."),
        "state": doc(container_state(), "Current state."),
        "lastState": doc(container_state(), "State of the previous run."),
        "ready": boolean("Whether the container passes its readiness probe."),
        "restartCount": int32("How many times the container restarted."),
        "image": string("The image the container runs."),
        "imageID": string("Digest of the image."),
        "containerID": string("Runtime identity of the container."),
        "started": boolean("Whether the container passed its startup probe."),
        "allocatedResources": map_of(quantity("An amount of the resource."),
                                     "Resources allocated to the container."),
        "resources": doc(resource_requirements(), "Resources the runtime applied."),
    }, required=("name", "ready", "restartCount", "image", "imageID")))


def pod_condition() -> Schema:
    return named(f"{CORE}.PodCondition", obj("One observation of the pod's state.", {
        "type": string("Kind of observation: PodScheduled, Initialized, ContainersReady, Ready, "
                       "..."),
        "status": string("Whether the observation holds: True, False or Unknown."),
        "lastProbeTime": date_time("When the condition was last checked."),
        "lastTransitionTime": date_time("When the status last changed."),
        "reason": string("CamelCase cause of the last change."),
        "message": string("Human-readable details of the last change."),
    }, required=("type", "status")))


def pod_ip(type_name: str) -> Schema:
    return named(f"{CORE}.{type_name}", obj("One address.", {
        "ip": string("The IP address."),
    }, required=("ip",)))


def pod_status() -> Schema:
    return named(f"{CORE}.PodStatus", obj("The observed state of the pod.", {
        "phase": string("Where the pod is in its life.",
                        enum=("Failed", "Pending", "Running", "Succeeded", "Unknown")),
        "conditions": keyed_list(pod_condition(), "Current observations of the pod's state.",
                                 keys=("type",)),
        "message": string("Human-readable reason for the current phase."),
        "reason": string("CamelCase reason for the current phase, for example Evicted."),
        "nominatedNodeName": string("Node the pod may run on after a preemption."),
        "hostIP": string("Primary address of the node running the pod."),
        "hostIPs": array(pod_ip("HostIP"), "Addresses of the node running the pod.",
                         list_type=ListType.ATOMIC, merge_key="ip",
                         patch_strategy=PatchStrategy.MERGE),
        "podIP": string("Primary address of the pod."),
        "podIPs": keyed_list(pod_ip("PodIP"), "Addresses of the pod, one per IP family.",
                             keys=("ip",)),
        "startTime": date_time("When the kubelet accepted the pod."),
        "initContainerStatuses": atomic_list(container_status(), "States of init containers."),
        "containerStatuses": atomic_list(container_status(), "States of the containers."),
        "qosClass": string("Quality of service class: Guaranteed, Burstable or BestEffort.",
                           enum=("BestEffort", "Burstable", "Guaranteed")),
        "ephemeralContainerStatuses": atomic_list(container_status(),
                                                  "States of the ephemeral containers."),
        "resize": string("State of an in-place resize."),
    }))


def pod_template_spec(description: str) -> Schema:
    return doc(named(f"{CORE}.PodTemplateSpec", obj("A template of pods to create.", {
        "metadata": doc(object_meta(), "Metadata of the pods created from the template."),
        "spec": doc(pod_spec(), "Spec of the pods created from the template."),
    })), description)


POD_SCHEMA = kind_schema(
    "", "v1", "Pod",
    "A pod: a group of containers scheduled together on one node, sharing network and volumes.",
    spec=doc(pod_spec(), "What the pod should run and how."),
    status=doc(pod_status(), "The observed state of the pod."),
)
