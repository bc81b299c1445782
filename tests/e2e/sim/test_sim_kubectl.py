"""The real kubectl against simulated member clusters: every command of issue 3, point 5."""

from __future__ import annotations

import ipaddress
import json
import textwrap
from typing import Any

from sim_e2e import Sim

from tests.support.kubectl import Kubectl
from tests.support.waiting import wait_for

NGINX_SERVICE = textwrap.dedent("""\
    apiVersion: v1
    kind: Service
    metadata:
      name: nginx
      labels:
        run: nginx
    spec:
      type: LoadBalancer
      selector:
        run: nginx
      ports:
      - name: http
        port: 80
    """)


def get_json(k: Kubectl, *args: str) -> Any:
    return json.loads(k.run("get", *args, "-o", "json").stdout)


def pod_ready(k: Kubectl, name: str) -> bool:
    pod = get_json(k, "pod", name)
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", []))


def ready_ips(k: Kubectl, service: str) -> list[str]:
    ep = get_json(k, "endpoints", service)
    return sorted(a["ip"] for s in ep.get("subsets") or [] for a in s.get("addresses") or [])


def test_run_nginx_becomes_ready_and_backs_a_service(sim: Sim) -> None:
    k = sim.kubectl("east")
    out = k.run("run", "nginx", "--image=nginx:1.11.1-alpine", "--port=80").stdout
    assert "pod/nginx created" in out
    k.run("create", "-f", "-", input=NGINX_SERVICE)
    wait_for(lambda: pod_ready(k, "nginx"), what="pod nginx Ready")
    pod = get_json(k, "pod", "nginx")
    assert pod["metadata"]["labels"] == {"run": "nginx"}
    assert pod["status"]["phase"] == "Running"
    pod_ip, node = pod["status"]["podIP"], pod["spec"]["nodeName"]
    assert ipaddress.IPv4Address(pod_ip) in sim.fleet.cluster("east").plan.pod_cidr
    assert wait_for(lambda: ready_ips(k, "nginx") == [pod_ip], what="pod IP in the endpoints")
    zone = get_json(k, "node", node)["metadata"]["labels"]["topology.kubernetes.io/zone"]
    slices = get_json(k, "endpointslices", "-l", "kubernetes.io/service-name=nginx")["items"]
    (endpoint,) = [e for s in slices for e in s["endpoints"]]
    assert endpoint["addresses"] == [pod_ip] and endpoint["zone"] == zone and endpoint["conditions"]["ready"]
    assert endpoint["targetRef"]["name"] == "nginx"
    wait_for(lambda: get_json(k, "service", "nginx")["status"].get("loadBalancer", {}).get("ingress"),
             what="load balancer ingress")
    svc = get_json(k, "service", "nginx")
    ip = svc["status"]["loadBalancer"]["ingress"][0]["ip"]
    assert ipaddress.IPv4Address(ip) in sim.fleet.cluster("east").plan.lb_pool
    assert ipaddress.IPv4Address(ip) in ipaddress.IPv4Network("127.0.0.0/8")
    assert ipaddress.IPv4Address(svc["spec"]["clusterIP"]) in sim.fleet.cluster("east").plan.service_cidr
    assert 30000 <= svc["spec"]["ports"][0]["nodePort"] <= 32767
    # The other cluster has none of it.
    assert "No resources found" in sim.kubectl("west").run("get", "pods").stderr


def test_get_nodes_with_zone_labels(sim: Sim) -> None:
    table = sim.kubectl("east").run("get", "nodes", "-L", "topology.kubernetes.io/zone").stdout.splitlines()
    assert table[0].split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION", "ZONE"]
    rows = [line.split() for line in table[1:]]
    assert sorted((r[0], r[1], r[-1]) for r in rows) == [
        ("us-east1-b-node-0", "Ready", "us-east1-b"), ("us-east1-b-node-1", "Ready", "us-east1-b"),
        ("us-east1-c-node-0", "Ready", "us-east1-c"), ("us-east1-c-node-1", "Ready", "us-east1-c")]
    legacy = sim.kubectl("west").run("get", "nodes", "-L", "failure-domain.beta.kubernetes.io/region").stdout
    assert legacy.splitlines()[1].split()[-1] == "us-west1"


def test_get_pods_svc_endpoints_endpointslices(sim: Sim) -> None:
    k = sim.kubectl("west")
    k.run("run", "nginx", "--image=nginx:1.11.1-alpine", "--port=80")
    k.run("create", "-f", "-", input=NGINX_SERVICE)
    wait_for(lambda: len(ready_ips(k, "nginx")) == 1, what="ready endpoint")
    out = k.run("get", "pods,svc,endpoints,endpointslices").stdout
    for expected in ("pod/nginx", "1/1", "Running", "service/nginx", "LoadBalancer", "endpoints/nginx",
                     "endpointslice.discovery.k8s.io/nginx-", "IPv4"):
        assert expected in out, out
    wide = k.run("get", "pods", "-o", "wide").stdout.splitlines()
    assert wide[1].split()[6].startswith("us-west1-a-node-")


def test_describe_service(sim: Sim) -> None:
    k = sim.kubectl("east")
    k.run("run", "nginx", "--image=nginx:1.11.1-alpine", "--port=80")
    k.run("create", "-f", "-", input=NGINX_SERVICE)
    ip = wait_for(lambda: ready_ips(k, "nginx"), what="ready endpoint")[0]

    def described() -> str:
        text = k.run("describe", "service", "nginx").stdout
        return text if "EnsuredLoadBalancer" in text else ""

    desc = wait_for(described, what="describe with load balancer events")
    assert f"Endpoints:                {ip}:80" in desc
    assert "LoadBalancer Ingress:     127." in desc
    assert "Selector:                 run=nginx" in desc
    assert "service-controller" in desc


def test_create_deployment_scale_and_delete_pod(sim: Sim) -> None:
    k = sim.kubectl("east")
    k.run("create", "deployment", "web", "--image=nginx:1.11.1-alpine", "--replicas=2", "--port=80")
    k.run("rollout", "status", "deployment/web", "--timeout=30s")

    def ready_pods() -> list[str]:
        return sorted(p["metadata"]["name"] for p in get_json(k, "pods", "-l", "app=web")["items"]
                      if any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", [])))

    wait_for(lambda: len(ready_pods()) == 2, what="2 ready pods")
    rs = get_json(k, "replicasets", "-l", "app=web")["items"]
    assert len(rs) == 1 and rs[0]["metadata"]["ownerReferences"][0]["kind"] == "Deployment"
    assert "deployment.apps/web scaled" in k.run("scale", "deployment", "web", "--replicas=4").stdout
    wait_for(lambda: len(ready_pods()) == 4, what="4 ready pods")
    k.run("rollout", "status", "deployment/web", "--timeout=30s")
    deploy = get_json(k, "deployment", "web")
    assert deploy["status"]["readyReplicas"] == deploy["status"]["availableReplicas"] == 4
    # The pods spread over both zones (round-robin over the nodes).
    zones = {get_json(k, "node", p["spec"]["nodeName"])["metadata"]["labels"]["topology.kubernetes.io/zone"]
             for p in get_json(k, "pods", "-l", "app=web")["items"]}
    assert zones == {"us-east1-b", "us-east1-c"}
    k.run("scale", "deployment", "web", "--replicas=1")
    wait_for(lambda: len(get_json(k, "pods", "-l", "app=web")["items"]) == 1, what="scaled down to 1 pod")
    # delete pod returns once the pod is gone; the ReplicaSet replaces it.
    (victim,) = ready_pods()
    assert f'pod "{victim}" deleted' in k.run("delete", "pod", victim, timeout=30).stdout
    wait_for(lambda: len(ready_pods()) == 1 and victim not in ready_pods(), what="replacement pod")


def test_delete_pod_leaves_the_endpoints(sim: Sim) -> None:
    k = sim.kubectl("west")
    k.run("run", "nginx", "--image=nginx:1.11.1-alpine", "--port=80")
    k.run("create", "-f", "-", input=NGINX_SERVICE)
    wait_for(lambda: len(ready_ips(k, "nginx")) == 1, what="ready endpoint")
    k.run("delete", "pod", "nginx", timeout=30)
    assert "NotFound" in k.run("get", "pod", "nginx", check=False).stderr
    wait_for(lambda: ready_ips(k, "nginx") == [], what="endpoint gone")
    slices = get_json(k, "endpointslices", "-l", "kubernetes.io/service-name=nginx")["items"]
    assert [s["endpoints"] for s in slices] == [[]]


def test_invalid_objects_are_refused_as_by_the_api_server(sim: Sim) -> None:
    k = sim.kubectl("east")
    bad = NGINX_SERVICE.replace("port: 80", "port: 70000")
    result = k.run("create", "-f", "-", input=bad, check=False)
    assert result.returncode != 0 and "Invalid value" in result.stderr
    assert "doesn't have a resource type" in k.run("get", "widgets", check=False).stderr
