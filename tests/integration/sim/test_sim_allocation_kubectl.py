"""Cluster IPs and node ports inside the simulated API's writes, seen with the real kubectl.

As from kube-apiserver, `kubectl create` prints the cluster IP and node ports it got (the create's
response carries them), a taken address is refused with kube-apiserver's message, a deleted
Service's address is free at once, and a restarted cluster remembers what its Services hold.
"""

from __future__ import annotations

import ipaddress
import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kfed.api import codec
from kfed.sim import FleetThread, SimOptions, parse_cluster
from kfed.sim.fleet import SimFleet
from tests.support.kubectl import Kubectl
from tests.support.waiting import wait_for

FAST = SimOptions(pod_start_delay=0.05, pod_ready_delay=0.05, freeze_heap=False)

WEB = textwrap.dedent("""\
    apiVersion: v1
    kind: Service
    metadata:
      name: web
    spec:
      type: NodePort
      selector:
        app: web
      ports:
      - name: http
        port: 80
    """)


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[tuple[FleetThread, Kubectl]]:
    kubeconfig = tmp_path / "kubeconfig"
    thread = FleetThread([parse_cluster("east=us-east1/us-east1-b")], data_dir=tmp_path / "sim", options=FAST,
                         kubeconfig=kubeconfig)
    thread.start()
    try:
        yield thread, Kubectl(kubeconfig, context="east")
    finally:
        thread.stop()


def service_cidr(thread: FleetThread) -> ipaddress.IPv4Network:
    return thread.fleet.cluster("east").plan.service_cidr


def test_kubectl_create_prints_the_cluster_ip_and_node_port(fleet: tuple[FleetThread, Kubectl]) -> None:
    thread, k = fleet
    out = k.run("create", "-f", "-", "-o", "jsonpath={.spec.clusterIP} {.spec.ports[0].nodePort}", input=WEB).stdout
    ip, node_port = out.split()
    assert ipaddress.IPv4Address(ip) in service_cidr(thread)
    assert 30000 <= int(node_port) <= 32767
    # Nothing changes it afterwards: the first read (no waiting) shows the same, and the object
    # was written once (kubectl's create is its only write besides the load balancer's, and a
    # NodePort Service has no load balancer).
    svc = json.loads(k.run("get", "service", "web", "-o", "json").stdout)
    assert svc["spec"]["clusterIP"] == ip and svc["spec"]["ports"][0]["nodePort"] == int(node_port)
    assert svc["metadata"]["resourceVersion"] == json.loads(
        k.run("get", "service", "web", "-o", "json").stdout)["metadata"]["resourceVersion"]
    table = k.run("get", "service", "web").stdout.splitlines()
    assert table[1].split()[:5] == ["web", "NodePort", ip, "<none>", f"80:{node_port}/TCP"]


def test_a_taken_address_is_refused_and_a_deleted_ones_is_free_at_once(fleet: tuple[FleetThread, Kubectl]) -> None:
    _, k = fleet
    ip = k.run("create", "-f", "-", "-o", "jsonpath={.spec.clusterIP}", input=WEB).stdout.strip()
    refused = k.run("create", "service", "clusterip", "other", f"--clusterip={ip}", "--tcp=80:80", check=False)
    assert refused.returncode != 0
    assert (f'Service "other" is invalid: spec.clusterIPs: Invalid value: []string{{"{ip}"}}: '
            f"failed to allocate IP {ip}: provided IP is already allocated") in refused.stderr
    k.run("delete", "service", "web")
    created = k.run("create", "service", "clusterip", "other", f"--clusterip={ip}", "--tcp=80:80",
                    "-o", "jsonpath={.spec.clusterIP}").stdout
    assert created == ip


def test_a_restarted_cluster_remembers_what_its_services_hold(fleet: tuple[FleetThread, Kubectl]) -> None:
    thread, k = fleet
    ip = k.run("create", "-f", "-", "-o", "jsonpath={.spec.clusterIP}", input=WEB).stdout.strip()

    async def restart(fleet: SimFleet) -> None:
        await fleet.restart("east")

    thread.call(restart)
    wait_for(lambda: k.run("get", "--raw", "/readyz", check=False).returncode == 0, what="east ready again")
    refused = k.run("create", "service", "clusterip", "other", f"--clusterip={ip}", "--tcp=80:80", check=False)
    assert "provided IP is already allocated" in refused.stderr


def test_a_service_stored_without_its_values_gets_them(fleet: tuple[FleetThread, Kubectl]) -> None:
    """The service controller's repair path, for a Service the allocator never saw (written to the
    store directly, as one from before the allocator would have been)."""
    thread, k = fleet
    cluster = thread.fleet.cluster("east")
    rt = cluster.resource("services")
    bare: dict[str, Any] = {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "bare", "namespace": "default", "uid": "0b0e5b1e-0000-4000-8000-000000000001",
                     "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {"type": "NodePort", "selector": {"app": "bare"}, "sessionAffinity": "None",
                 "ipFamilyPolicy": "SingleStack", "internalTrafficPolicy": "Cluster", "externalTrafficPolicy": "Cluster",
                 "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 80}]},
        "status": {"loadBalancer": {}}}

    async def write_bare(fleet: SimFleet) -> None:
        await fleet.cluster("east").server.store.create(rt.storage_key("default", "bare"), codec.dumps(bare))

    thread.call(write_bare)

    def allocated() -> dict[str, Any] | None:
        svc = json.loads(k.run("get", "service", "bare", "-o", "json").stdout)
        return svc if svc["spec"].get("clusterIP") and svc["spec"]["ports"][0].get("nodePort") else None

    svc = wait_for(allocated, what="the bare Service's cluster IP and node port")
    assert svc is not None and ipaddress.IPv4Address(svc["spec"]["clusterIP"]) in cluster.plan.service_cidr
