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
