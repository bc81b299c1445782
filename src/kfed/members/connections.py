"""Connections to member clusters: a kubeconfig (from the cluster's Secret) -> client + informers.

One MemberConnection per joined cluster holds its KubeClient and the informers the controllers
share: Services, EndpointSlices and Nodes of the member. Informers start when the cluster is
first seen Ready and keep running (reconnecting by themselves) until the cluster is unjoined.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kfed.members.client import KubeClient, KubeConfigError, context_names, extract_context, parse_kubeconfig
from kfed.members.informer import EventHandler, Informer

log = logging.getLogger("kfed.members")

Obj = dict[str, Any]
KUBECONFIG_KEY = "kubeconfig"
MEMBER_REQUEST_TIMEOUT = 10.0  # seconds


def kubeconfig_from_secret(secret: Obj) -> dict[str, Any]:
    """The kubeconfig stored in a cluster's Secret (key `kubeconfig`), as one self-contained context."""
    data = secret.get("data") or {}
    raw = data.get(KUBECONFIG_KEY)
    if raw is None:
        raise KubeConfigError(f'secret has no "{KUBECONFIG_KEY}" key')
    try:
        text = base64.b64decode(raw, validate=True)
    except (ValueError, TypeError) as e:
        raise KubeConfigError(f"secret data is not base64: {e}") from e
    config = parse_kubeconfig(text)
    current = config.get("current-context") or (context_names(config) or [""])[0]
    return extract_context(config, current)


_SLICE_META = ("name", "namespace", "uid", "resourceVersion", "labels", "deletionTimestamp")
_ENDPOINT_KEYS = ("addresses", "conditions", "zone")


def slim_slice(obj: Obj) -> Obj:
    """What the controllers read of a member's EndpointSlice (its Service, ready addresses, zones).

    A member holds one or more slices per Service; kept whole (targetRefs, node names, hints,
    annotations), 50 clusters x 1,000 Services of them were a third of the controller-manager's memory.
    """
    meta = obj.get("metadata") or {}
    return {
        "metadata": {k: meta[k] for k in _SLICE_META if k in meta},
        "addressType": obj.get("addressType"),
        "endpoints": [{k: ep[k] for k in _ENDPOINT_KEYS if k in ep} for ep in obj.get("endpoints") or []],
        "ports": obj.get("ports"),
    }


@dataclass
class MemberConnection:
    name: str
    client: KubeClient
    fingerprint: str  # of the kubeconfig it was built from: a changed Secret means reconnect
    services: Informer | None = None
    slices: Informer | None = None
    nodes: Informer | None = None
    started: bool = False
    _handlers: dict[str, list[EventHandler]] = field(default_factory=dict)
    # EndpointSlices by (namespace, service name) -> slice key -> slice, kept from informer events
    _slices_by_service: dict[tuple[str, str], dict[str, Obj]] = field(default_factory=dict)

    @staticmethod
    def _slice_place(o: Obj) -> tuple[tuple[str, str], str] | None:
        meta = o.get("metadata", {})
        svc = (meta.get("labels") or {}).get("kubernetes.io/service-name")
        if svc is None:
            return None
        return (meta.get("namespace", ""), svc), f"{meta.get('namespace')}/{meta.get('name')}"

    def _index_slice(self, kind: str, obj: Obj, old: Obj | None) -> None:
        for gone in ([old] if old is not None else []) + ([obj] if kind == "DELETED" else []):
            place = self._slice_place(gone)
            if place is not None and place[0] in self._slices_by_service:
                group = self._slices_by_service[place[0]]
                group.pop(place[1], None)
                if not group:
                    del self._slices_by_service[place[0]]
        if kind != "DELETED":
            place = self._slice_place(obj)
            if place is not None:
                self._slices_by_service.setdefault(place[0], {})[place[1]] = obj

    def start_informers(self, handlers: dict[str, list[EventHandler]]) -> None:
        if self.started:
            return
        self.started = True
        self.services = Informer(self.client, "/api/v1/services", name=f"{self.name}/services")
        self.slices = Informer(self.client, "/apis/discovery.k8s.io/v1/endpointslices",
                               label_selector="kubernetes.io/service-name", name=f"{self.name}/endpointslices",
                               transform=slim_slice)
        self.nodes = Informer(self.client, "/api/v1/nodes", name=f"{self.name}/nodes")
        self.slices.add_handler(self._index_slice)  # first: the controllers' handlers read the index
        for kind, informer in (("services", self.services), ("endpointslices", self.slices), ("nodes", self.nodes)):
            for h in handlers.get(kind, []):
                informer.add_handler(h)
            informer.start()

    async def close(self) -> None:
        for inf in (self.services, self.slices, self.nodes):
            if inf is not None:
                await inf.stop()
        await self.client.close()

    def slices_for(self, namespace: str, service: str) -> list[Obj]:
        if self.slices is None:
            return []
        return list(self._slices_by_service.get((namespace, service), {}).values())


class MemberPool:
    """The live connections, by cluster name. Handlers registered here go to every member's informers."""

    def __init__(self) -> None:
        self.members: dict[str, MemberConnection] = {}
        self.handlers: dict[str, list[EventHandler]] = {"services": [], "endpointslices": [], "nodes": []}
        self.on_change: list[Callable[[str], None]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    def on(self, kind: str, handler: Callable[[str, str, Obj, Obj | None], None]) -> None:
        """Register handler(cluster, event_type, obj, old) for a member resource kind."""
        self.handlers[kind].append(handler)  # type: ignore[arg-type]

    def _bind(self, cluster: str) -> dict[str, list[EventHandler]]:
        def bind(h: Any) -> EventHandler:
            return lambda kind, obj, old: h(cluster, kind, obj, old)

        return {k: [bind(h) for h in hs] for k, hs in self.handlers.items()}

    async def connect(self, name: str, kubeconfig: dict[str, Any], fingerprint: str) -> MemberConnection:
        existing = self.members.get(name)
        if existing is not None and existing.fingerprint == fingerprint:
            return existing
        if existing is not None:
            await self.disconnect(name)
        # Writes and lists may queue behind hundreds of others on a busy member: a short timeout there
        # turned load into reconnects (new TLS handshakes) and retries. Probes set their own timeout.
        client = await KubeClient.from_kubeconfig(kubeconfig, timeout=MEMBER_REQUEST_TIMEOUT)
        conn = MemberConnection(name, client, fingerprint)
        self.members[name] = conn
        return conn

    def start(self, name: str) -> None:
        conn = self.members.get(name)
        if conn is not None and not conn.started:
            conn.start_informers(self._bind(name))
            for cb in self.on_change:
                cb(name)
            task = asyncio.get_running_loop().create_task(self._announce_synced(name, conn))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _announce_synced(self, name: str, conn: MemberConnection) -> None:
        """Tell the controllers once the member's informers have their first full list."""
        assert conn.services is not None and conn.slices is not None and conn.nodes is not None
        await asyncio.gather(conn.services.synced.wait(), conn.slices.synced.wait(), conn.nodes.synced.wait())
        if self.members.get(name) is conn:
            for cb in self.on_change:
                cb(name)

    async def disconnect(self, name: str) -> None:
        conn = self.members.pop(name, None)
        if conn is not None:
            await conn.close()
            for cb in self.on_change:
                cb(name)

    async def close(self) -> None:
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*(self.disconnect(n) for n in list(self.members)), return_exceptions=True)
