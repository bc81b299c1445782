"""The guide's 13 clusters in 4 regions, joined; a federated Service shows up in every one."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from tests.support.federation import running_federation
from tests.support.waiting import wait_for

SEED = ["asia-east1-a", "asia-east1-b", "asia-east1-c", "europe-west1-b", "europe-west1-c", "europe-west1-d",
        "us-central1-a", "us-central1-b", "us-central1-c", "us-central1-f", "us-east1-b", "us-east1-c", "us-east1-d"]

NGINX = textwrap.dedent("""\
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
        protocol: TCP
    """)


def test_thirteen_clusters(tmp_path: Path) -> None:
    with running_federation(tmp_path, sim_layout="seed") as (thread, kubectl):
        def ready() -> dict[str, dict]:
            items = kubectl.run("get", "clusters", "-o", "json").json()["items"]
            return {c["metadata"]["name"]: c for c in items
                    if any(x["type"] == "Ready" and x["status"] == "True" for x in c.get("status", {})
                           .get("conditions", [])) and c.get("status", {}).get("zones")}

        clusters = wait_for(lambda: len(ready()) == 13 and ready(), timeout=60, what="13 clusters Ready")
        assert sorted(clusters) == SEED
        assert clusters["us-central1-f"]["status"]["region"] == "us-central1"
        assert clusters["us-central1-f"]["status"]["zones"] == ["us-central1-f"]
        desc = kubectl.run("describe", "clusters").stdout
        assert desc.count("ClusterReady") >= 13
        (tmp_path / "nginx.yaml").write_text(NGINX)
        kubectl.run("--context=federation-cluster", "create", "-f", str(tmp_path / "nginx.yaml"))

        def everywhere() -> bool:
            for c in SEED:
                r = kubectl.run("get", "services", "nginx", context=c, check=False)
                if r.returncode != 0 or "LoadBalancer" not in r.stdout:
                    return False
            return True

        wait_for(everywhere, timeout=60, what="the shard in each of the 13 clusters")
        table = kubectl.run("get", "services", "nginx", context="asia-east1-a").stdout.splitlines()
        assert table[0].split()[:5] == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)"]
        assert table[1].split()[3].startswith("127."), "each shard has its own load-balancer address"

        def ingress() -> list[str]:
            svc = kubectl.run("get", "svc", "nginx", "-o", "json").json()
            return [i["ip"] for i in svc.get("status", {}).get("loadBalancer", {}).get("ingress", [])]

        ips = wait_for(lambda: len(ingress()) == 13 and ingress(), timeout=30, what="13 ingress addresses")
        desc = kubectl.run("describe", "services", "nginx").stdout
        line = next(x for x in desc.splitlines() if x.startswith("LoadBalancer Ingress:"))
        assert all(ip in line for ip in ips)
        assert len(set(ips)) == 13
        assert json.loads(kubectl.run("get", "svc", "nginx", "-o", "json").stdout)["spec"]["type"] == "LoadBalancer"
