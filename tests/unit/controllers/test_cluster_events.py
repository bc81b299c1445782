"""One Event per reason and message for what a reconcile pass did in many clusters."""

from __future__ import annotations

from typing import Any

from kfed.controllers.events import ClusterEvents, clusters_text


class Recorded:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []

    def record(self, obj: Any, type_: str, reason: str, message: str) -> None:
        self.events.append((type_, reason, message))


def test_one_cluster_reads_as_before() -> None:
    assert clusters_text(["us-central1-a"]) == "cluster us-central1-a"


def test_many_clusters_are_counted_sorted_and_cut_after_ten() -> None:
    names = [f"c{i:02d}" for i in range(49, -1, -1)]
    assert clusters_text(names) == "50 clusters: c00, c01, c02, c03, c04, c05, c06, c07, c08, c09 and 40 more"
    assert clusters_text(["b", "a", "a"]) == "2 clusters: a, b"


def test_a_pass_groups_by_type_reason_and_message() -> None:
    rec, done = Recorded(), ClusterEvents()
    for c in ("c2", "c1", "c3"):
        done.add("Normal", "CreatedInCluster", "Created service default/web in {where}", c)
    done.add("Warning", "ClusterWriteFailed", "Could not write service default/web to {where}: 403 {\"x\": 1}", "c4")
    done.add("Warning", "ClusterWriteFailed", "Could not write service default/web to {where}: 403 {\"x\": 1}", "c5")
    done.add("Warning", "ClusterWriteFailed", "Could not write service default/web to {where}: timeout", "c6")
    done.record(rec, {})  # type: ignore[arg-type]
    assert rec.events == [
        ("Normal", "CreatedInCluster", "Created service default/web in 3 clusters: c1, c2, c3"),
        ("Warning", "ClusterWriteFailed", "Could not write service default/web to 2 clusters: c4, c5: 403 {\"x\": 1}"),
        ("Warning", "ClusterWriteFailed", "Could not write service default/web to cluster c6: timeout"),
    ]
    done.record(rec, {})  # type: ignore[arg-type]
    assert len(rec.events) == 3, "recording empties the pass"
