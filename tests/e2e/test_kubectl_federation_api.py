"""The real kubectl against a real `kfed apiserver` process: every command issue 2 names."""

from __future__ import annotations

import json
import signal
import stat
import subprocess
import textwrap
from pathlib import Path

import yaml

from tests.support.kubectl import Kubectl
from tests.support.processes import ApiServerProcess, start_apiserver

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

CLUSTER = textwrap.dedent("""\
    apiVersion: federation.kfed.io/v1beta1
    kind: Cluster
    metadata:
      name: us-central1-a
    spec:
      serverAddressByClientCIDRs:
      - clientCIDR: 0.0.0.0/0
        serverAddress: https://127.0.0.1:7443
      secretRef:
        name: us-central1-a
    """)


def write(tmp_path: Path, name: str, text: str) -> str:
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_create_get_describe_delete_service(kubectl: Kubectl, tmp_path: Path) -> None:
    out = kubectl.run("create", "-f", write(tmp_path, "nginx.yaml", NGINX)).stdout
    assert "service/nginx created" in out
    table = kubectl.run("get", "services").stdout.splitlines()
    assert table[0].split() == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    row = table[1].split()
    assert row[:5] == ["nginx", "LoadBalancer", "<none>", "<pending>", "80/TCP"]
    wide = kubectl.run("get", "services", "-o", "wide").stdout.splitlines()
    assert wide[0].split()[-1] == "SELECTOR" and wide[1].split()[-1] == "run=nginx"
    obj = kubectl.run("get", "service", "nginx", "-o", "json").json()
    port = obj["spec"]["ports"][0]
    assert port == {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 80}
    assert obj["spec"]["sessionAffinity"] == "None"
    assert "clusterIP" not in obj["spec"], "the federation allocates no cluster IPs"
    assert obj["metadata"]["uid"] and int(obj["metadata"]["resourceVersion"]) > 0
    as_yaml = yaml.safe_load(kubectl.run("get", "svc", "nginx", "-o", "yaml").stdout)
    assert as_yaml["metadata"]["name"] == "nginx"
    jp = kubectl.run("get", "svc", "nginx", "-o", "jsonpath={.spec.ports[0].port}/{.spec.type}").stdout
    assert jp == "80/LoadBalancer"
    assert "nginx" in kubectl.run("get", "svc", "-l", "run=nginx").stdout
    assert "No resources found" in kubectl.run("get", "svc", "-l", "run=other").stderr
    assert "nginx" in kubectl.run("get", "svc", "--field-selector", "metadata.name=nginx").stdout
    assert "No resources found" in kubectl.run("get", "svc", "--field-selector", "metadata.name=x").stderr
    desc = kubectl.run("describe", "services", "nginx").stdout
    for line in ("Name:", "Namespace:", "Labels:", "Selector:", "Type:", "Port:", "Session Affinity:"):
        assert line in desc, desc
    assert "LoadBalancer" in desc and "http  80/TCP" in desc
    out = kubectl.run("delete", "service", "nginx", "--wait").stdout
    assert 'service "nginx" deleted' in out
    assert kubectl.run("get", "svc", "nginx", check=False).returncode != 0


def test_apply_client_side_then_edit_then_server_side(kubectl: Kubectl, tmp_path: Path) -> None:
    f = write(tmp_path, "nginx.yaml", NGINX)
    assert "created" in kubectl.run("apply", "-f", f).stdout
    edited = NGINX.replace("    protocol: TCP\n", "    protocol: TCP\n  - name: https\n    port: 443\n")
    assert edited != NGINX
    write(tmp_path, "nginx.yaml", edited)
    assert "configured" in kubectl.run("apply", "-f", f).stdout
    ports = kubectl.run("get", "svc", "nginx", "-o", "json").json()["spec"]["ports"]
    assert [(p["name"], p["port"]) for p in ports] == [("http", 80), ("https", 443)]
    # drop the https port again: client-side apply removes what it applied before
    write(tmp_path, "nginx.yaml", NGINX)
    kubectl.run("apply", "-f", f)
    ports = kubectl.run("get", "svc", "nginx", "-o", "json").json()["spec"]["ports"]
    assert [p["port"] for p in ports] == [80]
    # server-side apply takes over, with the force the migration from client-side needs
    ssa = NGINX.replace("    run: nginx\n", "    run: nginx\n    tier: web\n", 1)
    assert ssa != NGINX
    g = write(tmp_path, "ssa.yaml", ssa)
    kubectl.run("apply", "--server-side", "--force-conflicts", "-f", g)
    obj = kubectl.run("get", "svc", "nginx", "-o", "json", "--show-managed-fields").json()
    assert obj["metadata"]["labels"] == {"run": "nginx", "tier": "web"}
    managers = {m["manager"]: m["operation"] for m in obj["metadata"]["managedFields"]}
    assert managers.get("kubectl") == "Apply"


def test_server_side_apply_conflict(kubectl: Kubectl, tmp_path: Path) -> None:
    f = write(tmp_path, "nginx.yaml", NGINX)
    kubectl.run("apply", "--server-side", "-f", f)
    other = NGINX.replace("type: LoadBalancer", "type: NodePort")
    g = write(tmp_path, "other.yaml", other)
    r = kubectl.run("apply", "--server-side", "--field-manager=other", "-f", g, check=False)
    assert r.returncode != 0 and "conflict" in r.stderr.lower() and ".spec.type" in r.stderr
    kubectl.run("apply", "--server-side", "--field-manager=other", "--force-conflicts", "-f", g)
    assert kubectl.run("get", "svc", "nginx", "-o", "jsonpath={.spec.type}").stdout == "NodePort"


def test_patch_label_annotate_edit(kubectl: Kubectl, tmp_path: Path) -> None:
    kubectl.run("create", "-f", write(tmp_path, "nginx.yaml", NGINX))
    kubectl.run("patch", "svc", "nginx", "--type=strategic", "-p",
                '{"spec":{"ports":[{"name":"https","port":443}]}}')
    ports = kubectl.run("get", "svc", "nginx", "-o", "json").json()["spec"]["ports"]
    assert sorted(p["port"] for p in ports) == [80, 443], "strategic merge keeps port 80 (merge key: port)"
    kubectl.run("patch", "svc", "nginx", "--type=merge", "-p", '{"spec":{"sessionAffinity":"ClientIP"}}')
    kubectl.run("patch", "svc", "nginx", "--type=json", "-p",
                '[{"op":"replace","path":"/spec/ports/0/name","value":"web"}]')
    obj = kubectl.run("get", "svc", "nginx", "-o", "json").json()
    assert obj["spec"]["sessionAffinity"] == "ClientIP"
    assert obj["spec"]["ports"][0]["name"] == "web"
    kubectl.run("label", "svc", "nginx", "team=edge")
    kubectl.run("annotate", "svc", "nginx", "federation.kfed.io/dns-ttl=30")
    obj = kubectl.run("get", "svc", "nginx", "-o", "json").json()
    assert obj["metadata"]["labels"]["team"] == "edge"
    assert obj["metadata"]["annotations"]["federation.kfed.io/dns-ttl"] == "30"
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/sessionAffinity: ClientIP/sessionAffinity: None/' \"$1\"\n")
    editor.chmod(editor.stat().st_mode | stat.S_IEXEC)
    kubectl.run("edit", "svc", "nginx", env=kubectl.env(KUBE_EDITOR=str(editor)))
    assert kubectl.run("get", "svc", "nginx", "-o", "jsonpath={.spec.sessionAffinity}").stdout == "None"


def test_invalid_service_gets_field_causes(kubectl: Kubectl, tmp_path: Path) -> None:
    bad = NGINX.replace("name: nginx\n  labels", "name: Nginx_1\n  labels").replace("port: 80", "port: 70000")
    r = kubectl.run("create", "-f", write(tmp_path, "bad.yaml", bad), check=False)
    assert r.returncode != 0
    assert 'Service "Nginx_1" is invalid' in r.stderr
    assert "metadata.name" in r.stderr and "spec.ports[0].port" in r.stderr
    unknown = NGINX.replace("  type: LoadBalancer", "  type: LoadBalancer\n  bogus: 1")
    r = kubectl.run("create", "-f", write(tmp_path, "unknown.yaml", unknown), check=False)
    assert r.returncode != 0 and 'unknown field "spec.bogus"' in r.stderr
    assert "No resources found" in kubectl.run("get", "svc").stderr


def test_watch_sees_changes(kubectl: Kubectl, tmp_path: Path) -> None:
    kubectl.run("create", "-f", write(tmp_path, "nginx.yaml", NGINX))
    watcher = kubectl.popen("get", "svc", "-w", "-o", "name")
    try:
        assert watcher.stdout is not None
        # the first line is the initial list: the watch is established once it is printed
        assert watcher.stdout.readline().strip() == "service/nginx"
        kubectl.run("label", "svc", "nginx", "x=y")
        kubectl.run("delete", "svc", "nginx")
        seen = [watcher.stdout.readline().strip() for _ in range(2)]
        assert seen == ["service/nginx", "service/nginx"]
    finally:
        watcher.kill()
        watcher.wait()


def test_wait_for_jsonpath_and_diff(kubectl: Kubectl, tmp_path: Path) -> None:
    f = write(tmp_path, "nginx.yaml", NGINX)
    kubectl.run("create", "-f", f)
    kubectl.run("wait", "--for=jsonpath={.spec.type}=LoadBalancer", "svc/nginx", "--timeout=20s")
    same = kubectl.run("diff", "-f", f, check=False)
    assert same.returncode == 0, same.stderr
    changed = write(tmp_path, "changed.yaml", NGINX.replace("type: LoadBalancer", "type: NodePort"))
    diff = kubectl.run("diff", "-f", changed, check=False)
    assert diff.returncode == 1 and "+  type: NodePort" in diff.stdout and "-  type: LoadBalancer" in diff.stdout
    # diff is a dry run: nothing changed
    assert kubectl.run("get", "svc", "nginx", "-o", "jsonpath={.spec.type}").stdout == "LoadBalancer"


def test_discovery_explain_raw(kubectl: Kubectl) -> None:
    res = kubectl.run("api-resources").stdout
    for needle in ("services", "svc", "clusters", "federation.kfed.io/v1beta1", "leases", "namespaces"):
        assert needle in res
    explain = kubectl.run("explain", "services.spec.ports").stdout
    assert "FIELD: ports" in explain or "RESOURCE: ports" in explain
    assert "targetPort" in explain and "protocol" in explain
    assert kubectl.run("get", "--raw", "/readyz").stdout.strip() == "ok"
    version = kubectl.run("version", "-o", "json").json()
    assert version["serverVersion"]["major"] == "1"


def test_namespace_create_and_delete(kubectl: Kubectl, tmp_path: Path) -> None:
    names = kubectl.run("get", "ns", "-o", "name").stdout.split()
    assert {"namespace/default", "namespace/kube-system", "namespace/federation-system"} <= set(names)
    kubectl.run("create", "namespace", "mynamespace")
    kubectl.run("create", "-n", "mynamespace", "-f", write(tmp_path, "nginx.yaml", NGINX))
    kubectl.run("delete", "namespace", "mynamespace", "--wait", "--timeout=30s")
    assert kubectl.run("get", "ns", "mynamespace", check=False).returncode != 0
    # the namespace's content went with it
    kubectl.run("create", "namespace", "mynamespace")
    assert "No resources found" in kubectl.run("get", "svc", "-n", "mynamespace").stderr


def test_cluster_object_from_yaml(kubectl: Kubectl, tmp_path: Path) -> None:
    kubectl.run("create", "-f", write(tmp_path, "cluster.yaml", CLUSTER))
    got = kubectl.run("get", "clusters").stdout.splitlines()
    assert got[0].split()[:2] == ["NAME", "READY"] and got[1].startswith("us-central1-a")
    desc = kubectl.run("describe", "clusters").stdout
    assert "us-central1-a" in desc and "127.0.0.1:7443" in desc


def test_security(apiserver: ApiServerProcess, kubectl: Kubectl, tmp_path: Path) -> None:
    status, body = apiserver.get("/api/v1/namespaces/default/services")
    assert status == 401 and json.loads(body)["reason"] == "Unauthorized"
    status, _ = apiserver.get("/api/v1/namespaces/default/services", token=apiserver.readonly_token)
    assert status == 200
    env = kubectl.env()
    reader = subprocess.run(
        ["kubectl", "--server", apiserver.url, "--certificate-authority",
         str(apiserver.data_dir / "pki" / "ca.crt"), "--token", apiserver.readonly_token,
         "create", "-f", write(tmp_path, "nginx.yaml", NGINX)],
        capture_output=True, text=True, env=env, timeout=60)
    assert reader.returncode != 0 and "forbidden" in reader.stderr.lower()
    # tokens never show up in the server's log
    assert apiserver.admin_token not in apiserver.log()
    mode = (apiserver.data_dir / "tokens" / "admin.token").stat().st_mode & 0o777
    assert mode == 0o600


def test_write_survives_kill_9(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    server = start_apiserver(tmp_path / "data", kubeconfig)
    kubectl = Kubectl(kubeconfig)
    try:
        for i in range(20):
            kubectl.run("create", "-f", write(tmp_path, f"s{i}.yaml", NGINX.replace("name: nginx\n", f"name: s{i}\n")))
        server.kill(signal.SIGKILL)
        server = start_apiserver(tmp_path / "data", kubeconfig, port=server.port)
        names = kubectl.run("get", "svc", "-o", "name").stdout.split()
        assert sorted(names) == sorted(f"service/s{i}" for i in range(20))
    finally:
        server.kill(signal.SIGKILL)


def test_kubeconfig_merge_keeps_other_contexts(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "mine",
        "clusters": [{"name": "mine", "cluster": {"server": "https://10.0.0.1"}}],
        "users": [{"name": "mine", "user": {"token": "x"}}],
        "contexts": [{"name": "mine", "context": {"cluster": "mine", "user": "mine"}}]}))
    server = start_apiserver(tmp_path / "data", kubeconfig)
    try:
        cfg = yaml.safe_load(kubeconfig.read_text())
        assert {c["name"] for c in cfg["contexts"]} == {"mine", "federation-cluster"}
        assert cfg["current-context"] == "mine"
        assert Kubectl(kubeconfig).run("get", "ns", "default", "-o", "name").stdout.strip() == "namespace/default"
    finally:
        server.kill()
