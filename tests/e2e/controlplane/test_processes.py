"""kfed as separate processes: apiserver, `kfed join`, two controller-managers (HA), `kfed unjoin`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kfed.sim.layout import parse_cluster
from kfed.sim.threaded import FleetThread
from tests.support.kubectl import Kubectl
from tests.support.processes import ApiServerProcess, start_apiserver
from tests.support.waiting import wait_for

SVC = textwrap.dedent("""\
    apiVersion: v1
    kind: Service
    metadata:
      name: {name}
    spec:
      type: LoadBalancer
      selector:
        run: nginx
      ports:
      - name: http
        port: 80
    """)


def kfed(*args: str, kubeconfig: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    p = subprocess.run([sys.executable, "-m", "kfed", *args], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, KUBECONFIG=str(kubeconfig)))
    if check and p.returncode != 0:
        raise AssertionError(f"kfed {' '.join(args)} failed: {p.stdout}\n{p.stderr}")
    return p


def start_manager(kubeconfig: Path, identity: str, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "kfed", "controller-manager", "--kubeconfig", str(kubeconfig), "--identity", identity,
         "--cluster-monitor-period", "0.5", "--cluster-probe-timeout", "1", "--leader-elect-lease-duration", "2",
         "--leader-elect-renew-deadline", "1.5", "--leader-elect-retry-period", "0.3", "--log-level", "info"],
        stdout=log.open("ab"), stderr=subprocess.STDOUT)


@pytest.fixture
def plane(tmp_path: Path) -> Iterator[tuple[ApiServerProcess, Kubectl, FleetThread]]:
    kubeconfig = tmp_path / "kubeconfig"
    server = start_apiserver(tmp_path / "data", kubeconfig)
    sim = FleetThread([parse_cluster("east=us-east1/us-east1-b"), parse_cluster("west=us-west1/us-west1-a")],
                      data_dir=tmp_path / "sim", kubeconfig=kubeconfig)
    try:
        sim.start()
        yield server, Kubectl(kubeconfig), sim
    finally:
        sim.stop()
        server.kill()


def holder(kubectl: Kubectl) -> str:
    r = kubectl.run("-n", "federation-system", "get", "lease", "kfed-controller-manager", "-o", "json", check=False)
    return json.loads(r.stdout)["spec"].get("holderIdentity", "") if r.returncode == 0 else ""


def member_svc(kubectl: Kubectl, cluster: str, name: str) -> dict[str, Any] | None:
    r = kubectl.run("get", "svc", name, "-o", "json", context=cluster, check=False)
    return json.loads(r.stdout) if r.returncode == 0 else None


def test_join_ha_handover_and_unjoin(plane: tuple[ApiServerProcess, Kubectl, FleetThread], tmp_path: Path) -> None:
    server, kubectl, sim = plane
    kubeconfig = server.kubeconfig
    for name in ("east", "west"):
        out = kfed("join", name, "--cluster-context", name, kubeconfig=kubeconfig).stdout
        assert f'cluster "{name}" joined' in out
    secret = kubectl.run("-n", "federation-system", "get", "secret", "east", "-o", "json").json()
    assert "kubeconfig" in secret["data"]
    cm = kubectl.run("-n", "kube-system", "get", "configmap", "kube-dns", "-o", "json", context="east").json()
    assert cm["data"]["federations"] == "myfederation=example.com"
    logs = [tmp_path / "cm-a.log", tmp_path / "cm-b.log"]
    managers = {"cm-a": start_manager(kubeconfig, "cm-a", logs[0]), "cm-b": start_manager(kubeconfig, "cm-b", logs[1])}
    try:
        first = wait_for(lambda: holder(kubectl), timeout=30, what="a leader")
        assert first in managers
        kubectl.run("create", "-f", "-", input=SVC.format(name="before"))
        wait_for(lambda: member_svc(kubectl, "east", "before") and member_svc(kubectl, "west", "before"),
                 timeout=30, what="shards from the first leader")
        managers[first].send_signal(signal.SIGKILL)
        managers[first].wait(10)
        second = wait_for(lambda: holder(kubectl) if holder(kubectl) not in ("", first) else "", timeout=30,
                          what="the standby takes the lease")
        assert second != first
        kubectl.run("create", "-f", "-", input=SVC.format(name="after"))
        wait_for(lambda: member_svc(kubectl, "east", "after") and member_svc(kubectl, "west", "after"), timeout=30,
                 what="shards from the new leader")
        # an adopted Service in west survives `unjoin --delete-services`; the created one goes
        kubectl.run("create", "-f", "-", input=SVC.format(name="kept").replace("LoadBalancer", "ClusterIP"),
                    context="west")
        kubectl.run("create", "-f", "-", input=SVC.format(name="kept"))
        wait_for(lambda: (member_svc(kubectl, "west", "kept") or {}).get("metadata", {}).get("annotations", {})
                 .get("federation.kfed.io/origin") == "adopted", timeout=30, what="adopted")
        out = kfed("unjoin", "west", "--delete-services", kubeconfig=kubeconfig).stdout
        assert 'cluster "west" unjoined' in out
        assert kubectl.run("get", "cluster", "west", check=False).returncode != 0
        assert kubectl.run("-n", "federation-system", "get", "secret", "west", check=False).returncode != 0
        assert member_svc(kubectl, "west", "after") is None, "kfed-created Services are deleted"
        assert member_svc(kubectl, "west", "kept") is not None, "adopted Services are never deleted"
        assert member_svc(kubectl, "east", "after") is not None, "other clusters are untouched"
        cm = kubectl.run("-n", "kube-system", "get", "configmap", "kube-dns", "-o", "json", context="west").json()
        assert "myfederation" not in cm["data"].get("federations", "")
    finally:
        for p in managers.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()


def test_join_with_a_missing_context_fails_cleanly(plane: tuple[ApiServerProcess, Kubectl, FleetThread]) -> None:
    server, kubectl, _ = plane
    r = kfed("join", "ghost", "--cluster-context", "no-such-context", kubeconfig=server.kubeconfig, check=False)
    assert r.returncode != 0 and "no-such-context" in r.stderr and "Traceback" not in r.stderr
    assert kubectl.run("get", "cluster", "ghost", check=False).returncode != 0


def test_init_writes_settings(tmp_path: Path) -> None:
    r = kfed("init", "myfederation", "--dns-provider", "builtin", "--dns-zone-name", "example.com.",
             "--data-dir", str(tmp_path / "d"), kubeconfig=tmp_path / "kc")
    assert "myfederation" in r.stdout
    text = (tmp_path / "d" / "federation.yaml").read_text()
    assert "dnsZoneName: example.com." in text and "dnsProvider: builtin" in text
    assert ((tmp_path / "d" / "federation.yaml").stat().st_mode & 0o777) == 0o600
