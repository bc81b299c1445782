"""core/v1 Pod (served by simulated member clusters)."""

from __future__ import annotations

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
    meta,
    name_of,
    spec,
    status,
)
from kfed.model.strategies.podspec import default_pod_spec, qos_class, validate_pod_spec

UPDATABLE_POD_FIELDS = ("`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
                        "`spec.tolerations` (only additions to existing tolerations),"
                        "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)")


class PodStrategy(KindStrategy):
    status_subresource = True
    tracks_generation = False  # Pods gained metadata.generation only after Kubernetes 1.32

    def default(self, obj: Obj) -> None:
        pod_spec = obj.get("spec")
        if pod_spec is None:
            pod_spec = obj["spec"] = {}
        if not isinstance(pod_spec, dict):
            return
        default_pod_spec(pod_spec)
        if pod_spec.get("enableServiceLinks") is None:
            pod_spec["enableServiceLinks"] = True
        # The ServiceAccount admission plugin's doing in a real cluster.
        if not pod_spec.get("serviceAccountName"):
            pod_spec["serviceAccountName"] = pod_spec.get("serviceAccount") or "default"
        pod_spec.setdefault("serviceAccount", pod_spec["serviceAccountName"])
        for container in as_list(pod_spec.get("containers")):
            # Limits without requests request the limits.
            resources = as_dict(as_dict(container).get("resources"))
            limits = as_dict(resources.get("limits"))
            if limits:
                requests = resources.setdefault("requests", {})
                if isinstance(requests, dict):
                    for name, quantity in limits.items():
                        requests.setdefault(name, quantity)

    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        obj["status"] = {"phase": "Pending", "qosClass": qos_class(spec(obj))}

    def prepare_for_status_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_status_update(new, old)
        # Status updates may not change owner references.
        old_refs = as_dict(old.get("metadata")).get("ownerReferences")
        if old_refs is None:
            meta(new).pop("ownerReferences", None)
        else:
            meta(new)["ownerReferences"] = old_refs  # shared: see KindStrategy (ownership)

    def validate(self, obj: Obj) -> list[FieldCause]:
        return validate_pod_spec(spec(obj), "spec")

    def validate_update(self, new: Obj, old: Obj) -> list[FieldCause]:
        new_spec, old_spec = spec(new), spec(old)
        # Fields a pod update may change: take them from the old spec and compare the rest. munged
        # is only compared, never kept: a shallow copy, with copies of just the containers it
        # changes, gives the same comparison as a deep copy.
        munged = dict(new_spec)
        for key in ("containers", "initContainers"):
            old_list, new_list = as_list(old_spec.get(key)), as_list(munged.get(key))
            if len(old_list) == len(new_list) and new_list:
                new_list = munged[key] = [dict(n) if isinstance(n, dict) else n for n in new_list]
                for o, n in zip(old_list, new_list, strict=True):
                    if isinstance(o, dict) and isinstance(n, dict) and "image" in o:
                        n["image"] = o["image"]
        for key in ("activeDeadlineSeconds", "terminationGracePeriodSeconds"):
            if key in old_spec:
                munged[key] = old_spec[key]
            else:
                munged.pop(key, None)
        old_tolerations = as_list(old_spec.get("tolerations"))
        new_tolerations = as_list(munged.get("tolerations"))
        if all(t in new_tolerations for t in old_tolerations):
            if old_tolerations:
                munged["tolerations"] = old_tolerations
            else:
                munged.pop("tolerations", None)
        # Binding a pod to a node: kube-apiserver does this through pods/binding, which the
        # simulated clusters do not serve, so an unbound pod may get its nodeName by update.
        if not old_spec.get("nodeName"):
            if "nodeName" in old_spec:
                munged["nodeName"] = old_spec["nodeName"]
            else:
                munged.pop("nodeName", None)
        if munged != old_spec:
            return [v.forbidden("spec", f"pod updates may not change fields other than {UPDATABLE_POD_FIELDS}")]
        return []

    def table_columns(self) -> list[TableColumn]:
        return [
            NAME_COLUMN,
            TableColumn("Ready", description="The aggregate readiness state of this pod for accepting traffic."),
            TableColumn("Status", description="The aggregate status of the containers in this pod."),
            TableColumn("Restarts", description="The number of times the containers in this pod have been "
                                                "restarted and when the last container in this pod has restarted."),
            AGE_COLUMN,
            TableColumn("IP", priority=1, description="podIP address allocated to the pod. Routable at least "
                                                      "within the cluster. Empty if not yet allocated."),
            TableColumn("Node", priority=1, description="NodeName indicates in which node this pod is scheduled."),
            TableColumn("Nominated Node", priority=1, description="nominatedNodeName is set only when this pod "
                                                                  "preempts other pods on the node."),
            TableColumn("Readiness Gates", priority=1, description="If specified, all readiness gates will be "
                                                                   "evaluated for pod readiness."),
        ]

    def table_row(self, obj: Obj) -> list[Any]:
        pod_spec, st = spec(obj), status(obj)
        total = len(as_list(pod_spec.get("containers")))
        ready, restarts, reason = _container_summary(obj)
        ips = [as_str(as_dict(p).get("ip")) for p in as_list(st.get("podIPs"))]
        pod_ip = (ips[0] if ips else as_str(st.get("podIP"))) or "<none>"
        gates = as_list(pod_spec.get("readinessGates"))
        gates_cell = "<none>"
        if gates:
            conditions = {as_str(as_dict(c).get("type")): as_dict(c).get("status") for c in as_list(st.get("conditions"))}
            true_count = sum(1 for g in gates if conditions.get(as_str(as_dict(g).get("conditionType"))) == "True")
            gates_cell = f"{true_count}/{len(gates)}"
        return [name_of(obj), f"{ready}/{total}", reason, str(restarts), creation_timestamp(obj), pod_ip,
                as_str(pod_spec.get("nodeName")) or "<none>", as_str(st.get("nominatedNodeName")) or "<none>",
                gates_cell]

    def selectable_fields(self, obj: Obj) -> dict[str, str]:
        pod_spec, st = spec(obj), status(obj)
        ips = [as_str(as_dict(p).get("ip")) for p in as_list(st.get("podIPs"))]
        return {
            "spec.nodeName": as_str(pod_spec.get("nodeName")),
            "spec.restartPolicy": as_str(pod_spec.get("restartPolicy")),
            "spec.schedulerName": as_str(pod_spec.get("schedulerName")),
            "spec.serviceAccountName": as_str(pod_spec.get("serviceAccountName")),
            "spec.hostNetwork": "true" if pod_spec.get("hostNetwork") is True else "false",
            "status.phase": as_str(st.get("phase")),
            "status.podIP": ips[0] if ips else as_str(st.get("podIP")),
            "status.nominatedNodeName": as_str(st.get("nominatedNodeName")),
        }


def _container_summary(obj: Obj) -> tuple[int, int, str]:
    """(ready containers, restarts, STATUS cell) as kubectl's pod printer derives them."""
    st = status(obj)
    reason = as_str(st.get("reason")) or as_str(st.get("phase"))
    ready = restarts = 0
    initializing = False
    init_count = len(as_list(spec(obj).get("initContainers")))
    for i, cs in enumerate(as_list(st.get("initContainerStatuses"))):
        cs = as_dict(cs)
        restarts += as_int(cs.get("restartCount")) or 0
        state = as_dict(cs.get("state"))
        terminated, waiting = as_dict(state.get("terminated")), as_dict(state.get("waiting"))
        if terminated and as_int(terminated.get("exitCode")) == 0:
            continue
        if terminated:
            if terminated.get("reason"):
                reason = "Init:" + as_str(terminated.get("reason"))
            elif as_int(terminated.get("signal")):
                reason = f"Init:Signal:{terminated.get('signal')}"
            else:
                reason = f"Init:ExitCode:{as_int(terminated.get('exitCode')) or 0}"
        elif waiting.get("reason") and waiting.get("reason") != "PodInitializing":
            reason = "Init:" + as_str(waiting.get("reason"))
        else:
            reason = f"Init:{i}/{init_count}"
        initializing = True
        break
    if not initializing:
        restarts = 0
        has_running = False
        for cs in reversed(as_list(st.get("containerStatuses"))):
            cs = as_dict(cs)
            restarts += as_int(cs.get("restartCount")) or 0
            state = as_dict(cs.get("state"))
            waiting, terminated = as_dict(state.get("waiting")), as_dict(state.get("terminated"))
            if waiting.get("reason"):
                reason = as_str(waiting.get("reason"))
            elif terminated.get("reason"):
                reason = as_str(terminated.get("reason"))
            elif terminated:
                signal = as_int(terminated.get("signal"))
                reason = f"Signal:{signal}" if signal else f"ExitCode:{as_int(terminated.get('exitCode')) or 0}"
            elif cs.get("ready") is True and "running" in state:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            pod_ready = any(as_dict(c).get("type") == "Ready" and as_dict(c).get("status") == "True"
                            for c in as_list(st.get("conditions")))
            reason = "Running" if pod_ready else "NotReady"
    deleting = bool(as_dict(obj.get("metadata")).get("deletionTimestamp"))
    if deleting and st.get("reason") == "NodeLost":
        reason = "Unknown"
    elif deleting and st.get("phase") not in ("Succeeded", "Failed"):
        reason = "Terminating"
    return ready, restarts, reason
