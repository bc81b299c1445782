"""`kfed controller-manager --metrics-port`: the DNS controller's Prometheus metrics over HTTP."""

from __future__ import annotations

import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.support.processes import ApiServerProcess, free_port
from tests.support.waiting import wait_for


def scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def test_controller_manager_serves_dns_metrics(apiserver: ApiServerProcess, tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "controller-manager.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "kfed", "controller-manager", "--kubeconfig", str(apiserver.kubeconfig),
             "--metrics-port", str(port), "--cluster-monitor-period", "0.5"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        def first_pass() -> dict[str, float] | None:
            if process.poll() is not None:
                raise AssertionError(f"controller-manager exited: {log.read_text()}")
            metrics = scrape(port)
            return metrics if metrics.get("kfed_dns_syncs_total", 0) >= 1 else None

        metrics = wait_for(first_pass, timeout=30, what="the DNS controller's first pass in the metrics")
        assert metrics is not None
        # The builtin provider listed its DNSRecordSets once, wrote nothing (no Services), failed never.
        assert metrics['kfed_dns_provider_lists_total{provider="builtin"}'] == 1
        assert metrics['kfed_dns_provider_requests_total{provider="builtin"}'] == 0
        assert metrics["kfed_dns_sync_errors_total"] == 0 and metrics["kfed_dns_sync_failing"] == 0
        assert metrics["kfed_dns_conflicts"] == 0
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
