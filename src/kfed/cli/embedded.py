"""EmbeddedFederation: the whole of kfed in one process, on embedded defaults.

The federation API server (SQLite), the controller-manager (a client of that API, over HTTPS like
any other), kfed's authoritative DNS server fed from the API's DNSRecordSets, and optionally a
fleet of simulated member clusters, each joined. `kfed up`, `kfed demo` and the end-to-end tests
all start kfed through this class.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kfed.api.kubeconfig import ContextEntry, merge_contexts
from kfed.api.server import ApiServer, ApiServerConfig
from kfed.cli.common import load_settings, save_settings
from kfed.controllers import membership
from kfed.controllers.manager import ControllerManager, FederationSettings, ManagerOptions
from kfed.controllers.zonesource import RecordSetZoneSource
from kfed.members.client import KubeClient, parse_kubeconfig
from kfed.model.registry import FEDERATION_RESOURCES

log = logging.getLogger("kfed.up")

FEDERATION_NAMESPACES = ["default", "kube-system", "federation-system"]


def _kubeconfig_for(entry: ContextEntry) -> dict[str, Any]:
    import base64

    return {"apiVersion": "v1", "kind": "Config", "current-context": entry.name,
            "clusters": [{"name": entry.name, "cluster": {
                "server": entry.server, "certificate-authority-data": base64.b64encode(entry.ca_pem).decode()}}],
            "users": [{"name": entry.name, "user": {"token": entry.token}}],
            "contexts": [{"name": entry.name, "context": {"cluster": entry.name, "user": entry.name}}]}


@dataclass
class EmbeddedOptions:
    data_dir: Path
    kubeconfig: Path | None = None  # default: $KUBECONFIG, else ~/.kube/config
    api_port: int = 6443  # 0: any free port
    dns_listen: tuple[str, int] = ("127.0.0.1", 5353)  # port 0: any free port
    sim_layout: str | None = None  # "seed"
    sim_clusters: list[str] = field(default_factory=list)  # NAME=REGION/ZONE[,ZONE...]
    settings: FederationSettings | None = None  # default: DATA_DIR/federation.yaml, else the guide's
    manager: ManagerOptions = field(default_factory=ManagerOptions)
    pod_ready_delay: float | None = None
    sim_lb_hostnames: list[str] = field(default_factory=list)  # clusters whose LBs get hostnames


class EmbeddedFederation:
    def __init__(self, options: EmbeddedOptions) -> None:
        self.options = options
        self.data_dir = Path(options.data_dir)
        self.api: ApiServer | None = None
        self.fleet: Any = None
        self.fed: KubeClient | None = None
        self.manager: ControllerManager | None = None
        self.dns_server: Any = None
        self.zone_source: RecordSetZoneSource | None = None
        self.kubeconfig_path: Path | None = None
        self._tasks: list[asyncio.Task[None]] = []
        settings = options.settings or load_settings(self.data_dir)
        if settings is None:
            settings = FederationSettings()
            save_settings(self.data_dir, settings)
        self.settings = settings

    @property
    def sim_requested(self) -> bool:
        return bool(self.options.sim_layout or self.options.sim_clusters)

    async def start(self) -> None:
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        opts = self.options
        self.api = ApiServer(ApiServerConfig(
            data_dir=self.data_dir / "apiserver", resources=list(FEDERATION_RESOURCES), port=opts.api_port,
            bootstrap_namespaces=FEDERATION_NAMESPACES))
        await self.api.start()
        entry = self.api.kubeconfig_entry()
        self.kubeconfig_path = merge_contexts([entry], opts.kubeconfig)
        self.fed = await KubeClient.from_kubeconfig(_kubeconfig_for(entry), entry.name)
        await membership.publish_settings(self.fed, self.settings)
        if self.settings.dns_provider == "builtin":
            await self._start_dns_server()
        if self.sim_requested:
            await self._start_fleet()
            if not opts.manager.lb_nameservers:
                # the simulated clusters' AWS-style load-balancer hostnames resolve only there
                host, port = self.fleet.dns_address
                opts.manager.lb_nameservers = [f"{host}:{port}"]
        self.manager = ControllerManager(self.fed, self.settings, opts.manager)
        self._tasks.append(asyncio.get_running_loop().create_task(self.manager.run(), name="controller-manager"))

    async def _start_dns_server(self) -> None:
        from kfed.dns.server import DNSServer, ZoneSettings

        assert self.fed is not None
        zone = ZoneSettings.for_origin(self.settings.dns_zone)
        self.zone_source = RecordSetZoneSource(self.fed, zone)
        await self.zone_source.start()
        host, port = self.options.dns_listen
        self.dns_server = DNSServer(self.zone_source, host=host, port=port)
        await self.dns_server.start()

    async def _start_fleet(self) -> None:
        from kfed.sim.cluster import SimOptions
        from kfed.sim.fleet import SimFleet
        from kfed.sim.layout import parse_cluster, seed_layout

        opts = self.options
        layout = seed_layout(lb_hostnames=opts.sim_lb_hostnames) if opts.sim_layout == "seed" else []
        layout += [parse_cluster(c) for c in opts.sim_clusters]
        sim_options = SimOptions() if opts.pod_ready_delay is None else SimOptions(pod_ready_delay=opts.pod_ready_delay)
        self.fleet = SimFleet(layout, data_dir=self.data_dir / "sim", options=sim_options,
                              kubeconfig=self.kubeconfig_path)
        await self.fleet.start()
        assert self.fed is not None and self.kubeconfig_path is not None
        kubeconfig = parse_kubeconfig(self.kubeconfig_path.read_text())
        await asyncio.gather(*(membership.join(self.fed, name, kubeconfig, name) for name in self.fleet.names))

    async def restart_manager(self) -> ControllerManager:
        """Stop the controller-manager (handing its lease back) and start a new one, as a restart would."""
        assert self.fed is not None
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self.manager is not None:
            await self.manager.shutdown()
        self.manager = ControllerManager(self.fed, self.settings, self.options.manager)
        self._tasks.append(asyncio.get_running_loop().create_task(self.manager.run(), name="controller-manager"))
        return self.manager

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self.manager is not None:
            with contextlib.suppress(Exception):
                await self.manager.shutdown()
        if self.dns_server is not None:
            await self.dns_server.stop()
        if self.zone_source is not None:
            await self.zone_source.stop()
        if self.fleet is not None:
            await self.fleet.stop()
        if self.fed is not None:
            await self.fed.close()
        if self.api is not None:
            await self.api.stop()

    async def __aenter__(self) -> EmbeddedFederation:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def dns_address(self) -> tuple[str, int]:
        assert self.dns_server is not None
        return self.options.dns_listen[0], int(self.dns_server.port)
