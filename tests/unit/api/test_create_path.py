"""The pieces of the create path made cheaper: uids, timestamps, metrics, and the HTTP handler's
first layer (errors, auth, metrics without an aiohttp middleware), through aiohttp in process."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer

from kfed.api import codec
from kfed.api.auth import Role, TokenAuthenticator, User
from kfed.api.http import ApiApp, ApiMetrics
from kfed.api.objects import ObjectService, new_uid
from kfed.api.server import _managed_fields_hook
from kfed.model.registry import FEDERATION_RESOURCES
from kfed.storage.cached import CachedStore

TOKEN = "test-token"
SERVICE: dict[str, Any] = {
    "apiVersion": "v1", "kind": "Service",
    "metadata": {"name": "web", "labels": {"app": "web"}},
    "spec": {"type": "ClusterIP", "selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
}


def test_uids_are_random_version_4_uuids() -> None:
    uids = [new_uid() for _ in range(3000)]  # more than one 4 KiB pool of random bytes
    assert len(set(uids)) == len(uids)
    for uid in uids:
        parsed = uuid.UUID(uid)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
        assert str(parsed) == uid


def test_a_forked_child_does_not_repeat_the_parents_uids() -> None:
    new_uid()  # the pool is filled
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next uid and leave at once
        os.write(write, new_uid().encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = os.read(read, 100).decode()
    os.close(read)
    assert child != new_uid()


def test_timestamps_are_the_current_second() -> None:
    before = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    stamp = codec.now_rfc3339()
    after = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", stamp)
    assert before <= stamp <= after


def test_metrics_count_every_request_by_labels() -> None:
    metrics = ApiMetrics()
    for code in (201, 201, 409):
        metrics.observe("POST", "", "services", code, 0.002)
    sample = metrics.registry.get_sample_value
    assert sample("apiserver_request_total", {"verb": "POST", "group": "", "resource": "services", "code": "201"}) == 2
    assert sample("apiserver_request_total", {"verb": "POST", "group": "", "resource": "services", "code": "409"}) == 1
    assert sample("apiserver_request_duration_seconds_count", {"verb": "POST", "resource": "services"}) == 3
    metrics.watch_event_sent("services")
    assert sample("apiserver_watch_events_total", {"resource": "services"}) == 1


@pytest.fixture
async def client() -> AsyncIterator[TestClient[Any, Any]]:
    store = CachedStore()
    await store.start()
    objects = ObjectService(store, list(FEDERATION_RESOURCES), managed_fields=_managed_fields_hook)
    await objects.ensure_namespaces(["default"])
    auth = TokenAuthenticator({TOKEN: User("admin", ("system:masters",), Role.ADMIN)})
    async with TestClient(TestServer(ApiApp(objects, authenticator=auth).build())) as c:
        yield c
    await store.close()


async def test_create_over_http_records_ownership_and_metrics(client: TestClient[Any, Any]) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json",
               "User-Agent": "kubectl/v1.32.0 (linux/amd64) kubernetes/abc"}
    resp = await client.post("/api/v1/namespaces/default/services?fieldManager=kubectl-create", headers=headers,
                             data=orjson.dumps(SERVICE))
    assert resp.status == 201, await resp.text()
    created = await resp.json()
    (entry,) = created["metadata"]["managedFields"]
    assert entry["manager"] == "kubectl-create" and entry["operation"] == "Update"
    assert entry["time"] == created["metadata"]["creationTimestamp"]
    assert entry["fieldsV1"]["f:spec"]["f:ports"] == {
        ".": {}, 'k:{"port":80,"protocol":"TCP"}': {".": {}, "f:port": {}, "f:protocol": {}, "f:targetPort": {}}}
    uuid.UUID(created["metadata"]["uid"])

    again = await client.post("/api/v1/namespaces/default/services", headers=headers, data=orjson.dumps(SERVICE))
    assert again.status == 409
    assert (await again.json())["reason"] == "AlreadyExists"

    metrics = await (await client.get("/metrics", headers=headers)).text()
    assert 'apiserver_request_total{code="201",group="",resource="services",verb="POST"} 1.0' in metrics
    assert 'apiserver_request_total{code="409",group="",resource="services",verb="POST"} 1.0' in metrics


async def test_errors_and_auth_answer_as_status_objects(client: TestClient[Any, Any]) -> None:
    unauthenticated = await client.get("/api/v1/namespaces/default/services")
    assert unauthenticated.status == 401
    assert (await unauthenticated.json())["kind"] == "Status"
    assert (await client.get("/healthz")).status == 200, "health needs no credentials"

    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    bad = await client.post("/api/v1/namespaces/default/services", headers=headers, data=b"{not json")
    assert bad.status == 400
    assert (await bad.json())["reason"] == "BadRequest"
    invalid = await client.post("/api/v1/namespaces/default/services", headers=headers,
                                data=orjson.dumps({**SERVICE, "metadata": {"name": "Not_Valid"}}))
    assert invalid.status == 422
    body = await invalid.json()
    assert body["reason"] == "Invalid" and body["details"]["causes"][0]["field"] == "metadata.name"
    missing = await client.get("/api/v1/namespaces/default/nosuchthings", headers=headers)
    assert missing.status == 404


async def test_bodies_with_and_without_a_length_are_read_whole(client: TestClient[Any, Any]) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    body = orjson.dumps({**SERVICE, "metadata": {"name": "sized", "annotations": {"pad": "x" * 200_000}}})
    sized = await client.post("/api/v1/namespaces/default/services", headers=headers, data=body)
    assert sized.status == 201, await sized.text()
    assert len((await sized.json())["metadata"]["annotations"]["pad"]) == 200_000

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: chunked transfer encoding
        raw = orjson.dumps({**SERVICE, "metadata": {"name": "chunked"}})
        for start in range(0, len(raw), 7):
            yield raw[start:start + 7]

    chunked = await client.post("/api/v1/namespaces/default/services", headers=headers, data=chunks())
    assert chunked.status == 201, await chunked.text()
    assert (await chunked.json())["metadata"]["name"] == "chunked"

    patched = await client.patch("/api/v1/namespaces/default/services/chunked",
                                 headers={**headers, "Content-Type": "application/merge-patch+json"},
                                 data=b'{"metadata":{"labels":{"patched":"yes"}}}')
    assert patched.status == 200
    assert (await patched.json())["metadata"]["labels"] == {"patched": "yes"}

    too_big = await client.post("/api/v1/namespaces/default/services", headers=headers,
                                data=b" " * (3 * 1024 * 1024 + 1))
    assert too_big.status == 413
