"""`kfed cluster-dns` as a process, asked with the real dig; `kfed coredns-config` against a member."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from kfed.cli.cluster_dns import coredns_config
from kfed.dns.corefile import federated_name_regex
from tests.e2e.clusterdns.conftest import NAMESPACE, Federation
from tests.support.processes import free_port
from tests.support.waiting import wait_for

FEDERATED = f"nginx.{NAMESPACE}.myfederation.svc.cluster.local."


def dig_short(port: int, name: str, rdtype: str = "A") -> list[str]:
    result = subprocess.run(
        ["dig", "@127.0.0.1", "-p", str(port), "+time=2", "+tries=1", "+short", name, rdtype],
        capture_output=True,
        text=True,
        timeout=15,
    )
    return result.stdout.split() if result.returncode == 0 else []


def test_cluster_dns_command(federation: Federation, tmp_path: Path) -> None:
    port = free_port()
    host, fed_port = federation.dns_address
    log_path = tmp_path / "cluster-dns.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kfed.cli.cluster_dns",
                "--cluster",
                "us-central1-f",
                "--kubeconfig",
                str(federation.kubeconfig),
                "--listen",
                f"127.0.0.1:{port}",
                "--upstream",
                f"{host}:{fed_port}",
                "--log-level",
                "info",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
        )
        try:

            def answering() -> list[str]:
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"cluster-dns exited {proc.returncode}: {log_path.read_text()[-2000:]}"
                    )
                return dig_short(port, FEDERATED)

            # federations from the member's kube-dns ConfigMap (kfed join wrote it), zone from its nodes
            lines = wait_for(answering, timeout=60, what="kfed cluster-dns answering")
            assert lines == [
                f"nginx.{NAMESPACE}.myfederation.svc.us-central1-f.example.com.",
                f"nginx.{NAMESPACE}.myfederation.svc.us-central1.example.com.",
                federation.lb_ip,
            ]
            assert dig_short(port, f"nginx.{NAMESPACE}.svc.cluster.local.")  # the local ClusterIP
            assert (
                "event=synced zone=us-central1-f region=us-central1 federations=myfederation=example.com."
                in log_path.read_text()
            )
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    assert proc.returncode == 0, log_path.read_text()[-2000:]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", port))  # the port is free again


def test_coredns_config_reads_the_member(federation: Federation) -> None:
    host, port = federation.dns_address
    result = CliRunner().invoke(
        coredns_config,
        [
            "--cluster",
            "us-central1-f",
            "--kubeconfig",
            str(federation.kubeconfig),
            "--federation-dns",
            f"{host}:{port}",
        ],
    )
    assert result.exit_code == 0, result.output
    text = result.output
    assert "zone us-central1-f, region us-central1" in text
    assert "template IN ANY myfederation.svc.cluster.local {" in text
    assert f'match "{federated_name_regex("myfederation", "cluster.local.")}"' in text
    assert "IN CNAME {{ .Group.svc }}.{{ .Group.ns }}.myfederation.svc.us-central1-f.example.com." in text
    assert f"example.com:53 {{\n    errors\n    forward . {host}:{port}\n}}" in text


def test_coredns_config_unreachable_cluster_is_a_clean_error(tmp_path: Path, federation: Federation) -> None:
    result = CliRunner().invoke(
        coredns_config, ["--cluster", "no-such-context", "--kubeconfig", str(federation.kubeconfig)]
    )
    assert result.exit_code != 0
    assert "no-such-context" in result.output and "Traceback" not in result.output
