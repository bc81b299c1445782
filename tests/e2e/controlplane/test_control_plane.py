"""The control plane against simulated member clusters, checked with the real kubectl."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.federation import FederationThread, running_federation
from tests.support.kubectl import Kubectl
from tests.support.waiting import wait_for

CLUSTERS = ["us-central1-a=us-central1/us-central1-a", "us-central1-b=us-central1/us-central1-b",
            "europe-west1-b=europe-west1/europe-west1-b"]
NAMES = ["us-central1-a", "us-central1-b", "europe-west1-b"]


def service_yaml(name: str, ns: str, *, port: int = 80, label: str = "nginx") -> str:
    return textwrap.dedent(f"""\
        apiVersion: v1
        kind: Service
        metadata:
          name: {name}
          namespace: {ns}
          labels:
            run: {label}
        spec:
          type: LoadBalancer
          selector:
            run: {label}
          ports:
          - name: http
            port: {port}
            protocol: TCP
        """)


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FederationThread, Kubectl]]:
    with running_federation(tmp_path_factory.mktemp("cp"), sim_clusters=CLUSTERS) as running:
        thread, kubectl = running
        wait_for(lambda: all_ready(kubectl, NAMES), timeout=60, what="clusters Ready")
        yield running


def all_ready(kubectl: Kubectl, names: list[str]) -> bool:
    items = kubectl.run("get", "clusters", "-o", "json").json()["items"]
    ready = {c["metadata"]["name"] for c in items
             if any(x["type"] == "Ready" and x["status"] == "True" for x in c.get("status", {}).get("conditions", []))}
    return set(names) <= ready


def get(kubectl: Kubectl, context: str, ns: str, name: str) -> dict[str, Any] | None:
    r = kubectl.run("-n", ns, "get", "svc", name, "-o", "json", context=context, check=False)
    return json.loads(r.stdout) if r.returncode == 0 else None


def create(kubectl: Kubectl, tmp_path: Path, text: str) -> None:
    f = tmp_path / "svc.yaml"
    f.write_text(text)
    kubectl.run("create", "-f", str(f))


def shards(kubectl: Kubectl, ns: str, name: str) -> dict[str, dict[str, Any]]:
    svc = get(kubectl, "federation-cluster", ns, name)
    if svc is None:
        return {}
    raw = (svc["metadata"].get("annotations") or {}).get("federation.kfed.io/shards", "[]")
    return {s["cluster"]: s for s in json.loads(raw)}


def condition(kubectl: Kubectl, cluster: str, ctype: str) -> dict[str, Any]:
    obj = kubectl.run("get", "cluster", cluster, "-o", "json").json()
    return next((c for c in obj.get("status", {}).get("conditions", []) if c["type"] == ctype), {})


def test_create_update_delete(fed: tuple[FederationThread, Kubectl], tmp_path: Path) -> None:
    thread, kubectl = fed
    kubectl.run("create", "namespace", "crud")
    create(kubectl, tmp_path, service_yaml("web", "crud"))
    wait_for(lambda: all(get(kubectl, c, "crud", "web") for c in NAMES), timeout=20, what="shards everywhere")
    member = get(kubectl, "us-central1-a", "crud", "web")
    assert member is not None
    assert member["spec"]["clusterIP"], "the member allocates its own cluster IP"
    assert member["metadata"]["labels"]["federation.kfed.io/federation"] == "myfederation"
    # the guide's check: LoadBalancer Ingress of the federated Service lists every shard's address
    wait_for(lambda: len((get(kubectl, "federation-cluster", "crud", "web") or {}).get("status", {})
                         .get("loadBalancer", {}).get("ingress", [])) == 3, timeout=20, what="ingress union")
    desc = kubectl.run("-n", "crud", "describe", "services", "web").stdout
    ips = [i["ip"] for i in get(kubectl, "federation-cluster", "crud", "web")["status"]["loadBalancer"]["ingress"]]
    assert "LoadBalancer Ingress:" in desc and all(ip in desc for ip in ips)
    # update: labels, annotations and spec all propagate; member allocations stay
    kubectl.run("-n", "crud", "label", "svc", "web", "tier=front")
    kubectl.run("-n", "crud", "patch", "svc", "web", "--type=merge", "-p",
                '{"spec":{"ports":[{"name":"http","port":8080,"protocol":"TCP"}]}}')

    def updated() -> bool:
        for c in NAMES:
            m = get(kubectl, c, "crud", "web")
            if not m or m["metadata"]["labels"].get("tier") != "front" or m["spec"]["ports"][0]["port"] != 8080:
                return False
        return True

    wait_for(updated, timeout=20, what="update propagated")
    assert get(kubectl, "us-central1-a", "crud", "web")["spec"]["clusterIP"] == member["spec"]["clusterIP"]
    kubectl.run("-n", "crud", "delete", "svc", "web", "--wait", "--timeout=30s")
    assert all(get(kubectl, c, "crud", "web") is None for c in NAMES)
    events = kubectl.run("-n", "crud", "get", "events", "-o", "json").json()["items"]
    reasons = {e["reason"] for e in events}
    assert {"CreatedInCluster", "UpdatedInCluster", "DeletedInCluster"} <= reasons


def test_adoption_of_existing_service(fed: tuple[FederationThread, Kubectl], tmp_path: Path) -> None:
    thread, kubectl = fed
    kubectl.run("create", "namespace", "adopt")
    kubectl.run("create", "namespace", "adopt", context="us-central1-b")
    existing = service_yaml("legacy", "adopt", port=9090, label="old").replace("LoadBalancer", "NodePort")
    f = tmp_path / "legacy.yaml"
    f.write_text(existing)
    kubectl.run("create", "-f", str(f), context="us-central1-b")
    before = get(kubectl, "us-central1-b", "adopt", "legacy")
    assert before is not None
    create(kubectl, tmp_path, service_yaml("legacy", "adopt"))

    def adopted() -> bool:
        m = get(kubectl, "us-central1-b", "adopt", "legacy")
        return bool(m and m["spec"]["ports"][0]["port"] == 80 and m["spec"]["selector"] == {"run": "nginx"}
                    and m["spec"]["type"] == "LoadBalancer")

    wait_for(adopted, timeout=20, what="adopted and conforming")
    after = get(kubectl, "us-central1-b", "adopt", "legacy")
    assert after["metadata"]["uid"] == before["metadata"]["uid"], "adopted, not recreated"
    assert after["spec"]["clusterIP"] == before["spec"]["clusterIP"]
    assert after["metadata"]["annotations"]["federation.kfed.io/origin"] == "adopted"
    events = kubectl.run("-n", "adopt", "get", "events", "-o", "json").json()["items"]
    assert any(e["reason"] == "AdoptedInCluster" and "us-central1-b" in e["message"] for e in events)


def test_drift_is_reverted(fed: tuple[FederationThread, Kubectl], tmp_path: Path) -> None:
    thread, kubectl = fed
    kubectl.run("create", "namespace", "drift")
    create(kubectl, tmp_path, service_yaml("web", "drift"))
    wait_for(lambda: get(kubectl, "europe-west1-b", "drift", "web"), timeout=20, what="shard")
    kubectl.run("-n", "drift", "patch", "svc", "web", "--type=merge", "-p",
                '{"spec":{"selector":{"run":"hacked"}},"metadata":{"labels":{"extra":"x"}}}',
                context="europe-west1-b")

    def reverted() -> bool:
        m = get(kubectl, "europe-west1-b", "drift", "web")
        return bool(m and m["spec"]["selector"] == {"run": "nginx"} and "extra" not in m["metadata"]["labels"])

    wait_for(reverted, timeout=20, what="drift reverted")


def test_shard_health_follows_endpoints(fed: tuple[FederationThread, Kubectl], tmp_path: Path) -> None:
    thread, kubectl = fed
    kubectl.run("create", "namespace", "health")
    create(kubectl, tmp_path, service_yaml("nginx", "health"))
    wait_for(lambda: len(shards(kubectl, "health", "nginx")) == 3, timeout=20, what="three shards")
    assert not any(s["healthy"] for s in shards(kubectl, "health", "nginx").values())
    kubectl.run("create", "namespace", "health", context="us-central1-a", check=False)  # kfed may have made it
    kubectl.run("-n", "health", "run", "nginx", "--image=nginx:1.11.1-alpine", "--port=80", context="us-central1-a")
    wait_for(lambda: shards(kubectl, "health", "nginx").get("us-central1-a", {}).get("healthy"), timeout=20,
             what="us-central1-a shard healthy")
    sh = shards(kubectl, "health", "nginx")["us-central1-a"]
    assert sh["readyEndpoints"] == 1 and sh["zones"] == ["us-central1-a"] and sh["region"] == "us-central1"
    status = subprocess.run([sys.executable, "-m", "kfed", "status", "nginx", "-n", "health", "--kubeconfig",
                             str(kubectl.kubeconfig)], capture_output=True, text=True, timeout=60)
    assert status.returncode == 0 and "us-central1-a" in status.stdout and "Healthy" in status.stdout
    thread.call(lambda f: f.fleet.make_unready("us-central1-a", pod="nginx", namespace="health"))
    wait_for(lambda: not shards(kubectl, "health", "nginx")["us-central1-a"]["healthy"], timeout=20,
             what="shard unhealthy after the pod went unready")
    conds = get(kubectl, "federation-cluster", "health", "nginx")["status"]["conditions"]
    assert any(c["type"] == "us-central1-a.shards.federation.kfed.io/Healthy" and c["status"] == "False"
               for c in conds)


def test_member_refusing_writes(fed: tuple[FederationThread, Kubectl], tmp_path: Path) -> None:
    thread, kubectl = fed
    thread.call(lambda f: f.fleet.fault("us-central1-b", "forbid-writes"))
    try:
        kubectl.run("create", "namespace", "refuse")
        create(kubectl, tmp_path, service_yaml("web", "refuse"))
        wait_for(lambda: get(kubectl, "us-central1-a", "refuse", "web") and get(kubectl, "europe-west1-b", "refuse",
                                                                               "web"), timeout=20, what="others")
        wait_for(lambda: shards(kubectl, "refuse", "web").get("us-central1-b", {}).get("reason", "").startswith(
            "Forbidden"), timeout=20, what="shard reason Forbidden")
        events = kubectl.run("-n", "refuse", "get", "events", "-o", "json").json()["items"]
        assert any(e["reason"] == "ClusterWriteFailed" and "us-central1-b" in e["message"] for e in events)
        assert get(kubectl, "us-central1-b", "refuse", "web") is None
    finally:
        thread.call(lambda f: f.fleet.clear("us-central1-b"))
    wait_for(lambda: get(kubectl, "us-central1-b", "refuse", "web"), timeout=30, what="written once allowed")


def test_cluster_down_and_back(fed: tuple[FederationThread, Kubectl], tmp_path: Path) -> None:
    thread, kubectl = fed
    kubectl.run("create", "namespace", "outage")
    create(kubectl, tmp_path, service_yaml("web", "outage"))
    wait_for(lambda: get(kubectl, "europe-west1-b", "outage", "web"), timeout=20, what="shard")
    thread.call(lambda f: f.fleet.fault("europe-west1-b", "down"))
    try:
        wait_for(lambda: condition(kubectl, "europe-west1-b", "Ready").get("status") == "False", timeout=20,
                 what="Ready=False")
        ready = condition(kubectl, "europe-west1-b", "Ready")
        offline = condition(kubectl, "europe-west1-b", "Offline")
        assert ready["reason"] == "ClusterNotReachable" and offline["status"] == "True"
        assert ready["lastTransitionTime"] and ready["lastProbeTime"]
        wait_for(lambda: shards(kubectl, "outage", "web")["europe-west1-b"]["reason"] == "ClusterNotReachable",
                 timeout=20, what="shard marked")
        # deleted while the cluster is down: the federated Service goes; the shard waits for the cluster
        kubectl.run("-n", "outage", "delete", "svc", "web", "--wait", "--timeout=30s")
        assert get(kubectl, "us-central1-a", "outage", "web") is None
        desc = kubectl.run("describe", "clusters", "europe-west1-b").stdout
        assert "ClusterNotReachable" in desc
    finally:
        thread.call(lambda f: f.fleet.clear("europe-west1-b"))
    wait_for(lambda: condition(kubectl, "europe-west1-b", "Ready").get("status") == "True", timeout=30,
             what="Ready again")
    wait_for(lambda: get(kubectl, "europe-west1-b", "outage", "web") is None, timeout=30,
             what="the shard left behind is deleted once the cluster is back")
    events = kubectl.run("get", "events", "-A", "-o", "json").json()["items"]
    cluster_events = [e for e in events if e["involvedObject"].get("kind") == "Cluster"
                      and e["involvedObject"]["name"] == "europe-west1-b"]
    assert {"ClusterNotReachable", "ClusterReady"} <= {e["reason"] for e in cluster_events}


def test_bad_credentials_and_malformed_kubeconfig(fed: tuple[FederationThread, Kubectl], tmp_path: Path) -> None:
    thread, kubectl = fed
    thread.call(lambda f: f.fleet.fault("us-central1-a", "revoke-credentials"))
    try:
        wait_for(lambda: condition(kubectl, "us-central1-a", "Ready").get("reason") == "CredentialsRejected",
                 timeout=20, what="CredentialsRejected")
    finally:
        thread.call(lambda f: f.fleet.clear("us-central1-a"))
    wait_for(lambda: condition(kubectl, "us-central1-a", "Ready").get("status") == "True", timeout=30, what="back")
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "broken", "namespace": "federation-system"},
              "data": {"kubeconfig": base64.b64encode(b"this: [is not a kubeconfig").decode()}}
    cluster = {"apiVersion": "federation.kfed.io/v1beta1", "kind": "Cluster", "metadata": {"name": "broken"},
               "spec": {"secretRef": {"name": "broken"},
                        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                                        "serverAddress": "https://127.0.0.1:1"}]}}
    kubectl.run("create", "-f", "-", input=json.dumps(secret))
    kubectl.run("create", "-f", "-", input=json.dumps(cluster))
    try:
        wait_for(lambda: condition(kubectl, "broken", "Ready").get("reason") == "ConfigMalformed", timeout=20,
                 what="ConfigMalformed")
        assert all_ready(kubectl, NAMES), "a broken cluster disturbs no other"
    finally:
        kubectl.run("delete", "cluster", "broken", "--wait=false")


def test_restart_makes_no_writes(fed: tuple[FederationThread, Kubectl], tmp_path: Path) -> None:
    thread, kubectl = fed
    kubectl.run("create", "namespace", "restart")
    create(kubectl, tmp_path, service_yaml("web", "restart"))
    wait_for(lambda: all(get(kubectl, c, "restart", "web") for c in NAMES), timeout=20, what="shards")
    wait_for(lambda: len(shards(kubectl, "restart", "web")) == 3, timeout=20, what="status written")
    before = {c: get(kubectl, c, "restart", "web")["metadata"]["resourceVersion"] for c in NAMES}
    fed_before = kubectl.run("-n", "restart", "get", "svc", "web", "-o", "json", "--show-managed-fields").json()
    manager = thread.call(lambda f: f.restart_manager())

    def settled() -> bool:
        svc = manager.services
        return bool(svc is not None and svc.services.synced.is_set() and svc.idle()
                    and manager.clusters is not None and len(manager.clusters.ready_clusters()) == 3)

    wait_for(settled, timeout=30, what="the new controller-manager synced and idle")
    wait_for(lambda: manager.services is not None and manager.services.idle(), timeout=10, what="idle again")
    assert manager.services is not None
    assert manager.services.member_writes == 0, "a restart writes nothing to the members"
    after = {c: get(kubectl, c, "restart", "web")["metadata"]["resourceVersion"] for c in NAMES}
    assert after == before
    fed_after = kubectl.run("-n", "restart", "get", "svc", "web", "-o", "json", "--show-managed-fields").json()
    assert fed_after == fed_before, "a restart writes nothing to the federation either"
