"""The real kubectl reads our OpenAPI v3 documents: `kubectl explain` against a tiny server that
serves them with the discovery kubectl needs to map resource names (the full API server is tested
elsewhere; this pins the document shape kubectl's explain template depends on)."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from kfed.model.openapi import OpenAPIDocuments, build_documents
from kfed.model.registry import ALL_RESOURCES
from kfed.model.resource import ResourceType


def _resource_list(group_version: str, resources: list[ResourceType]) -> dict[str, Any]:
    entries = []
    for rt in resources:
        entries.append({"name": rt.plural, "singularName": rt.singular, "namespaced": rt.namespaced,
                        "kind": rt.kind, "verbs": list(rt.verbs), "shortNames": list(rt.short_names)})
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": entries}


def _app(docs: OpenAPIDocuments, requests: list[str]) -> web.Application:
    groups: dict[str, dict[str, list[ResourceType]]] = {}
    for rt in ALL_RESOURCES:
        groups.setdefault(rt.group, {}).setdefault(rt.version, []).append(rt)

    async def handle(request: web.Request) -> web.StreamResponse:
        path = request.path.rstrip("/")
        requests.append(path)
        if path == "/version":
            return web.json_response({"major": "1", "minor": "32", "gitVersion": "v1.32.0"})
        if path == "/api":
            return web.json_response({"kind": "APIVersions", "versions": ["v1"]})
        if path == "/api/v1":
            return web.json_response(_resource_list("v1", groups[""]["v1"]))
        if path == "/apis":
            listed = []
            for group, versions in groups.items():
                if group:
                    vs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
                    listed.append({"name": group, "versions": vs, "preferredVersion": vs[0]})
            return web.json_response({"kind": "APIGroupList", "apiVersion": "v1", "groups": listed})
        parts = path.split("/")
        if len(parts) == 4 and parts[1] == "apis" and parts[3] in groups.get(parts[2], {}):
            return web.json_response(_resource_list(f"{parts[2]}/{parts[3]}", groups[parts[2]][parts[3]]))
        if path == "/openapi/v3":
            return web.Response(body=docs.v3_index_body, content_type="application/json")
        if path.startswith("/openapi/v3/"):
            doc = docs.v3_document(path.removeprefix("/openapi/v3/"))
            if doc is not None and request.query.get("hash") == doc.hash:
                return web.Response(body=doc.body, content_type="application/json")
        return web.json_response({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                  "reason": "NotFound", "code": 404}, status=404)

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", handle)
    return app


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[tuple[str, list[str]]]:
    requests: list[str] = []
    runner = web.AppRunner(_app(build_documents(ALL_RESOURCES), requests))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}", requests
    finally:
        await runner.cleanup()


async def explain(server_url: str, tmp_path: Path, *args: str) -> str:
    env = {"HOME": str(tmp_path), "KUBECONFIG": str(tmp_path / "no-kubeconfig"), "PATH": "/usr/bin:/bin"}
    proc = await asyncio.create_subprocess_exec(
        shutil.which("kubectl") or "kubectl", f"--server={server_url}", f"--cache-dir={tmp_path / 'cache'}",
        "explain", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()
    return out.decode()


async def test_explain_service_ports(server: tuple[str, list[str]], tmp_path: Path) -> None:
    url, requests = server
    out = await explain(url, tmp_path, "services.spec.ports")
    assert "KIND:       Service" in out
    assert "FIELD: ports <[]ServicePort>" in out
    assert "targetPort\t<IntOrString>" in out
    assert "port\t<integer> -required-" in out
    assert "enum: SCTP, TCP, UDP" in out
    assert "/openapi/v3" in requests and "/openapi/v3/api/v1" in requests


async def test_explain_cluster_spec_recursive(server: tuple[str, list[str]], tmp_path: Path) -> None:
    url, _ = server
    out = await explain(url, tmp_path, "clusters.spec", "--recursive")
    assert "GROUP:      federation.kfed.io" in out
    assert "FIELD: spec <ClusterSpec>" in out
    for line in ("serverAddressByClientCIDRs\t<[]ServerAddressByClientCIDR> -required-",
                 "    clientCIDR\t<string> -required-", "secretRef\t<LocalObjectReference>",
                 "    name\t<string>", "zones\t<[]string>", "region\t<string>"):
        assert line in out, line


async def test_explain_by_short_name_and_deep_field(server: tuple[str, list[str]], tmp_path: Path) -> None:
    url, _ = server
    out = await explain(url, tmp_path, "deploy.spec.template.spec.containers.resources")
    assert "FIELD: resources <ResourceRequirements>" in out
    assert "limits\t<map[string]Quantity>" in out
