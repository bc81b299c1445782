"""Faults of simulated clusters, each undone, seen through kubectl and HTTPS; one cluster's fault
or restart never disturbs another."""

from __future__ import annotations

import json
import select
import subprocess
import textwrap
import time
from pathlib import Path
from typing import Any

import dns.message
import dns.query
import pytest
from sim_e2e import FAST, Sim, start_sim

from kfed.sim import SimFleet, parse_cluster
from tests.support.kubectl import Kubectl
from tests.support.waiting import wait_for

NGINX_SERVICE = textwrap.dedent("""\
    apiVersion: v1
    kind: Service
    metadata:
      name: nginx
    spec:
      type: LoadBalancer
      selector:
        run: nginx
      ports:
      - port: 80
    """)


def endpoints(k: Kubectl, service: str = "nginx") -> tuple[list[str], list[str]]:
    """(ready pod names, not-ready pod names) in the Service's Endpoints."""
    ep = json.loads(k.run("get", "endpoints", service, "-o", "json").stdout)
    ready = [a["targetRef"]["name"] for s in ep.get("subsets") or [] for a in s.get("addresses") or []]
    not_ready = [a["targetRef"]["name"] for s in ep.get("subsets") or [] for a in s.get("notReadyAddresses") or []]
    return sorted(ready), sorted(not_ready)


def slice_readiness(k: Kubectl, service: str = "nginx") -> dict[str, bool]:
    slices = json.loads(k.run("get", "endpointslices", "-l", f"kubernetes.io/service-name={service}",
                              "-o", "json").stdout)["items"]
    return {e["targetRef"]["name"]: e["conditions"]["ready"] for s in slices for e in s["endpoints"]}


def pods_by_zone(k: Kubectl, selector: str) -> dict[str, list[str]]:
    pods = json.loads(k.run("get", "pods", "-l", selector, "-o", "json").stdout)["items"]
    nodes = {n["metadata"]["name"]: n["metadata"]["labels"]["topology.kubernetes.io/zone"]
             for n in json.loads(k.run("get", "nodes", "-o", "json").stdout)["items"]}
    out: dict[str, list[str]] = {}
    for p in pods:
        out.setdefault(nodes.get(p["spec"].get("nodeName", ""), "<none>"), []).append(p["metadata"]["name"])
    return out


def backends(sim: Sim, cluster: str, replicas: int) -> Kubectl:
    k = sim.kubectl(cluster)
    k.run("create", "deployment", "nginx", "--image=nginx:1.11.1-alpine", f"--replicas={replicas}")
    k.run("label", "deployment", "nginx", "run=nginx")
    k.run("patch", "deployment", "nginx", "--type=merge", "-p",
          '{"spec":{"template":{"metadata":{"labels":{"run":"nginx"}}}}}')
    k.run("create", "-f", "-", input=NGINX_SERVICE)
    wait_for(lambda: len(endpoints(k)[0]) == replicas, what=f"{replicas} ready endpoints")
    return k


def read_line(proc: subprocess.Popen[str], timeout: float = 20.0) -> str:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.1)
        if ready:
            return proc.stdout.readline()
    raise TimeoutError("no line from the watch")


def call(sim: Sim, fn: Any) -> Any:
    return sim.thread.call(fn)


def test_down_refuses_connections_and_clear_restores(sim: Sim) -> None:
    east, west = sim.kubectl("east"), sim.kubectl("west")
    port = sim.fleet.cluster("east").port
    call(sim, lambda f: f.fault("east", "down"))
    failed = east.run("get", "nodes", check=False)
    assert failed.returncode != 0 and "refused" in failed.stderr
    with pytest.raises(OSError):
        sim.http("east", "/readyz", token=None)
    assert len(west.run("get", "nodes").stdout.splitlines()) == 3  # the other cluster is untouched
    call(sim, lambda f: f.clear("east", "down"))
    assert sim.fleet.cluster("east").port == port
    assert len(east.run("get", "nodes").stdout.splitlines()) == 5


def test_controllers_keep_working_while_down(sim: Sim) -> None:
    k = backends(sim, "east", 2)
    victim = endpoints(k)[0][0]
    call(sim, lambda f: f.fault("east", "down"))
    call(sim, lambda f: f.make_unready("east", pod=victim))  # happens inside the unreachable cluster
    call(sim, lambda f: f.clear("east", "down"))
    assert wait_for(lambda: endpoints(k)[1] == [victim], what="the change made while down")


def test_unhealthy_fails_readyz_only(sim: Sim) -> None:
    call(sim, lambda f: f.fault("west", "unhealthy"))
    assert sim.http("west", "/readyz", token=None)[0] == 500
    assert sim.http("west", "/healthz", token=None)[0] == 200
    assert sim.http("west", "/api/v1/nodes")[0] == 200
    assert sim.http("east", "/readyz", token=None)[0] == 200
    call(sim, lambda f: f.clear("west", "unhealthy"))
    assert sim.http("west", "/readyz", token=None)[0] == 200


def test_slow_adds_latency(sim: Sim) -> None:
    call(sim, lambda f: f.fault("east", "slow", latency=0.4))
    status, _, seconds = sim.http("east", "/api/v1/namespaces/default/pods")
    assert status == 200 and seconds >= 0.4
    assert sim.http("west", "/api/v1/namespaces/default/pods")[0] == 200
    call(sim, lambda f: f.clear("east", "slow"))
    assert sim.fleet.cluster("east").faults == {}
    assert sim.http("east", "/api/v1/namespaces/default/pods")[0] == 200


def test_revoked_credentials_get_401(sim: Sim) -> None:
    call(sim, lambda f: f.fault("east", "revoke-credentials"))
    assert sim.http("east", "/api/v1/nodes")[0] == 401
    result = sim.kubectl("east").run("get", "pods", check=False)
    assert result.returncode != 0 and "must be logged in" in result.stderr
    assert sim.http("east", "/readyz", token=None)[0] == 200  # health stays public
    assert sim.http("west", "/api/v1/nodes")[0] == 200
    call(sim, lambda f: f.clear("east", "revoke-credentials"))
    assert sim.http("east", "/api/v1/nodes")[0] == 200


def test_forbid_writes_gets_403_on_create(sim: Sim) -> None:
    k = sim.kubectl("east")
    call(sim, lambda f: f.fault("east", "forbid-writes"))
    body = json.dumps({"metadata": {"name": "x"}}).encode()
    assert sim.http("east", "/api/v1/namespaces/default/configmaps", method="POST", body=body)[0] == 403
    result = k.run("create", "configmap", "x", check=False)
    assert result.returncode != 0 and "forbidden" in result.stderr
    assert k.run("get", "configmaps").returncode == 0  # reads work
    assert sim.kubectl("west").run("create", "configmap", "x").returncode == 0
    call(sim, lambda f: f.clear("east"))
    assert sim.http("east", "/api/v1/namespaces/default/configmaps", method="POST", body=body)[0] == 201


def test_pod_made_unready_and_ready_again(sim: Sim) -> None:
    k = backends(sim, "east", 2)
    victim, other = endpoints(k)[0]
    call(sim, lambda f: f.make_unready("east", pod=victim))
    assert wait_for(lambda: endpoints(k) == ([other], [victim]), what="victim not ready")
    assert slice_readiness(k) == {victim: False, other: True}
    pod = json.loads(k.run("get", "pod", victim, "-o", "json").stdout)
    assert pod["status"]["phase"] == "Running" and not pod["status"]["containerStatuses"][0]["ready"]
    call(sim, lambda f: f.make_ready("east", pod=victim))
    assert wait_for(lambda: endpoints(k) == (sorted([victim, other]), []), what="victim ready again")
    with pytest.raises(LookupError):
        call(sim, lambda f: f.make_unready("east", pod="no-such-pod"))


def test_zone_made_unready_and_cleared(sim: Sim) -> None:
    k = backends(sim, "east", 4)
    by_zone = pods_by_zone(k, "run=nginx")
    assert set(by_zone) == {"us-east1-b", "us-east1-c"}
    call(sim, lambda f: f.make_unready("east", zone="us-east1-c"))
    expected = (sorted(by_zone["us-east1-b"]), sorted(by_zone["us-east1-c"]))
    assert wait_for(lambda: endpoints(k) == expected, what="zone c not ready")
    # A pod placed in the zone later stays unready too.
    k.run("scale", "deployment", "nginx", "--replicas=6")
    wait_for(lambda: sum(len(v) for v in endpoints(k)) == 6, what="6 endpoints")
    assert set(endpoints(k)[1]) == set(pods_by_zone(k, "run=nginx")["us-east1-c"])
    call(sim, lambda f: f.clear("east"))
    assert wait_for(lambda: len(endpoints(k)[0]) == 6, what="all ready again")
    with pytest.raises(ValueError):
        call(sim, lambda f: f.make_unready("east", zone="us-west1-a"))


def test_delete_pods_of_a_zone_and_restore(sim: Sim) -> None:
    k = backends(sim, "east", 4)
    bare = sim.kubectl("east")
    bare.run("run", "solo", "--image=nginx:1.11.1-alpine", "--labels=run=nginx",
             '--overrides={"spec":{"nodeName":"us-east1-b-node-1"}}')
    wait_for(lambda: len(endpoints(k)[0]) == 5, what="5 ready endpoints")
    zone_b = set(pods_by_zone(k, "run=nginx")["us-east1-b"])
    assert "solo" in zone_b
    deleted = call(sim, lambda f: f.delete_pods("east", zone="us-east1-b"))
    assert {d.split("/")[1] for d in deleted} == zone_b
    nodes = json.loads(k.run("get", "nodes", "-o", "json").stdout)["items"]
    assert {n["metadata"]["name"]: bool(n["spec"].get("unschedulable")) for n in nodes} == {
        "us-east1-b-node-0": True, "us-east1-b-node-1": True, "us-east1-c-node-0": False, "us-east1-c-node-1": False}
    # The Deployment's replacements land in the other zone; nothing runs in the cordoned one.
    wait_for(lambda: len(endpoints(k)[0]) == 4 and set(pods_by_zone(k, "run=nginx")) == {"us-east1-c"},
             what="replacements in zone c")
    restored = call(sim, lambda f: f.restore_pods("east", zone="us-east1-b"))
    assert restored == ["default/solo"]  # the Deployment's pods were replaced, not restored
    wait_for(lambda: len(endpoints(k)[0]) == 5, what="bare pod back")
    nodes = json.loads(k.run("get", "nodes", "-o", "json").stdout)["items"]
    assert not any(n["spec"].get("unschedulable") for n in nodes)


def test_delete_one_pod_and_restore_it(sim: Sim) -> None:
    k = sim.kubectl("west")
    k.run("run", "nginx", "--image=nginx:1.11.1-alpine", "--port=80")
    k.run("create", "-f", "-", input=NGINX_SERVICE)
    wait_for(lambda: endpoints(k)[0] == ["nginx"], what="ready endpoint")
    assert call(sim, lambda f: f.delete_pods("west", pod="nginx")) == ["default/nginx"]
    wait_for(lambda: endpoints(k) == ([], []), what="endpoint gone")
    assert call(sim, lambda f: f.restore_pods("west", pod="nginx")) == ["default/nginx"]
    wait_for(lambda: endpoints(k)[0] == ["nginx"], what="pod back and ready")


def test_restart_keeps_port_credentials_and_objects(sim: Sim) -> None:
    k = backends(sim, "east", 2)
    before = sim.fleet.cluster("east")
    port, token = before.port, before.server.admin_token
    uid = json.loads(k.run("get", "service", "nginx", "-o", "json").stdout)["metadata"]["uid"]
    west_watch = sim.kubectl("west").popen("get", "configmaps", "--watch", "-o", "name")
    try:
        call(sim, lambda f: f.restart("east"))
        # A watch on the other cluster, open across the restart, still gets events.
        sim.kubectl("west").run("create", "configmap", "after-restart")
        assert read_line(west_watch) == "configmap/after-restart\n"
    finally:
        west_watch.terminate()
        west_watch.wait(10)
    after = sim.fleet.cluster("east")
    assert (after.port, after.server.admin_token) == (port, token)
    assert json.loads(k.run("get", "service", "nginx", "-o", "json").stdout)["metadata"]["uid"] == uid
    assert len(endpoints(k)[0]) == 2
    # The controllers came back: a new pod becomes ready and joins the endpoints.
    k.run("scale", "deployment", "nginx", "--replicas=3")
    wait_for(lambda: len(endpoints(k)[0]) == 3, what="3 ready endpoints after restart")
    assert sim.http("west", "/api/v1/namespaces/default/pods")[0] == 200


def test_faults_survive_a_restart(sim: Sim) -> None:
    call(sim, lambda f: f.fault("west", "unhealthy"))
    call(sim, lambda f: f.restart("west"))
    assert sim.http("west", "/readyz", token=None)[0] == 500
    call(sim, lambda f: f.clear("west"))
    assert sim.http("west", "/readyz", token=None)[0] == 200


def test_unknown_cluster_and_fault(sim: Sim) -> None:
    with pytest.raises(LookupError):
        call(sim, lambda f: f.fault("nowhere", "down"))
    with pytest.raises(ValueError, match="unknown fault"):
        call(sim, lambda f: f.fault("east", "on-fire"))


def test_aws_style_hostnames_resolve_through_the_fleet_dns(tmp_path: Path) -> None:
    s = start_sim(tmp_path, "aws=us-east-2/us-east-2a", hostnames={"aws"})
    try:
        s.thread.call(lambda f: f.add_cluster(parse_cluster("gcp=us-central1/us-central1-a")))
        k = s.kubectl("aws")
        k.run("create", "-f", "-", input=NGINX_SERVICE)
        ingress = wait_for(lambda: json.loads(k.run("get", "svc", "nginx", "-o", "json").stdout)["status"]
                           .get("loadBalancer", {}).get("ingress"), what="ingress")
        hostname = ingress[0]["hostname"]
        assert hostname.startswith("nginx-") and hostname.endswith(".us-east-2.elb.sim.kfed.test")
        host, port = s.fleet.dns_address
        answer = dns.query.udp(dns.message.make_query(hostname, "A"), host, port=port, timeout=5)
        (ip,) = [rd.address for rd in answer.answer[0]]
        assert ip.startswith("127.")
        # The other cluster gives IPs; its contexts were merged when it joined.
        g = s.kubectl("gcp")
        g.run("create", "-f", "-", input=NGINX_SERVICE)
        assert wait_for(lambda: json.loads(g.run("get", "svc", "nginx", "-o", "json").stdout)["status"]
                        .get("loadBalancer", {}).get("ingress"), what="gcp ingress")[0]["ip"].startswith("127.")
        k.run("delete", "svc", "nginx")
        wait_for(lambda: dns.query.udp(dns.message.make_query(hostname, "A"), host, port=port, timeout=5).rcode() == 3,
                 what="hostname removed from DNS")
    finally:
        s.thread.stop()


async def test_seed_layout_fleet_in_process(tmp_path: Path) -> None:
    from kfed.sim import seed_layout

    async with SimFleet(seed_layout(), data_dir=tmp_path / "sim", kubeconfig=tmp_path / "kc", options=FAST) as fleet:
        assert len(fleet.clusters) == 13
        assert len({c.url for c in fleet.clusters}) == 13
        assert len({c.server.admin_token for c in fleet.clusters}) == 13
        assert len({c.server.certs.ca_cert.read_bytes() for c in fleet.clusters}) == 13
        for c in fleet.clusters:
            nodes = (await c.objects.list(c.resource("nodes"), None)).items
            assert {n["metadata"]["labels"]["topology.kubernetes.io/zone"] for n in nodes} == {c.name}
        import yaml

        config = yaml.safe_load((tmp_path / "kc").read_text())
        assert sorted(ctx["name"] for ctx in config["contexts"]) == sorted(fleet.names)
