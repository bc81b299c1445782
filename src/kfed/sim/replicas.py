"""Deployments -> ReplicaSets -> Pods: the planning part (pure).

A simplified kube-controller-manager: a Deployment owns one ReplicaSet per pod template (named
`<deployment>-<pod-template-hash>`); the current one is scaled to spec.replicas, older ones to
zero once the current one is fully available, and the oldest idle ones are deleted beyond
revisionHistoryLimit. A ReplicaSet creates or deletes pods to match spec.replicas.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass, field

import orjson

from kfed.model.resource import Obj
from kfed.sim.views import PodView

TEMPLATE_HASH_LABEL = "pod-template-hash"
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
DESIRED_REPLICAS_ANNOTATION = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS_ANNOTATION = "deployment.kubernetes.io/max-replicas"
_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def template_hash(template: Obj) -> str:
    """A short, stable name for a pod template (kube's pod-template-hash, computed differently)."""
    digest = hashlib.sha256(orjson.dumps(template, option=orjson.OPT_SORT_KEYS)).digest()
    n = int.from_bytes(digest[:8], "big")
    out = []
    for _ in range(10):
        n, r = divmod(n, len(_SAFE_ALPHABET))
        out.append(_SAFE_ALPHABET[r])
    return "".join(out)


def owner_reference(obj: Obj) -> Obj:
    meta = obj["metadata"]
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": meta["name"], "uid": meta["uid"],
            "controller": True, "blockOwnerDeletion": True}


def desired_replicas(obj: Obj) -> int:
    value = (obj.get("spec") or {}).get("replicas")
    return 1 if value is None else max(0, int(value))


def revision_of(obj: Obj) -> int:
    try:
        return int(((obj.get("metadata") or {}).get("annotations") or {}).get(REVISION_ANNOTATION, "0"))
    except ValueError:
        return 0


def _controlled_by(obj: Obj, uid: str) -> bool:
    return any(r.get("uid") == uid and r.get("controller") for r in obj["metadata"].get("ownerReferences") or [])


def new_replica_set(deployment: Obj, pod_hash: str, revision: int) -> Obj:
    meta, spec = deployment["metadata"], deployment.get("spec") or {}
    template = copy.deepcopy(spec.get("template") or {})
    tmeta = template.setdefault("metadata", {})
    tmeta.setdefault("labels", {})[TEMPLATE_HASH_LABEL] = pod_hash
    selector = copy.deepcopy(spec.get("selector") or {})
    selector.setdefault("matchLabels", {})[TEMPLATE_HASH_LABEL] = pod_hash
    replicas = desired_replicas(deployment)
    rs_spec: Obj = {"replicas": replicas, "selector": selector, "template": template}
    if spec.get("minReadySeconds"):
        rs_spec["minReadySeconds"] = spec["minReadySeconds"]
    return {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {
            "name": f"{meta['name']}-{pod_hash}", "namespace": meta.get("namespace", "default"),
            "labels": dict(tmeta["labels"]),
            "annotations": {REVISION_ANNOTATION: str(revision), DESIRED_REPLICAS_ANNOTATION: str(replicas),
                            MAX_REPLICAS_ANNOTATION: str(replicas)},
            "ownerReferences": [owner_reference(deployment)],
        },
        "spec": rs_spec,
    }


@dataclass
class DeploymentPlan:
    create: Obj | None = None  # a new ReplicaSet
    scale: dict[str, int] = field(default_factory=dict)  # ReplicaSet name -> replicas
    revision: dict[str, int] = field(default_factory=dict)  # ReplicaSet name -> new revision annotation
    delete: list[str] = field(default_factory=list)  # old ReplicaSets beyond revisionHistoryLimit
    status: Obj = field(default_factory=dict)


def plan_deployment(deployment: Obj, replica_sets: list[Obj], now: str) -> DeploymentPlan:
    """What to do for one Deployment, given the ReplicaSets it controls (with their status)."""
    meta, spec = deployment["metadata"], deployment.get("spec") or {}
    uid = meta.get("uid", "")
    owned = [rs for rs in replica_sets if _controlled_by(rs, uid)]
    template = spec.get("template") or {}
    pod_hash = template_hash(template)
    want = desired_replicas(deployment)
    plan = DeploymentPlan()
    current = next((rs for rs in owned if
                    ((rs["metadata"].get("labels") or {}).get(TEMPLATE_HASH_LABEL) == pod_hash)), None)
    max_revision = max((revision_of(rs) for rs in owned), default=0)
    old = [rs for rs in owned if rs is not current]
    if current is None:
        plan.create = new_replica_set(deployment, pod_hash, max_revision + 1)
    else:
        if desired_replicas(current) != want:
            plan.scale[current["metadata"]["name"]] = want
        if old and revision_of(current) < max_revision:
            plan.revision[current["metadata"]["name"]] = max_revision + 1  # rolled back to this template
    current_available = _status_int(current, "availableReplicas") if current is not None else 0
    current_done = current is not None and desired_replicas(current) == want and current_available >= want
    paused = bool(spec.get("paused"))
    if not paused and (current_done or spec.get("strategy", {}).get("type") == "Recreate"):
        for rs in old:
            if desired_replicas(rs) != 0:
                plan.scale[rs["metadata"]["name"]] = 0
    history = spec.get("revisionHistoryLimit")
    limit = 10 if history is None else int(history)
    idle = sorted((rs for rs in old if desired_replicas(rs) == 0 and _status_int(rs, "replicas") == 0),
                  key=revision_of)
    if len(idle) > limit:
        plan.delete = [rs["metadata"]["name"] for rs in idle[:len(idle) - limit]]
    plan.status = deployment_status(deployment, owned, current, want, now)
    return plan


def _status_int(obj: Obj | None, key: str) -> int:
    if obj is None:
        return 0
    value = (obj.get("status") or {}).get(key)
    return int(value) if isinstance(value, int) else 0


def deployment_status(deployment: Obj, owned: list[Obj], current: Obj | None, want: int, now: str) -> Obj:
    replicas = sum(_status_int(rs, "replicas") for rs in owned)
    ready = sum(_status_int(rs, "readyReplicas") for rs in owned)
    available = sum(_status_int(rs, "availableReplicas") for rs in owned)
    updated = _status_int(current, "replicas")
    status: Obj = {"observedGeneration": int(deployment["metadata"].get("generation") or 1)}
    if replicas:
        status["replicas"] = replicas
    if updated:
        status["updatedReplicas"] = updated
    if ready:
        status["readyReplicas"] = ready
    if available:
        status["availableReplicas"] = available
    unavailable = max(0, want - available)
    if unavailable:
        status["unavailableReplicas"] = unavailable
    old_conditions = {c.get("type"): c for c in (deployment.get("status") or {}).get("conditions") or []}
    max_unavailable = _max_unavailable(deployment, want)
    is_available = available >= want - max_unavailable
    complete = current is not None and updated == want and replicas == want and available >= want
    conditions = [
        _condition(old_conditions.get("Available"), "Available", is_available,
                   "MinimumReplicasAvailable" if is_available else "MinimumReplicasUnavailable",
                   "Deployment has minimum availability." if is_available else
                   "Deployment does not have minimum availability.", now),
        _condition(old_conditions.get("Progressing"), "Progressing", True,
                   "NewReplicaSetAvailable" if complete else "ReplicaSetUpdated",
                   (f'ReplicaSet "{current["metadata"]["name"]}" has successfully progressed.' if complete else
                    f'ReplicaSet "{current["metadata"]["name"]}" is progressing.') if current is not None else
                   "Deployment is progressing.", now),
    ]
    status["conditions"] = conditions
    return status


def _max_unavailable(deployment: Obj, want: int) -> int:
    strategy = (deployment.get("spec") or {}).get("strategy") or {}
    if strategy.get("type") == "Recreate":
        return 0
    value = (strategy.get("rollingUpdate") or {}).get("maxUnavailable", "25%")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.endswith("%") and value[:-1].isdigit():
        return want * int(value[:-1]) // 100
    return 0


def _condition(old: Obj | None, cond_type: str, ok: bool, reason: str, message: str, now: str) -> Obj:
    status = "True" if ok else "False"
    transition = old.get("lastTransitionTime", now) if old and old.get("status") == status else now
    update = old.get("lastUpdateTime", now) if old and old.get("status") == status and \
        old.get("reason") == reason else now
    return {"type": cond_type, "status": status, "lastUpdateTime": update, "lastTransitionTime": transition,
            "reason": reason, "message": message}


# -- ReplicaSet -> Pods ------------------------------------------------------------------------


def pod_from_template(rs: Obj) -> Obj:
    meta, spec = rs["metadata"], rs.get("spec") or {}
    template = copy.deepcopy(spec.get("template") or {})
    tmeta = template.get("metadata") or {}
    pod_meta: Obj = {"generateName": f"{meta['name']}-", "namespace": meta.get("namespace", "default"),
                     "labels": dict(tmeta.get("labels") or {}), "ownerReferences": [owner_reference(rs)]}
    if tmeta.get("annotations"):
        pod_meta["annotations"] = dict(tmeta["annotations"])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": template.get("spec") or {}}


def pods_to_delete(pods: list[PodView], count: int) -> list[PodView]:
    """Which pods a ReplicaSet removes first: unscheduled, then pending, then not ready, then newest."""
    def rank(p: PodView) -> tuple[int, int, int, str]:
        return (0 if not p.node else 1, 0 if p.phase == "Pending" else 1, 1 if p.ready else 0,
                _negated(p.created))

    return sorted(pods, key=rank)[:count]


def _negated(timestamp: str) -> str:
    # Newest first within a rank: invert each character of the RFC 3339 timestamp.
    return "".join(chr(0x7F - ord(c)) for c in timestamp)


def replica_set_status(rs: Obj, pods: list[PodView]) -> Obj:
    active = [p for p in pods if p.active]
    ready = sum(1 for p in active if p.ready)
    template_labels = ((rs.get("spec") or {}).get("template") or {}).get("metadata", {}).get("labels") or {}
    fully = sum(1 for p in active if all(dict(p.labels).get(k) == v for k, v in template_labels.items()))
    status: Obj = {"replicas": len(active), "observedGeneration": int(rs["metadata"].get("generation") or 1)}
    if fully:
        status["fullyLabeledReplicas"] = fully
    if ready:
        status["readyReplicas"] = ready
        status["availableReplicas"] = ready
    return status


@dataclass
class Expectations:
    """Creations and deletions a controller made and has not yet seen in its watch (client-go's
    ControllerExpectations): until they are seen, its view of the pods is too old to act on."""

    timeout: float = 10.0
    _pending: dict[str, tuple[int, int, float]] = field(default_factory=dict)

    def expect(self, uid: str, adds: int, deletes: int, now: float) -> None:
        a, d, _ = self._pending.get(uid, (0, 0, now))
        self._pending[uid] = (a + adds, d + deletes, now)

    def observed_add(self, uid: str) -> bool:
        """Returns True when this observation fulfilled the last expectation."""
        return self._observe(uid, 1, 0)

    def observed_delete(self, uid: str) -> bool:
        return self._observe(uid, 0, 1)

    def _observe(self, uid: str, adds: int, deletes: int) -> bool:
        entry = self._pending.get(uid)
        if entry is None:
            return False
        a, d, t = entry
        a, d = max(0, a - adds), max(0, d - deletes)
        if a == 0 and d == 0:
            del self._pending[uid]
            return True
        self._pending[uid] = (a, d, t)
        return False

    def satisfied(self, uid: str, now: float) -> bool:
        entry = self._pending.get(uid)
        if entry is None:
            return True
        if now - entry[2] > self.timeout:
            del self._pending[uid]  # something was lost: act on what we see
            return True
        return False

    def forget(self, uid: str) -> None:
        self._pending.pop(uid, None)


def desired_pod_count_change(rs: Obj, pods: list[PodView]) -> int:
    """Positive: pods to create; negative: pods to delete."""
    return desired_replicas(rs) - sum(1 for p in pods if p.active)

