"""`kfed sim` as a process, broken and mended with `kfed sim fault ...` from another process."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.support.kubectl import Kubectl
from tests.support.waiting import wait_for

SIM = [sys.executable, "-m", "kfed.cli.sim"]


@dataclass
class SimProcess:
    proc: subprocess.Popen[bytes]
    data_dir: Path
    kubeconfig: Path
    log: Path

    def kubectl(self, context: str) -> Kubectl:
        return Kubectl(self.kubeconfig, context=context)

    def ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        p = subprocess.run([*SIM, *args, "--data-dir", str(self.data_dir)], capture_output=True, text=True,
                           timeout=60)
        if check and p.returncode != 0:
            raise AssertionError(f"kfed sim {' '.join(args)} failed: {p.stdout}{p.stderr}")
        return p

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def start(tmp_path: Path, *args: str) -> SimProcess:
    data_dir, kubeconfig, log = tmp_path / "sim", tmp_path / "kubeconfig", tmp_path / "sim.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([*SIM, *args, "--data-dir", str(data_dir), "--kubeconfig", str(kubeconfig),
                                 "--pod-start-delay", "0.05", "--pod-ready-delay", "0.05"],
                                stdout=out, stderr=subprocess.STDOUT, env=dict(os.environ, COLUMNS="200"))
    sim = SimProcess(proc, data_dir, kubeconfig, log)

    def up() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"kfed sim exited with {proc.returncode}: {log.read_text()}")
        return (data_dir / "control.json").exists()

    try:
        wait_for(up, timeout=60, what="kfed sim control file")
    except BaseException:
        sim.stop()
        raise
    return sim


@pytest.fixture
def two(tmp_path: Path) -> Iterator[SimProcess]:
    sim = start(tmp_path, "--cluster", "alpha=europe-west1/europe-west1-b", "--cluster",
                "beta=europe-west1/europe-west1-c,europe-west1-d")
    try:
        yield sim
    finally:
        sim.stop()


def test_contexts_control_file_and_clean_exit(two: SimProcess) -> None:
    config = yaml.safe_load(two.kubeconfig.read_text())
    assert sorted(c["name"] for c in config["contexts"]) == ["alpha", "beta"]
    servers = {c["name"]: c["cluster"]["server"] for c in config["clusters"]}
    assert all(s.startswith("https://127.0.0.1:") for s in servers.values()) and len(set(servers.values())) == 2
    users = {u["name"]: u["user"]["token"] for u in config["users"]}
    assert users["alpha"] != users["beta"]
    assert stat.S_IMODE((two.data_dir / "control.json").stat().st_mode) == 0o600
    def printed() -> str:
        text = two.log.read_text()
        return text if "running until Ctrl-C" in text else ""

    log = wait_for(printed, what="the contexts printed")
    assert "alpha" in log and "beta" in log and servers["alpha"] in log and servers["beta"] in log
    zones = two.kubectl("beta").run("get", "nodes", "-L", "topology.kubernetes.io/zone").stdout
    assert "europe-west1-c" in zones and "europe-west1-d" in zones
    assert two.stop() == 0
    assert not (two.data_dir / "control.json").exists()


def test_fault_commands_break_and_mend_one_cluster(two: SimProcess) -> None:
    alpha, beta = two.kubectl("alpha"), two.kubectl("beta")
    assert "alpha: down" in two.ctl("fault", "down", "alpha").stdout
    failed = alpha.run("get", "nodes", check=False)
    assert failed.returncode != 0 and "refused" in failed.stderr
    assert beta.run("get", "nodes").returncode == 0
    listed = two.ctl("fault", "list").stdout
    assert "alpha" in listed and "down" in listed
    two.ctl("fault", "clear", "alpha", "down")
    assert alpha.run("get", "nodes").returncode == 0

    two.ctl("fault", "revoke-credentials", "beta")
    assert "must be logged in" in beta.run("get", "pods", check=False).stderr
    two.ctl("fault", "slow", "beta", "--latency", "0.2")
    status = json.loads(two.ctl("status", "-o", "json").stdout)
    faults = {c["name"]: c["faults"] for c in status["clusters"]}
    assert faults == {"alpha": {}, "beta": {"revoke-credentials": 0.0, "slow": 0.2}}
    two.ctl("fault", "clear", "beta")
    assert beta.run("get", "pods").returncode == 0

    two.ctl("fault", "forbid-writes", "alpha")
    assert "forbidden" in alpha.run("create", "configmap", "x", check=False).stderr
    two.ctl("fault", "clear", "alpha", "forbid-writes")
    two.ctl("fault", "unhealthy", "alpha")
    assert alpha.run("get", "--raw", "/readyz", check=False).returncode != 0
    two.ctl("fault", "clear", "alpha")
    assert alpha.run("get", "--raw", "/readyz").stdout == "ok"


def test_pod_fault_commands(two: SimProcess) -> None:
    k = two.kubectl("beta")
    k.run("run", "nginx", "--image=nginx:1.11.1-alpine", "--port=80")
    k.run("expose", "pod", "nginx", "--port=80", "--type=LoadBalancer")

    def ready() -> list[str]:
        ep = json.loads(k.run("get", "endpoints", "nginx", "-o", "json").stdout)
        return [a["ip"] for s in ep.get("subsets") or [] for a in s.get("addresses") or []]

    wait_for(lambda: len(ready()) == 1, what="ready endpoint")
    zone = json.loads(k.run("get", "node", json.loads(k.run("get", "pod", "nginx", "-o", "json").stdout)["spec"]
                             ["nodeName"], "-o", "json").stdout)["metadata"]["labels"]["topology.kubernetes.io/zone"]
    two.ctl("fault", "unready", "beta", "--pod", "nginx")
    wait_for(lambda: ready() == [], what="endpoint not ready")
    two.ctl("fault", "clear", "beta", "unready", "--pod", "nginx")
    wait_for(lambda: len(ready()) == 1, what="endpoint ready again")
    out = two.ctl("fault", "delete-pods", "beta", "--zone", zone).stdout
    assert "pod default/nginx deleted" in out
    assert "NotFound" in k.run("get", "pod", "nginx", check=False).stderr
    two.ctl("fault", "clear", "beta", "delete-pods", "--zone", zone)
    wait_for(lambda: len(ready()) == 1, what="pod restored and ready")
    bad = two.ctl("fault", "unready", "beta", "--pod", "nope", check=False)
    assert bad.returncode == 1 and "not found" in bad.stderr
    bad = two.ctl("fault", "unready", "beta", "--zone", "mars-1a", check=False)
    assert bad.returncode == 1 and "no zone" in bad.stderr


def test_restart_command(two: SimProcess) -> None:
    k = two.kubectl("alpha")
    k.run("create", "configmap", "keep", "--from-literal=a=b")
    assert "alpha: restarted" in two.ctl("restart", "alpha").stdout
    assert k.run("get", "configmap", "keep", "-o", "jsonpath={.data.a}").stdout == "b"


def test_bad_command_lines(tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*SIM, *args], capture_output=True, text=True, timeout=60)

    bad = run("--cluster", "oops", "--data-dir", str(tmp_path / "d"), "--no-kubeconfig")
    assert bad.returncode == 2 and "NAME=REGION/ZONE" in bad.stderr
    bad = run("--data-dir", str(tmp_path / "d"), "--no-kubeconfig")
    assert bad.returncode == 2 and "no clusters" in bad.stderr
    bad = run("--cluster", "a=r/z", "--lb-hostnames", "b", "--data-dir", str(tmp_path / "d"), "--no-kubeconfig")
    assert bad.returncode == 2 and "names no cluster" in bad.stderr
    bad = run("fault", "down", "a", "--data-dir", str(tmp_path / "nothing"))
    assert bad.returncode == 1 and "no simulation is running" in bad.stderr
    bad = run("fault", "down")
    assert bad.returncode == 2


def test_unknown_cluster_in_fault_command(two: SimProcess) -> None:
    bad = two.ctl("fault", "down", "gamma", check=False)
    assert bad.returncode == 1 and "no simulated cluster 'gamma'" in bad.stderr


def test_seed_layout(tmp_path: Path) -> None:
    sim = start(tmp_path, "--layout", "seed", "--lb-hostnames", "us-east1-b")
    try:
        config = yaml.safe_load(sim.kubeconfig.read_text())
        names = sorted(c["name"] for c in config["contexts"])
        assert names == sorted(["asia-east1-a", "asia-east1-b", "asia-east1-c", "europe-west1-b", "europe-west1-c",
                                "europe-west1-d", "us-central1-a", "us-central1-b", "us-central1-c", "us-central1-f",
                                "us-east1-b", "us-east1-c", "us-east1-d"])
        for name in ("asia-east1-c", "us-central1-f"):
            table = sim.kubectl(name).run("get", "nodes", "-L", "topology.kubernetes.io/zone").stdout.splitlines()
            assert [row.split()[-1] for row in table[1:]] == [name, name]
        k = sim.kubectl("us-east1-b")
        k.run("create", "service", "loadbalancer", "web", "--tcp=80:80")
        ingress = wait_for(lambda: json.loads(k.run("get", "svc", "web", "-o", "json").stdout)["status"]
                           .get("loadBalancer", {}).get("ingress"), what="ingress")
        assert ingress[0]["hostname"].endswith(".us-east1.elb.sim.kfed.test")
    finally:
        sim.stop()
