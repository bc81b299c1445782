"""`kfed demo` end to end: the guide's walkthrough; its checks are the assertions."""

from __future__ import annotations

import subprocess
import sys


def test_demo_runs_the_guide() -> None:
    p = subprocess.run([sys.executable, "-m", "kfed", "demo"], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout[-4000:] + p.stderr[-4000:]
    out = p.stdout
    assert "all " in out and "checks passed" in out
    assert "nginx.mynamespace.myfederation.svc.us-central1-f.example.com. CNAME 180 " \
           "nginx.mynamespace.myfederation.svc.us-central1.example.com." in out
    assert "nginx.mynamespace.myfederation.svc.europe-west1.example.com. CNAME 180 " \
           "nginx.mynamespace.myfederation.svc.example.com." in out
    assert "LoadBalancer Ingress:" in out
    # a pod in us-central1-a gets the local shard; one in us-central1-f climbs to its region
    assert "nginx.mynamespace.myfederation.svc.cluster.local. CNAME nginx.mynamespace.svc.cluster.local." in out
    assert "nginx.mynamespace.myfederation.svc.cluster.local. CNAME " \
           "nginx.mynamespace.myfederation.svc.us-central1-f.example.com." in out
    for timing in ("zone failover", "region failover", "recovery"):
        assert timing in out
