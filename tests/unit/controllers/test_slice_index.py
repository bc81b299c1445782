"""The per-Service EndpointSlice index a member connection keeps from informer events."""

from __future__ import annotations

from typing import Any

from kfed.members.connections import MemberConnection


def sl(name: str, svc: str, ns: str = "default", rv: str = "1") -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns, "resourceVersion": rv,
                         "labels": {"kubernetes.io/service-name": svc}}}


def test_index_follows_adds_relabels_and_deletes() -> None:
    conn = MemberConnection("c", client=None, fingerprint="")  # type: ignore[arg-type]
    conn.slices = object()  # type: ignore[assignment]  # informer present: the index answers
    a, b = sl("a-1", "a"), sl("b-1", "b")
    conn._index_slice("ADDED", a, None)
    conn._index_slice("ADDED", b, None)
    assert conn.slices_for("default", "a") == [a]
    moved = sl("a-1", "b", rv="2")  # relabelled to another Service
    conn._index_slice("MODIFIED", moved, a)
    assert conn.slices_for("default", "a") == []
    assert sorted(s["metadata"]["name"] for s in conn.slices_for("default", "b")) == ["a-1", "b-1"]
    conn._index_slice("DELETED", b, b)
    assert conn.slices_for("default", "b") == [moved]
    assert conn.slices_for("other", "b") == []


def test_slim_slice_keeps_what_shard_status_reads() -> None:
    from kfed.controllers.shards import endpoint_counts
    from kfed.members.connections import slim_slice

    full = {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "web-abc", "namespace": "default", "uid": "u1", "resourceVersion": "7",
                     "labels": {"kubernetes.io/service-name": "web"},
                     "annotations": {"endpoints.kubernetes.io/last-change-trigger-time": "2026-01-01T00:00:00Z"},
                     "managedFields": [{"manager": "endpointslice-controller"}],
                     "ownerReferences": [{"kind": "Service", "name": "web"}]},
        "addressType": "IPv4",
        "endpoints": [
            {"addresses": ["10.0.0.1"], "conditions": {"ready": True}, "zone": "z1", "nodeName": "n1",
             "targetRef": {"kind": "Pod", "name": "web-1"}},
            {"addresses": ["10.0.0.2"], "conditions": {"ready": False}, "zone": "z2", "nodeName": "n2"},
        ],
        "ports": [{"name": "http", "port": 80, "protocol": "TCP"}],
    }
    slim = slim_slice(full)
    assert endpoint_counts([slim]) == endpoint_counts([full]) == (1, ["z1"])
    assert slim["metadata"] == {"name": "web-abc", "namespace": "default", "uid": "u1", "resourceVersion": "7",
                                "labels": {"kubernetes.io/service-name": "web"}}
    assert all(set(ep) == {"addresses", "conditions", "zone"} for ep in slim["endpoints"])
    assert slim["ports"] == full["ports"]


def test_informer_transform_drops_managed_fields_by_default() -> None:
    from kfed.members.informer import Informer

    inf = Informer(client=None, path="/api/v1/services")  # type: ignore[arg-type]
    cached = inf.remember({"metadata": {"name": "web", "namespace": "default", "managedFields": [{"manager": "m"}]},
                           "spec": {}})
    assert "managedFields" not in cached["metadata"]
    assert inf.cache["default/web"] is cached


def test_remember_keeps_a_newer_version_the_watch_already_delivered() -> None:
    from kfed.members.informer import Informer

    inf = Informer(client=None, path="/api/v1/services")  # type: ignore[arg-type]

    def svc(rv: str, ingress: bool) -> dict[str, Any]:
        return {"metadata": {"name": "web", "namespace": "default", "resourceVersion": rv},
                "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]} if ingress else {}}}

    inf.cache["default/web"] = svc("105", True)  # the watch was faster than our create's answer
    kept = inf.remember(svc("103", False))
    assert kept["metadata"]["resourceVersion"] == "105" and inf.cache["default/web"] is kept
    newer = inf.remember(svc("107", False))  # our write's answer is the newest: it is cached
    assert inf.cache["default/web"] is newer
    inf.cache["default/web"] = svc("opaque-b", True)
    assert inf.remember(svc("opaque-a", False))["metadata"]["resourceVersion"] == "opaque-a"
