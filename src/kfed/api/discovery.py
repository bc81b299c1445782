"""API discovery documents: legacy (/api, /apis, APIResourceList) and aggregated (apidiscovery v2)."""

from __future__ import annotations

import hashlib
from collections import OrderedDict

from kfed.model.resource import Obj, ResourceType

_SUBRESOURCE_VERBS = ("get", "patch", "update")


def _hash(rt: ResourceType) -> str:
    return hashlib.sha256(f"{rt.group}/{rt.version}/{rt.kind}".encode()).hexdigest()[:12]


def _scale_kind() -> Obj:
    return {"group": "autoscaling", "version": "v1", "kind": "Scale"}


def group_versions(resources: list[ResourceType]) -> OrderedDict[str, OrderedDict[str, list[ResourceType]]]:
    groups: OrderedDict[str, OrderedDict[str, list[ResourceType]]] = OrderedDict()
    for rt in resources:
        groups.setdefault(rt.group, OrderedDict()).setdefault(rt.version, []).append(rt)
    return groups


def api_versions(server_address: str) -> Obj:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]}


def resource_list(group_version: str, resources: list[ResourceType]) -> Obj:
    out = []
    for rt in resources:
        entry: Obj = {
            "name": rt.plural, "singularName": rt.singular, "namespaced": rt.namespaced,
            "kind": rt.kind, "verbs": list(rt.verbs), "storageVersionHash": _hash(rt),
        }
        if rt.short_names:
            entry["shortNames"] = list(rt.short_names)
        if rt.categories:
            entry["categories"] = list(rt.categories)
        out.append(entry)
        for sub in sorted(rt.subresources):
            sub_entry: Obj = {"name": f"{rt.plural}/{sub}", "singularName": "", "namespaced": rt.namespaced,
                              "kind": rt.kind, "verbs": list(_SUBRESOURCE_VERBS)}
            if sub == "scale":
                sub_entry.update(group="autoscaling", version="v1", kind="Scale")
            out.append(sub_entry)
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": out}


def _group_entry(name: str, versions: list[str]) -> Obj:
    vs = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": vs, "preferredVersion": vs[0]}


def api_group_list(resources: list[ResourceType]) -> Obj:
    groups = [_group_entry(g, list(vs)) for g, vs in group_versions(resources).items() if g]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(resources: list[ResourceType], group: str) -> Obj | None:
    vs = group_versions(resources).get(group)
    if not vs or not group:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_entry(group, list(vs))}


def aggregated(resources: list[ResourceType], *, legacy: bool, version: str = "v2") -> Obj:
    """APIGroupDiscoveryList for /api (legacy=True: the core group) or /apis (every other group)."""
    items = []
    for group, versions in group_versions(resources).items():
        if (group == "") != legacy:
            continue
        vitems = []
        for v, rts in versions.items():
            res = []
            for rt in rts:
                entry: Obj = {
                    "resource": rt.plural,
                    "responseKind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
                    "scope": "Namespaced" if rt.namespaced else "Cluster",
                    "singularResource": rt.singular,
                    "verbs": list(rt.verbs),
                }
                if rt.short_names:
                    entry["shortNames"] = list(rt.short_names)
                if rt.categories:
                    entry["categories"] = list(rt.categories)
                subs = []
                for sub in sorted(rt.subresources):
                    kind = _scale_kind() if sub == "scale" else {"group": rt.group, "version": rt.version,
                                                                 "kind": rt.kind}
                    subs.append({"subresource": sub, "responseKind": kind, "verbs": list(_SUBRESOURCE_VERBS)})
                if subs:
                    entry["subresources"] = subs
                res.append(entry)
            vitems.append({"version": v, "resources": res, "freshness": "Current"})
        items.append({"metadata": {"name": group}, "versions": vitems})
    return {"kind": "APIGroupDiscoveryList", "apiVersion": f"apidiscovery.k8s.io/{version}",
            "metadata": {}, "items": items}
