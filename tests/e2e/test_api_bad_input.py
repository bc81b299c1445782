"""Bad input over HTTP: clear Status errors, nothing written, the server stays up."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

from tests.support.processes import ApiServerProcess, start_apiserver

SVC = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
       "spec": {"ports": [{"port": 80}], "selector": {"app": "web"}}}


def call(server: ApiServerProcess, method: str, path: str, body: bytes | None = None,
         ctype: str = "application/json", token: str | None = "admin") -> tuple[int, Any]:
    req = urllib.request.Request(server.url + path, data=body, method=method)
    req.add_header("Content-Type", ctype)
    if token:
        req.add_header("Authorization", f"Bearer {server.admin_token if token == 'admin' else token}")
    try:
        with urllib.request.urlopen(req, context=server.ssl_context(), timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


SERVICES = "/api/v1/namespaces/default/services"


def assert_nothing_written(server: ApiServerProcess) -> None:
    code, body = call(server, "GET", SERVICES)
    assert code == 200 and body["items"] == []


def test_malformed_json_and_yaml(apiserver: ApiServerProcess) -> None:
    code, body = call(apiserver, "POST", SERVICES, b"{not json")
    assert code == 400 and body["kind"] == "Status" and body["reason"] == "BadRequest"
    code, body = call(apiserver, "POST", SERVICES, b"a: [b", ctype="application/yaml")
    assert code == 400 and body["reason"] == "BadRequest"
    assert_nothing_written(apiserver)


def test_unknown_field_strict_names_the_path(apiserver: ApiServerProcess) -> None:
    obj = json.loads(json.dumps(SVC))
    obj["spec"]["ports"][0]["bogus"] = True
    code, body = call(apiserver, "POST", SERVICES + "?fieldValidation=Strict", json.dumps(obj).encode())
    assert code == 400 and 'unknown field "spec.ports[0].bogus"' in body["message"]
    assert_nothing_written(apiserver)
    code, body = call(apiserver, "POST", SERVICES + "?fieldValidation=Ignore", json.dumps(obj).encode())
    assert code == 201 and "bogus" not in body["spec"]["ports"][0]


def test_invalid_object_one_cause_per_field(apiserver: ApiServerProcess) -> None:
    obj = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
           "spec": {"ports": [{"port": 0}, {"port": 80}], "type": "Bogus"}}
    code, body = call(apiserver, "POST", SERVICES, json.dumps(obj).encode())
    assert code == 422 and body["reason"] == "Invalid"
    fields = {c["field"] for c in body["details"]["causes"]}
    assert {"spec.ports[0].port", "spec.ports[0].name", "spec.type"} <= fields
    assert_nothing_written(apiserver)


def test_wrong_kind_or_version_for_url(apiserver: ApiServerProcess) -> None:
    code, body = call(apiserver, "POST", SERVICES, json.dumps({**SVC, "kind": "ConfigMap"}).encode())
    assert code == 400
    code, body = call(apiserver, "POST", SERVICES, json.dumps({**SVC, "apiVersion": "apps/v1"}).encode())
    assert code == 400
    assert_nothing_written(apiserver)


def test_unknown_resource_404(apiserver: ApiServerProcess) -> None:
    code, body = call(apiserver, "GET", "/api/v1/namespaces/default/widgets")
    assert code == 404 and body["kind"] == "Status"
    code, body = call(apiserver, "GET", "/apis/nope.io/v1/things")
    assert code == 404


def test_body_too_large_413(apiserver: ApiServerProcess) -> None:
    big = json.dumps({**SVC, "metadata": {"name": "big", "annotations": {"x": "y" * (3 * 1024 * 1024 + 10)}}})
    code, body = call(apiserver, "POST", SERVICES, big.encode())
    assert code == 413 and body["reason"] == "RequestEntityTooLarge"
    assert_nothing_written(apiserver)


def test_conflict_on_stale_resource_version(apiserver: ApiServerProcess) -> None:
    code, created = call(apiserver, "POST", SERVICES, json.dumps(SVC).encode())
    assert code == 201
    stale = json.loads(json.dumps(created))
    created["metadata"]["labels"] = {"a": "b"}
    code, updated = call(apiserver, "PUT", SERVICES + "/web", json.dumps(created).encode())
    assert code == 200 and updated["metadata"]["resourceVersion"] != stale["metadata"]["resourceVersion"]
    stale["metadata"]["labels"] = {"c": "d"}
    code, body = call(apiserver, "PUT", SERVICES + "/web", json.dumps(stale).encode())
    assert code == 409 and body["reason"] == "Conflict"


def test_dry_run_writes_nothing(apiserver: ApiServerProcess) -> None:
    code, body = call(apiserver, "POST", SERVICES + "?dryRun=All", json.dumps(SVC).encode())
    assert code == 201 and body["spec"]["ports"][0]["protocol"] == "TCP"
    assert_nothing_written(apiserver)


def test_no_anonymous_access_and_reader_cannot_write(apiserver: ApiServerProcess) -> None:
    code, body = call(apiserver, "POST", SERVICES, json.dumps(SVC).encode(), token=None)
    assert code == 401
    code, body = call(apiserver, "POST", SERVICES, json.dumps(SVC).encode(), token=apiserver.readonly_token)
    assert code == 403 and body["reason"] == "Forbidden"
    code, body = call(apiserver, "GET", SERVICES, token="not-a-token")
    assert code == 401
    assert_nothing_written(apiserver)


def test_list_paging_and_watch_410(apiserver: ApiServerProcess) -> None:
    for i in range(7):
        obj = {**SVC, "metadata": {"name": f"web{i}"}}
        assert call(apiserver, "POST", SERVICES, json.dumps(obj).encode())[0] == 201
    names: list[str] = []
    cont = ""
    pages = 0
    while True:
        code, body = call(apiserver, "GET", SERVICES + f"?limit=3&continue={cont}")
        assert code == 200
        names += [i["metadata"]["name"] for i in body["items"]]
        pages += 1
        cont = body["metadata"].get("continue", "")
        if not cont:
            break
    assert pages == 3 and names == [f"web{i}" for i in range(7)]


def test_watch_from_compacted_revision_is_410(tmp_path: Path) -> None:
    server = start_apiserver(tmp_path / "data", tmp_path / "kubeconfig")
    try:
        assert call(server, "POST", SERVICES, json.dumps(SVC).encode())[0] == 201
        server.kill()  # history before a restart is gone: older revisions are compacted
        server = start_apiserver(tmp_path / "data", tmp_path / "kubeconfig", port=server.port)
        code, body = call(server, "GET", SERVICES + "?watch=1&resourceVersion=1&timeoutSeconds=1")
        assert code == 410 and body["code"] == 410 and body["reason"] == "Expired"
        code, body = call(server, "GET", SERVICES)
        assert code == 200 and [i["metadata"]["name"] for i in body["items"]] == ["web"]
    finally:
        server.kill()


def test_metrics_and_health(apiserver: ApiServerProcess) -> None:
    assert call(apiserver, "POST", SERVICES, json.dumps(SVC).encode())[0] == 201
    for path in ("/healthz", "/livez", "/readyz"):
        assert apiserver.get(path)[0] == 200, path
    assert apiserver.get("/metrics")[0] == 401, "metrics need credentials"
    code, body = apiserver.get("/metrics", token=apiserver.admin_token)
    text = body.decode()
    assert code == 200
    assert 'apiserver_request_total{code="201",group="",resource="services",verb="POST"} 1.0' in text
    assert "apiserver_request_duration_seconds_bucket" in text
