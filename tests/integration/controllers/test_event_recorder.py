"""EventRecorder against a real `kfed apiserver`: dedupe, client-go style aggregation, a full queue."""

from __future__ import annotations

from typing import Any

from kfed.controllers.events import AGGREGATE_AFTER, COMBINED_PREFIX, EventRecorder
from kfed.members.client import KubeClient, parse_kubeconfig
from tests.support.kubectl import Kubectl
from tests.support.processes import ApiServerProcess


async def _setup(apiserver: ApiServerProcess) -> tuple[KubeClient, dict[str, Any]]:
    client = await KubeClient.from_kubeconfig(parse_kubeconfig(apiserver.kubeconfig.read_text()),
                                              "federation-cluster")
    svc = await client.request("POST", "/api/v1/namespaces/default/services", body={
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
        "spec": {"ports": [{"port": 80}]}})
    svc.setdefault("kind", "Service")
    svc.setdefault("apiVersion", "v1")
    return client, svc


def _events(kubectl: Kubectl) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = kubectl.run("get", "events", "-o", "json").json()["items"]
    return items


async def test_repeats_update_one_event(apiserver: ApiServerProcess, kubectl: Kubectl) -> None:
    client, svc = await _setup(apiserver)
    recorder = EventRecorder(client)
    try:
        for _ in range(3):
            recorder.record(svc, "Warning", "ClusterWriteFailed", "could not write to cluster a")
        await recorder.flush()
        recorder.record(svc, "Warning", "ClusterWriteFailed", "could not write to cluster a")
        await recorder.flush()
        events = _events(kubectl)
        assert len(events) == 1
        assert events[0]["count"] == 4 and events[0]["involvedObject"]["uid"] == svc["metadata"]["uid"]
        described = kubectl.run("describe", "services", "web").stdout
        assert "ClusterWriteFailed" in described and "could not write to cluster a" in described
    finally:
        await recorder.close()
        await client.close()


async def test_many_similar_events_are_combined(apiserver: ApiServerProcess, kubectl: Kubectl) -> None:
    client, svc = await _setup(apiserver)
    recorder = EventRecorder(client)
    try:
        total = 50
        for i in range(total):
            recorder.record(svc, "Normal", "CreatedInCluster", f"Created service default/web in cluster c{i:02d}")
        recorder.record(svc, "Normal", "ShardHealthy", "shard in cluster c00: ready")
        await recorder.flush()
        events = [e for e in _events(kubectl) if e["reason"] == "CreatedInCluster"]
        single = [e for e in events if not e["message"].startswith(COMBINED_PREFIX)]
        combined = [e for e in events if e["message"].startswith(COMBINED_PREFIX)]
        assert len(single) == AGGREGATE_AFTER
        assert {e["message"] for e in single} == {f"Created service default/web in cluster c{i:02d}"
                                                  for i in range(AGGREGATE_AFTER)}
        assert len(combined) == 1
        assert combined[0]["count"] == total - AGGREGATE_AFTER
        assert combined[0]["message"] == COMBINED_PREFIX + f"Created service default/web in cluster c{total - 1}"
        # another reason is its own group
        assert [e["reason"] for e in _events(kubectl)].count("ShardHealthy") == 1
        # the writes were coalesced: far fewer than one per record
        assert recorder.writes < total
    finally:
        await recorder.close()
        await client.close()


async def test_full_queue_drops_new_events_instead_of_growing(apiserver: ApiServerProcess,
                                                               kubectl: Kubectl) -> None:
    client, svc = await _setup(apiserver)
    recorder = EventRecorder(client, max_pending=5, writers=1)
    try:
        for i in range(8):  # different reasons: no aggregation, each needs its own Event
            recorder.record(svc, "Normal", f"Reason{i}", "m")
        assert recorder.dropped >= 2
        await recorder.flush()
        assert len(_events(kubectl)) == 8 - recorder.dropped
    finally:
        await recorder.close()
        await client.close()
