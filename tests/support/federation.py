"""kfed in one process (EmbeddedFederation) on its own event loop in a thread, for tests that run
the real kubectl and dig against it while still reaching inside (controller counters, the fleet)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kfed.cli.embedded import EmbeddedFederation, EmbeddedOptions
from kfed.controllers.manager import FederationSettings, ManagerOptions
from kfed.sim.threaded import LoopThread
from tests.support.kubectl import Kubectl


class FederationThread(LoopThread[EmbeddedFederation]):
    def __init__(self, options: EmbeddedOptions) -> None:
        super().__init__(EmbeddedFederation(options), name="kfed-embedded")

    @property
    def federation(self) -> EmbeddedFederation:
        return self.target

    def start(self, timeout: float = 180.0) -> EmbeddedFederation:
        return super().start(timeout)


@contextmanager
def running_federation(tmp_path: Path, *, sim_layout: str | None = None, sim_clusters: list[str] | None = None,
                       settings: FederationSettings | None = None, monitor_period: float = 0.5,
                       pod_ready_delay: float | None = 0.05, sim_lb_hostnames: list[str] | None = None,
                       **manager: Any) -> Iterator[tuple[FederationThread, Kubectl]]:
    """kfed up in a thread: federation API on a free port, DNS server on a free port, sim clusters."""
    kubeconfig = tmp_path / "kubeconfig"
    options = EmbeddedOptions(
        data_dir=tmp_path / "kfed", kubeconfig=kubeconfig, api_port=0, dns_listen=("127.0.0.1", 0),
        sim_layout=sim_layout, sim_clusters=sim_clusters or [], settings=settings or FederationSettings(),
        manager=ManagerOptions(monitor_period=monitor_period, probe_timeout=1.0, **manager),
        pod_ready_delay=pod_ready_delay, sim_lb_hostnames=sim_lb_hostnames or [])
    thread = FederationThread(options)
    thread.start()
    try:
        yield thread, Kubectl(kubeconfig)
    finally:
        thread.stop()
