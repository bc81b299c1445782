from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests.support.kubectl import Kubectl
from tests.support.processes import ApiServerProcess, start_apiserver

# The machines are shared and loaded: timing-based health checks and deadlines would make
# property tests fail for reasons that are not the code's. Every test still runs its examples.
settings.register_profile("kfed", deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                        HealthCheck.data_too_large])
settings.load_profile("kfed")


@pytest.fixture
def apiserver(tmp_path: Path) -> Iterator[ApiServerProcess]:
    """A real `kfed apiserver` process on a free port with its own data dir and kubeconfig."""
    server = start_apiserver(tmp_path / "data", tmp_path / "kubeconfig")
    try:
        yield server
    finally:
        server.kill(signal.SIGTERM)


@pytest.fixture
def kubectl(apiserver: ApiServerProcess) -> Kubectl:
    return Kubectl(apiserver.kubeconfig)
