"""Helpers of the simulated-cluster end-to-end tests: a fleet in a background thread of the test
process, the real kubectl and plain HTTPS against its clusters."""

from __future__ import annotations

import dataclasses
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from kfed.sim import FleetThread, SimOptions, parse_cluster
from kfed.sim.fleet import SimFleet
from tests.support.kubectl import Kubectl

# Small delays: Pending -> Running -> Ready within ~0.1 s, tests wait on conditions anyway.
FAST = SimOptions(pod_start_delay=0.05, pod_ready_delay=0.05)


@dataclass
class Sim:
    thread: FleetThread
    kubeconfig: Path

    @property
    def fleet(self) -> SimFleet:
        return self.thread.fleet

    def kubectl(self, context: str) -> Kubectl:
        return Kubectl(self.kubeconfig, context=context)

    def http(self, cluster: str, path: str, *, token: str | None = "admin", method: str = "GET",
             body: bytes | None = None) -> tuple[int, bytes, float]:
        """(status, body, seconds) of one HTTPS request to a cluster's API ("admin": its admin token)."""
        c = self.fleet.cluster(cluster)
        req = urllib.request.Request(c.url + path, method=method, data=body,
                                     headers={"Content-Type": "application/json"})
        if token == "admin":
            token = c.server.admin_token
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        ctx = ssl.create_default_context(cafile=str(c.server.certs.ca_cert))
        started = time.monotonic()
        try:
            with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
                return r.status, r.read(), time.monotonic() - started
        except urllib.error.HTTPError as e:
            return e.code, e.read(), time.monotonic() - started


def start_sim(tmp_path: Path, *clusters: str, options: SimOptions = FAST, hostnames: set[str] | None = None) -> Sim:
    """Clusters given as NAME=REGION/ZONE[,ZONE...]; those in `hostnames` get AWS-style load balancers."""
    kubeconfig = tmp_path / "kubeconfig"
    specs = [dataclasses.replace(spec, lb_hostnames=spec.name in (hostnames or set()))
             for spec in map(parse_cluster, clusters)]
    thread = FleetThread(specs, data_dir=tmp_path / "sim", options=options, kubeconfig=kubeconfig)
    thread.start()
    return Sim(thread, kubeconfig)
