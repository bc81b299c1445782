"""The update path hands containers of the old object to the new one instead of copying them.

A /status write takes spec (and, for Pods, ownerReferences; for workloads, labels) from the old
object by reference, an update of the main resource takes status so, and unchanged managedFields
entries keep their FieldsV1 dicts. That is safe because `old` is the write's own decode: these
check that what callers get back stays theirs (changing it changes nothing stored, cached or
watched), and that the results are those of a copying implementation.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kfed.api.objects import ObjectService, WriteOptions
from kfed.api.server import _managed_fields_hook
from kfed.model.registry import MEMBER_RESOURCES
from kfed.model.strategies.pod import PodStrategy
from kfed.storage.cached import CachedStore

Obj = dict[str, Any]


@pytest.fixture
async def objects() -> ObjectService:
    store = CachedStore(history=50)
    await store.start()
    svc = ObjectService(store, list(MEMBER_RESOURCES), managed_fields=_managed_fields_hook)
    await svc.ensure_namespaces(["default"])
    return svc


def _pod(name: str) -> Obj:
    return {"metadata": {"name": name, "labels": {"app": name},
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs",
                                              "uid": "u-1", "controller": True}]},
            "spec": {"containers": [{"name": "c", "image": "nginx:1"}],
                     "tolerations": [{"key": "k", "operator": "Exists"}]}}


async def test_objects_returned_by_status_writes_are_the_callers(objects: ObjectService) -> None:
    pods = objects.require("", "v1", "pods")
    await objects.create(pods, "default", _pod("p"), WriteOptions(field_manager="kubectl"))
    watch = await objects.watch(pods, "default", resource_version=str(objects.store.revision))

    def set_status(obj: Obj) -> None:
        obj["status"] = {"phase": "Running", "podIP": "10.0.0.1"}
        obj["spec"]["containers"][0]["image"] = "ignored"  # /status keeps the old spec
        obj["metadata"]["ownerReferences"] = []  # and the old owner references

    written = await objects.modify(pods, "default", "p", set_status, WriteOptions(field_manager="kubelet"),
                                   subresource="status")
    assert written["spec"]["containers"][0]["image"] == "nginx:1"
    assert written["metadata"]["ownerReferences"][0]["uid"] == "u-1"
    assert [e["manager"] for e in written["metadata"]["managedFields"]] == ["kubectl", "kubelet"]
    event = await anext(aiter(watch))
    stored_text = copy.deepcopy(event.object)
    # The caller scribbles over everything it got back: nothing else may see it.
    written["spec"]["containers"][0]["image"] = "scribbled"
    written["metadata"]["ownerReferences"].clear()
    written["metadata"]["managedFields"][0]["fieldsV1"]["f:scribbled"] = {}
    assert event.object == stored_text
    again = await objects.get(pods, "default", "p")
    assert again["spec"]["containers"][0]["image"] == "nginx:1"
    assert again["metadata"]["ownerReferences"][0]["uid"] == "u-1"
    assert "f:scribbled" not in again["metadata"]["managedFields"][0]["fieldsV1"]


async def test_objects_returned_by_updates_keep_status_their_own(objects: ObjectService) -> None:
    deployments = objects.require("apps", "v1", "deployments")
    body = {"metadata": {"name": "d", "labels": {"a": "b"}},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"a": "b"}},
                     "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}}
    await objects.create(deployments, "default", body, WriteOptions(field_manager="kubectl"))

    def set_status(obj: Obj) -> None:
        obj["status"] = {"replicas": 1, "conditions": [{"type": "Available", "status": "True"}]}
        obj["metadata"]["labels"] = {"changed": "no"}  # a workload's /status keeps its labels

    await objects.modify(deployments, "default", "d", set_status, WriteOptions(field_manager="controller"),
                         subresource="status")

    def scale(obj: Obj) -> None:
        obj["spec"]["replicas"] = 3
        obj["status"] = {"replicas": 99}  # the main resource keeps the old status

    scaled = await objects.modify(deployments, "default", "d", scale, WriteOptions(field_manager="kubectl"))
    assert scaled["status"]["replicas"] == 1 and scaled["metadata"]["generation"] == 2
    assert scaled["metadata"]["labels"] == {"a": "b"}
    scaled["status"]["conditions"].clear()
    scaled["metadata"]["labels"]["x"] = "y"
    again = await objects.get(deployments, "default", "d")
    assert again["status"]["conditions"] == [{"type": "Available", "status": "True"}]
    assert again["metadata"]["labels"] == {"a": "b"}


def _copying_validate_update(new: Obj, old: Obj) -> list[str]:
    """The fields PodStrategy.validate_update refused when it worked on a deep copy of the spec."""
    new_spec, old_spec = new.get("spec") or {}, old.get("spec") or {}
    munged = copy.deepcopy(new_spec)
    for key in ("containers", "initContainers"):
        old_list, new_list = old_spec.get(key) or [], munged.get(key) or []
        if len(old_list) == len(new_list):
            for o, n in zip(old_list, new_list, strict=True):
                if "image" in o:
                    n["image"] = o["image"]
    for key in ("activeDeadlineSeconds", "terminationGracePeriodSeconds"):
        if key in old_spec:
            munged[key] = old_spec[key]
        else:
            munged.pop(key, None)
    old_tolerations, new_tolerations = old_spec.get("tolerations") or [], munged.get("tolerations") or []
    if all(t in new_tolerations for t in old_tolerations):
        if old_tolerations:
            munged["tolerations"] = copy.deepcopy(old_tolerations)
        else:
            munged.pop("tolerations", None)
    if not old_spec.get("nodeName"):
        if "nodeName" in old_spec:
            munged["nodeName"] = old_spec["nodeName"]
        else:
            munged.pop("nodeName", None)
    return ["spec"] if munged != old_spec else []


@pytest.mark.parametrize("change", [
    lambda s: s["containers"][0].update(image="nginx:2"),  # allowed
    lambda s: s["containers"][0].update(name="other"),  # forbidden
    lambda s: s.update(tolerations=[]),  # dropping a toleration: forbidden
    lambda s: s["tolerations"].append({"key": "z", "operator": "Exists"}),  # adding one: allowed
    lambda s: s.update(nodeName="n1"),  # binding: allowed
    lambda s: s.update(activeDeadlineSeconds=5),  # allowed
    lambda s: s.update(restartPolicy="Never"),  # forbidden
    lambda s: s.update(containers=[*s["containers"], {"name": "d", "image": "x"}]),  # forbidden
])
def test_pod_update_validation_neither_copies_nor_changes_its_arguments(change: Any) -> None:
    old = {"metadata": {"name": "p"}, "spec": _pod("p")["spec"]}
    new = copy.deepcopy(old)
    change(new["spec"])
    before_new, before_old = copy.deepcopy(new), copy.deepcopy(old)
    causes = PodStrategy().validate_update(new, old)
    assert new == before_new and old == before_old
    assert [c.field for c in causes] == _copying_validate_update(new, old)


def test_pod_update_validation_of_an_old_empty_toleration_list() -> None:
    # an empty list in the old spec is not a list of tolerations kept: any update is refused, as before
    old = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i"}], "tolerations": []}}
    new = copy.deepcopy(old)
    assert [c.field for c in PodStrategy().validate_update(new, old)] == ["spec"]
