"""KubeClient: one authenticated connection to a Kubernetes API (a member cluster or the federation).

Built on kubernetes_asyncio's ApiClient for what it does well (kubeconfig parsing, TLS, tokens,
client certificates, exec plugins and their refresh); the requests themselves go straight to its
aiohttp session with orjson bodies. The generated `call_api` path walks every body twice
(sanitize, then stdlib json) and was the controller-manager's largest cost at 50 clusters.
kfed speaks JSON to any path, so the same client serves every resource and our own list+watch
loop (kfed.members.informer).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson
import yaml
from kubernetes_asyncio import config as k8s_config
from kubernetes_asyncio.client.api_client import ApiClient
from kubernetes_asyncio.config.config_exception import ConfigException


class KubeConfigError(ValueError):
    """The kubeconfig cannot be used (malformed, missing context, missing credentials)."""


class ApiCallError(Exception):
    """A non-2xx answer from the API: status code, reason (Status.reason) and message."""

    def __init__(self, status: int, reason: str, message: str, body: Any = None) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message
        self.body = body


class Unreachable(Exception):
    """The API could not be reached (connection refused, timeout, TLS failure)."""


@dataclass(frozen=True)
class ClusterEndpoint:
    server: str
    context: str


def parse_kubeconfig(text: str | bytes) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise KubeConfigError(f"kubeconfig is not valid YAML: {e}") from e
    if not isinstance(data, dict) or not isinstance(data.get("contexts"), list) or not data.get("clusters"):
        raise KubeConfigError("kubeconfig has no clusters or contexts")
    return data


def context_names(config: dict[str, Any]) -> list[str]:
    return [c.get("name", "") for c in config.get("contexts") or []]


def extract_context(config: dict[str, Any], context: str) -> dict[str, Any]:
    """A self-contained kubeconfig holding just `context` (its cluster and user), current."""
    ctx = next((c for c in config.get("contexts") or [] if c.get("name") == context), None)
    if ctx is None:
        raise KubeConfigError(f'context "{context}" not found in kubeconfig')
    cluster_name = ctx.get("context", {}).get("cluster")
    user_name = ctx.get("context", {}).get("user")
    cluster = next((c for c in config.get("clusters") or [] if c.get("name") == cluster_name), None)
    user = next((u for u in config.get("users") or [] if u.get("name") == user_name), None)
    if cluster is None:
        raise KubeConfigError(f'cluster "{cluster_name}" of context "{context}" not found in kubeconfig')
    return {"apiVersion": "v1", "kind": "Config", "current-context": context, "contexts": [ctx],
            "clusters": [cluster], "users": [user] if user else [], "preferences": {}}


async def _without_env_lookups(api: ApiClient) -> None:
    """kubernetes_asyncio's session has trust_env=True: every request then looks up ~/.netrc and
    proxy variables in worker threads (two thread hops per request). kfed takes its proxy, if any,
    from the kubeconfig (sent per request), so the session is rebuilt without those lookups, and
    without a cookie jar, which client-go does not keep either."""
    rest = api.rest_client
    old = rest.pool_manager
    ssl_context = getattr(old.connector, "_ssl", None)
    if old.connector is None or ssl_context is None:
        return  # an aiohttp whose internals differ: keep the library's session
    rest.pool_manager = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=old.connector.limit, ssl=ssl_context),
        trust_env=False, read_bufsize=2**21,
        cookie_jar=aiohttp.DummyCookieJar())  # as client-go: no cookies kept (and none matched per request)
    await old.close()


class KubeClient:
    """JSON requests to any API path, with timeouts, and watch streams as async iterators."""

    def __init__(self, api: ApiClient, *, timeout: float = 10.0) -> None:
        self.api = api
        self.timeout = timeout
        self._static_headers: dict[tuple[str, str | None, str | None], dict[str, str]] = {}
        self.server: str = api.configuration.host or ""

    @classmethod
    async def from_kubeconfig(cls, config: dict[str, Any], context: str | None = None, *,
                              timeout: float = 10.0) -> KubeClient:
        try:
            api = await k8s_config.new_client_from_config_dict(config_dict=config, context=context)
        except (ConfigException, KeyError, TypeError, ValueError) as e:
            raise KubeConfigError(f"kubeconfig cannot be used: {e}") from e
        await _without_env_lookups(api)
        return cls(api, timeout=timeout)

    async def close(self) -> None:
        await self.api.close()

    async def _headers(self, accept: str, content_type: str | None = None) -> dict[str, str]:
        """The request's headers (shared: not to be changed). With a refresh hook (an in-cluster
        token file) the configuration is asked each time; otherwise the headers are built once per
        token (a token refreshed in place, as kubernetes_asyncio's refresh loop does, is a new key)."""
        config = self.api.configuration
        static = config.refresh_api_key_hook is None
        key = (accept, content_type, config.api_key.get("BearerToken"))
        if static and (cached := self._static_headers.get(key)) is not None:
            return cached
        headers = dict(self.api.default_headers)
        headers["Accept"] = accept
        if content_type:
            headers["Content-Type"] = content_type
        await self.api.update_params_for_auth(headers, [], ["BearerToken"])
        if static:
            self._static_headers[key] = headers
        return headers

    def _send(self, method: str, path: str, params: list[tuple[str, Any]], headers: dict[str, str],
              data: bytes | None, timeout: aiohttp.ClientTimeout) -> Any:
        rest = self.api.rest_client
        url = self.server + path + ("?" + urlencode(params) if params else "")
        extra: dict[str, Any] = {}
        if rest.proxy:
            extra["proxy"] = rest.proxy
        if rest.proxy_headers:
            extra["proxy_headers"] = rest.proxy_headers
        if rest.server_hostname:
            extra["server_hostname"] = rest.server_hostname
        return rest.pool_manager.request(method, url, headers=headers, data=data, timeout=timeout, **extra)

    async def request(self, method: str, path: str, *, query: dict[str, Any] | None = None, body: Any = None,
                      content_type: str = "application/json", timeout: float | None = None) -> Any:
        headers = await self._headers("application/json", content_type)
        params = [(k, v) for k, v in (query or {}).items() if v is not None]
        data = orjson.dumps(body) if body is not None else None
        try:
            async with self._send(method, path, params, headers, data,
                                  aiohttp.ClientTimeout(total=timeout or self.timeout)) as resp:
                raw = await resp.read()
                status = resp.status
        except (TimeoutError, aiohttp.ClientError, OSError) as e:
            raise Unreachable(f"{self.server}: {type(e).__name__}: {e}") from e
        decoded: Any = None
        if raw:
            try:
                decoded = orjson.loads(raw)
            except orjson.JSONDecodeError:
                decoded = raw.decode(errors="replace")
        if not 200 <= status < 300:
            reason, message = str(status), str(decoded)[:500]
            if isinstance(decoded, dict):
                reason, message = decoded.get("reason", reason), decoded.get("message", message)
            raise ApiCallError(status, reason, message, decoded)
        return decoded

    async def get(self, path: str, **query: Any) -> Any:
        return await self.request("GET", path, query=query)

    async def raw_get(self, path: str, timeout: float | None = None) -> tuple[int, str]:
        """GET a non-JSON path such as /readyz; returns (status, body text)."""
        headers = await self._headers("*/*")
        try:
            async with self._send("GET", path, [], headers, None,
                                  aiohttp.ClientTimeout(total=timeout or self.timeout)) as resp:
                return resp.status, (await resp.read()).decode(errors="replace")
        except (TimeoutError, aiohttp.ClientError, OSError) as e:
            raise Unreachable(f"{self.server}: {type(e).__name__}: {e}") from e

    async def watch_stream(self, path: str, query: dict[str, Any], *, timeout: float) -> AsyncIterator[dict[str, Any]]:
        """The events of one watch request, decoded; ends when the server closes the stream."""
        params = [(k, v) for k, v in query.items() if v is not None]
        params.append(("watch", "true"))
        headers = await self._headers("application/json")
        try:
            resp = await self._send("GET", path, params, headers, None,
                                    aiohttp.ClientTimeout(total=None, sock_connect=self.timeout, sock_read=timeout))
        except (TimeoutError, aiohttp.ClientError, OSError) as e:
            raise Unreachable(f"{self.server}: {type(e).__name__}: {e}") from e
        try:
            if resp.status != 200:
                body = await resp.read()
                try:
                    st = orjson.loads(body)
                except orjson.JSONDecodeError:
                    st = {}
                if not isinstance(st, dict):
                    st = {}
                raise ApiCallError(resp.status, st.get("reason", str(resp.status)), st.get("message", ""), st)
            try:
                # Whatever arrived, split into lines here: a server sends a burst of events in one
                # write, and reading them line by line costs more than decoding them.
                partial: list[bytes] = []  # the pieces of a line not yet ended (a big object spans chunks)
                async for chunk in resp.content.iter_any():
                    lines = chunk.split(b"\n")
                    if len(lines) == 1:
                        partial.append(chunk)
                        continue
                    if partial:
                        partial.append(lines[0])
                        lines[0] = b"".join(partial)
                        partial.clear()
                    if lines[-1]:
                        partial.append(lines[-1])
                    for line in lines[:-1]:
                        if line.strip():
                            yield orjson.loads(line)
                rest = b"".join(partial)
                if rest.strip():
                    yield orjson.loads(rest)
            except (TimeoutError, aiohttp.ClientError, OSError) as e:
                raise Unreachable(f"{self.server}: watch stream broke: {type(e).__name__}") from e
        finally:
            resp.release()
