"""KubeClient against a real `kfed apiserver` process: JSON requests, errors, watch streams, auth."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from kfed.members.client import ApiCallError, KubeClient, Unreachable, parse_kubeconfig
from tests.support.processes import ApiServerProcess, free_port


async def _client(server: ApiServerProcess, **kwargs: Any) -> KubeClient:
    return await KubeClient.from_kubeconfig(parse_kubeconfig(server.kubeconfig.read_text()),
                                            "federation-cluster", **kwargs)


def _configmap(name: str, data: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


async def test_create_get_patch_delete_round_trip(apiserver: ApiServerProcess) -> None:
    client = await _client(apiserver)
    try:
        path = "/api/v1/namespaces/default/configmaps"
        created = await client.request("POST", path, body=_configmap("c1", {"k": "v", "u": "ü\u2028<&>"}))
        assert created["metadata"]["uid"] and created["data"] == {"k": "v", "u": "ü\u2028<&>"}
        got = await client.get(f"{path}/c1")
        assert got["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
        patched = await client.request("PATCH", f"{path}/c1", body={"data": {"k": "w"}},
                                       content_type="application/merge-patch+json")
        assert patched["data"]["k"] == "w"
        listed = await client.get(path, labelSelector=None, limit=10)
        assert [o["metadata"]["name"] for o in listed["items"]] == ["c1"]
        await client.request("DELETE", f"{path}/c1")
        with pytest.raises(ApiCallError) as info:
            await client.get(f"{path}/c1")
        assert info.value.status == 404 and info.value.reason == "NotFound"
    finally:
        await client.close()


async def test_invalid_object_gives_status_with_reason(apiserver: ApiServerProcess) -> None:
    client = await _client(apiserver)
    try:
        with pytest.raises(ApiCallError) as info:
            await client.request("POST", "/api/v1/namespaces/default/services", body={
                "apiVersion": "v1", "kind": "Service", "metadata": {"name": "Bad_Name"},
                "spec": {"ports": [{"port": 80}]}})
        assert info.value.status == 422 and info.value.reason == "Invalid"
        assert isinstance(info.value.body, dict) and info.value.body["details"]["causes"]
    finally:
        await client.close()


async def test_raw_get_and_watch_stream(apiserver: ApiServerProcess) -> None:
    client = await _client(apiserver)
    try:
        status, text = await client.raw_get("/readyz")
        assert status == 200 and "ok" in text
        path = "/api/v1/namespaces/default/configmaps"
        rv = (await client.get(path))["metadata"]["resourceVersion"]
        seen: list[tuple[str, str]] = []

        async def watch() -> None:
            async for event in client.watch_stream(path, {"resourceVersion": rv}, timeout=30):
                seen.append((event["type"], event["object"]["metadata"]["name"]))
                if len(seen) == 2:
                    return

        task = asyncio.create_task(watch())
        await client.request("POST", path, body=_configmap("w1", {}))
        await client.request("DELETE", f"{path}/w1")
        await asyncio.wait_for(task, timeout=20)
        assert seen == [("ADDED", "w1"), ("DELETED", "w1")]
    finally:
        await client.close()


async def test_watch_stream_reassembles_big_and_small_events(apiserver: ApiServerProcess) -> None:
    """Events are split out of whatever chunks arrive: one bigger than any read buffer, and
    bursts of small ones, come out whole and in order."""
    client = await _client(apiserver)
    try:
        path = "/api/v1/namespaces/default/configmaps"
        rv = (await client.get(path))["metadata"]["resourceVersion"]
        big = "x" * 900_000
        names = ["small-0", "big", *(f"small-{i}" for i in range(1, 40))]
        seen: list[tuple[str, int]] = []

        async def watch() -> None:
            async for event in client.watch_stream(path, {"resourceVersion": rv}, timeout=30):
                obj = event["object"]
                seen.append((obj["metadata"]["name"], len((obj.get("data") or {}).get("v", ""))))
                if len(seen) == len(names):
                    return

        task = asyncio.create_task(watch())
        for name in names:
            await client.request("POST", path, body=_configmap(name, {"v": big if name == "big" else name}))
        await asyncio.wait_for(task, timeout=20)
        assert seen == [(n, len(big) if n == "big" else len(n)) for n in names]
    finally:
        await client.close()


async def test_watch_from_compacted_revision_is_an_api_error(apiserver: ApiServerProcess) -> None:
    client = await _client(apiserver)
    try:
        with pytest.raises(ApiCallError) as info:
            async for _ in client.watch_stream("/api/v1/namespaces/default/configmaps",
                                               {"resourceVersion": "not-a-number"}, timeout=5):
                pass
        assert info.value.status == 400
    finally:
        await client.close()


async def test_wrong_token_is_401_and_read_only_token_cannot_write(apiserver: ApiServerProcess) -> None:
    config = parse_kubeconfig(apiserver.kubeconfig.read_text())
    for user in config["users"]:
        user["user"]["token"] = "wrong"
    client = await KubeClient.from_kubeconfig(config, "federation-cluster")
    try:
        with pytest.raises(ApiCallError) as info:
            await client.get("/api/v1/namespaces")
        assert info.value.status == 401
    finally:
        await client.close()
    for user in config["users"]:
        user["user"]["token"] = apiserver.readonly_token
    client = await KubeClient.from_kubeconfig(config, "federation-cluster")
    try:
        assert (await client.get("/api/v1/namespaces"))["items"]
        with pytest.raises(ApiCallError) as info:
            await client.request("POST", "/api/v1/namespaces/default/configmaps", body=_configmap("x", {}))
        assert info.value.status == 403
    finally:
        await client.close()


async def test_a_token_changed_in_place_is_sent_from_the_next_request(apiserver: ApiServerProcess) -> None:
    """Headers are built once per token: a refresh that swaps the configuration's token (as
    kubernetes_asyncio's refresh loop does for exec plugins) is used at once, and so is a hook."""
    client = await _client(apiserver)
    try:
        assert (await client.get("/api/v1/namespaces"))["items"]
        config = client.api.configuration
        good = config.api_key["BearerToken"]
        config.api_key["BearerToken"] = "Bearer wrong"
        with pytest.raises(ApiCallError) as info:
            await client.get("/api/v1/namespaces")
        assert info.value.status == 401
        config.api_key["BearerToken"] = good
        assert (await client.get("/api/v1/namespaces"))["items"]

        def refresh(c: Any) -> None:
            c.api_key["BearerToken"] = "Bearer also-wrong"

        config.refresh_api_key_hook = refresh
        with pytest.raises(ApiCallError) as info:
            await client.get("/api/v1/namespaces")
        assert info.value.status == 401
    finally:
        await client.close()


async def test_nothing_listening_is_unreachable(apiserver: ApiServerProcess) -> None:
    config = parse_kubeconfig(apiserver.kubeconfig.read_text())
    for cluster in config["clusters"]:
        cluster["cluster"]["server"] = f"https://127.0.0.1:{free_port()}"
    client = await KubeClient.from_kubeconfig(config, "federation-cluster", timeout=2)
    try:
        with pytest.raises(Unreachable):
            await client.get("/api/v1/namespaces")
        with pytest.raises(Unreachable):
            await client.raw_get("/readyz")
        with pytest.raises(Unreachable):
            async for _ in client.watch_stream("/api/v1/namespaces", {}, timeout=2):
                pass
    finally:
        with contextlib.suppress(Exception):
            await client.close()
