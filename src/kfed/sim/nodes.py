"""The nodes of a simulated cluster: Ready, labelled with their zone and region (pure)."""

from __future__ import annotations

import hashlib
import ipaddress

from kfed.model.resource import Obj
from kfed.sim.layout import ClusterSpec
from kfed.sim.views import (
    HOSTNAME_LABEL,
    LEGACY_REGION_LABEL,
    LEGACY_ZONE_LABEL,
    REGION_LABEL,
    ZONE_LABEL,
)

KUBELET_VERSION = "v1.32.0"
CAPACITY = {"cpu": "4", "memory": "16393216Ki", "pods": "110", "ephemeral-storage": "102400000Ki",
            "hugepages-2Mi": "0"}
ALLOCATABLE = {"cpu": "3920m", "memory": "15242240Ki", "pods": "110", "ephemeral-storage": "94371840Ki",
               "hugepages-2Mi": "0"}


def node_name(zone: str, index: int) -> str:
    return f"{zone}-node-{index}"


def node_objects(cluster: ClusterSpec, node_cidr: ipaddress.IPv4Network, per_zone: int,
                 now: str) -> list[tuple[Obj, Obj]]:
    """(object to create, its status) for each node: `per_zone` nodes in every zone of the cluster."""
    hosts = node_cidr.hosts()
    out = []
    for zone in cluster.zones:
        for i in range(per_zone):
            name = node_name(zone, i)
            ip = str(next(hosts))
            labels = {
                "kubernetes.io/arch": "amd64", "kubernetes.io/os": "linux", HOSTNAME_LABEL: name,
                "node.kubernetes.io/instance-type": "sim-standard-4",
                ZONE_LABEL: zone, REGION_LABEL: cluster.region,
                LEGACY_ZONE_LABEL: zone, LEGACY_REGION_LABEL: cluster.region,
            }
            obj: Obj = {"apiVersion": "v1", "kind": "Node",
                        "metadata": {"name": name, "labels": labels},
                        "spec": {"providerID": f"sim://{cluster.name}/{zone}/{name}"}}
            out.append((obj, node_status(ip, name, now)))
    return out


def node_status(ip: str, hostname: str, now: str) -> Obj:
    def cond(t: str, ok: bool, reason: str, message: str) -> Obj:
        return {"type": t, "status": "True" if ok else "False", "lastHeartbeatTime": now,
                "lastTransitionTime": now, "reason": reason, "message": message}

    return {
        "capacity": dict(CAPACITY), "allocatable": dict(ALLOCATABLE),
        "conditions": [
            cond("MemoryPressure", False, "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
            cond("DiskPressure", False, "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            cond("PIDPressure", False, "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
            cond("Ready", True, "KubeletReady", "kubelet is posting ready status"),
        ],
        "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": hostname}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        "nodeInfo": {
            "machineID": _fake_id("machine", hostname), "systemUUID": _fake_id("system", hostname),
            "bootID": _fake_id("boot", hostname), "kernelVersion": "6.1.0-kfed-sim",
            "osImage": "kfed simulated node", "containerRuntimeVersion": "containerd://1.7.0",
            "kubeletVersion": KUBELET_VERSION, "kubeProxyVersion": KUBELET_VERSION,
            "operatingSystem": "linux", "architecture": "amd64",
        },
    }


def _fake_id(kind: str, hostname: str) -> str:
    return hashlib.sha256(f"{kind}/{hostname}".encode()).hexdigest()[:32]
