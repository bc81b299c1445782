"""Pod status as a kubelet reports it: Pending -> Running -> Ready (pure).

Nothing runs: the simulated kubelet only writes the status a real one would once the containers
started and passed their readiness probes.
"""

from __future__ import annotations

import hashlib
from typing import Any

from kfed.model.resource import Obj

#: condition types in the order a kubelet lists them
_CONDITIONS = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")


def _image_id(image: str) -> str:
    repo = image.split("@")[0].rsplit(":", 1)[0] if ":" in image.split("/")[-1] else image.split("@")[0]
    if "/" not in repo:
        repo = f"docker.io/library/{repo}"
    elif "." not in repo.split("/")[0]:
        repo = f"docker.io/{repo}"
    return f"{repo}@sha256:{hashlib.sha256(image.encode()).hexdigest()}"


def _container_id(uid: str, name: str) -> str:
    return "containerd://" + hashlib.sha256(f"{uid}/{name}".encode()).hexdigest()


def _conditions(old: list[Any], ready: bool, unready_message: str, now: str) -> list[Obj]:
    by_type = {c.get("type"): c for c in old if isinstance(c, dict)}
    out = []
    for t in _CONDITIONS:
        ok = ready if t in ("Ready", "ContainersReady") else True
        status = "True" if ok else "False"
        prev = by_type.get(t)
        same = prev is not None and prev.get("status") == status
        cond: Obj = {"type": t, "status": status,
                     "lastTransitionTime": prev.get("lastTransitionTime", now) if same and prev else now}
        if not ok:
            cond["reason"] = "ContainersNotReady"
            cond["message"] = unready_message
        out.append(cond)
    return out


def running_status(pod: Obj, *, pod_ip: str, host_ip: str, ready: bool, now: str) -> Obj:
    """The status of a pod whose containers all run; ready or not (readiness probes)."""
    meta, spec = pod["metadata"], pod.get("spec") or {}
    old = pod.get("status") or {}
    started = old.get("startTime") or now
    containers = [c for c in spec.get("containers") or [] if isinstance(c, dict)]
    statuses = []
    for c in containers:
        prev = next((s for s in old.get("containerStatuses") or [] if s.get("name") == c.get("name")), None)
        started_at = ((prev or {}).get("state") or {}).get("running", {}).get("startedAt") or now
        statuses.append({
            "name": c.get("name", ""), "state": {"running": {"startedAt": started_at}}, "lastState": {},
            "ready": ready, "restartCount": 0, "image": c.get("image", ""), "imageID": _image_id(str(c.get("image", ""))),
            "containerID": _container_id(meta.get("uid", ""), str(c.get("name", ""))), "started": True,
        })
    names = " ".join(str(c.get("name", "")) for c in containers)
    conditions = _conditions(old.get("conditions") or [], ready, f"containers with unready status: [{names}]", now)
    status: Obj = {
        "phase": "Running", "conditions": conditions, "hostIP": host_ip, "hostIPs": [{"ip": host_ip}],
        "podIP": pod_ip, "podIPs": [{"ip": pod_ip}], "startTime": started, "containerStatuses": statuses,
    }
    if old.get("qosClass"):
        status["qosClass"] = old["qosClass"]
    return status


def is_ready(pod: Obj) -> bool:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if isinstance(c, dict) and c.get("type") == "Ready":
            return c.get("status") == "True"
    return False
