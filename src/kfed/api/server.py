"""ApiServer: one HTTPS Kubernetes API endpoint (TLS, tokens, store, controllers inside it).

Used for the federation API server (`kfed apiserver`, `kfed up`) and, with another list of kinds
and an in-memory store, for every simulated member cluster.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import secrets
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from kfed.api import codec, patch
from kfed.api.auth import Role, TokenAuthenticator, User
from kfed.api.certs import CertPaths, ensure_serving_certs
from kfed.api.http import ApiApp, status_reset_fields
from kfed.api.kubeconfig import ContextEntry
from kfed.api.namespaces import NamespaceFinalizer
from kfed.api.objects import ObjectService
from kfed.model.resource import Obj, ResourceType
from kfed.storage.protocol import Store

log = logging.getLogger("kfed.api.server")


def _read_or_create_token(path: Path) -> str:
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    return token


@dataclass
class ApiServerConfig:
    data_dir: Path
    resources: list[ResourceType]
    bind: str = "127.0.0.1"
    port: int = 0  # 0: a free port
    store_url: str | None = None  # default: SQLite under data_dir
    context_name: str = "federation-cluster"
    bootstrap_namespaces: list[str] = field(default_factory=lambda: ["default", "kube-system"])
    bookmark_interval: float = 5.0
    decode_cache_size: int = 20_000  # decoded objects kept per server (smaller for simulated clusters)


def _managed_fields_hook(rt: ResourceType, old: Obj | None, new: Obj, manager: str, operation: str,
                         subresource: str) -> None:
    if operation == "Apply":
        return  # server-side apply computed ownership itself
    patch.update_managed_fields(old, new, manager=manager, operation=operation, schema=rt.schema,
                                api_version=rt.group_version, now=codec.now_rfc3339(), subresource=subresource,
                                reset_fields=status_reset_fields(rt, subresource))


class _OpenApiDocs:
    """Builds the OpenAPI documents once, on first request, and serves them from memory."""

    def __init__(self, resources: list[ResourceType]) -> None:
        self.resources = resources
        self._docs: Any = None

    async def __call__(self, path: str, query: str) -> tuple[bytes, str] | None:
        from kfed.model import openapi

        if self._docs is None:
            self._docs = openapi.build_documents(self.resources)
        docs = self._docs
        if path == "/openapi/v2":
            return docs.v2_body, "application/json"
        if path == "/openapi/v3":
            return docs.v3_index_body, "application/json"
        if path.startswith("/openapi/v3/"):
            doc = docs.v3.get(path[len("/openapi/v3/"):])
            return (doc.body, "application/json") if doc is not None else None
        return None


class ApiServer:
    def __init__(self, config: ApiServerConfig, *, store: Store | None = None) -> None:
        self.config = config
        self.data_dir = Path(config.data_dir)
        self._store = store
        self._runner: web.AppRunner | None = None
        self._namespaces: NamespaceFinalizer | None = None
        self.port = config.port
        self.ready = False
        self._on_stop: list[Callable[[], object]] = []

    # -- credentials ---------------------------------------------------------------------

    def _credentials(self) -> tuple[CertPaths, str, str]:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        certs = ensure_serving_certs(self.data_dir / "pki", hosts=(self.config.bind, "127.0.0.1", "localhost"))
        admin = _read_or_create_token(self.data_dir / "tokens" / "admin.token")
        reader = _read_or_create_token(self.data_dir / "tokens" / "readonly.token")
        return certs, admin, reader

    @property
    def url(self) -> str:
        return f"https://{self.config.bind}:{self.port}"

    def kubeconfig_entry(self, token: str | None = None) -> ContextEntry:
        return ContextEntry(name=self.config.context_name, server=self.url, ca_pem=self.certs.ca_cert.read_bytes(),
                            token=token or self.admin_token)

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        self.certs, self.admin_token, self.readonly_token = self._credentials()
        if self._store is None:
            from kfed.storage import open_store

            url = self.config.store_url or f"sqlite:///{(self.data_dir / 'kfed.db').resolve()}"
            self._store = open_store(url)
        self.store = self._store
        await self.store.start()
        self.objects = ObjectService(self.store, self.config.resources, managed_fields=_managed_fields_hook,
                                     bookmark_interval=self.config.bookmark_interval,
                                     decode_cache_size=self.config.decode_cache_size)
        await self.objects.ensure_namespaces(self.config.bootstrap_namespaces)
        self.authenticator = auth = TokenAuthenticator({
            self.admin_token: User("admin", ("system:masters",), Role.ADMIN),
            self.readonly_token: User("viewer", ("kfed:viewers",), Role.READER),
        })
        self.app_builder = ApiApp(self.objects, authenticator=auth, server_address="",
                                  openapi=_OpenApiDocs(self.config.resources), ready=lambda: self.ready)
        await self._listen()
        # Port 0 is bound by the kernel itself (no race between picking a free port and binding it);
        # later listens (resume after pause) reuse the port it gave.
        self.app_builder.server_address = f"{self.config.bind}:{self.port}"
        self._namespaces = NamespaceFinalizer(self.objects)
        self._namespaces.start()
        self.ready = True
        log.info("api server listening url=%s store=%s", self.url, type(self.store).__name__)

    async def _listen(self) -> None:
        app = self.app_builder.build()
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=0.5,
                                     handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.bind, self.port, ssl_context=self._ssl_context(),
                           backlog=1024, reuse_address=True)
        await site.start()
        if self.port == 0:
            self.port = int(self._runner.addresses[0][1])

    async def pause(self) -> None:
        """Stop listening (clients get connection refused); the data and controllers stay."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def resume(self) -> None:
        if self._runner is None:
            await self._listen()

    @property
    def listening(self) -> bool:
        return self._runner is not None

    def _ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.certs.cert, self.certs.key)
        ctx.load_verify_locations(cafile=str(self.certs.ca_cert))
        ctx.verify_mode = ssl.CERT_OPTIONAL  # client certificates are accepted, tokens too
        return ctx

    async def stop(self) -> None:
        self.ready = False
        if self._namespaces is not None:
            await self._namespaces.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if hasattr(self, "objects"):
            await self.objects.drain_background()
        if self._store is not None:
            await self._store.close()

    async def __aenter__(self) -> ApiServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


def token_fingerprint(token: str) -> str:
    """A short, non-reversible tag for logs: tokens themselves are never logged."""
    return hashlib.sha256(token.encode()).hexdigest()[:8]


async def serve_forever(server: ApiServer) -> None:
    await server.start()
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()
