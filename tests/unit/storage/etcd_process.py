"""A real etcd for tests: started on free 127.0.0.1 ports with a temporary data directory,
waited for by polling /health with a deadline, always stopped (then killed if it lingers).
With PR_SET_PDEATHSIG it also dies if the test process itself is killed."""

from __future__ import annotations

import contextlib
import ctypes
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ETCD = shutil.which("etcd")


@dataclass(frozen=True)
class EtcdServer:
    host: str
    port: int
    data_dir: Path

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as resp:
            return b'"health":"true"' in resp.read()
    except OSError:
        return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def start_etcd(data_dir: Path, *, progress_interval: str = "100ms",
               deadline_s: float = 30.0) -> tuple[subprocess.Popen[bytes], EtcdServer]:
    """A healthy single-member etcd on free loopback ports (a few tries: a port may be taken
    between choosing it and etcd binding it)."""
    assert ETCD is not None
    last_log = ""
    data_dir.mkdir(parents=True, exist_ok=True)
    for attempt in range(3):
        client, peer = free_port(), free_port()
        data = data_dir / f"member-{attempt}"
        log_path = data_dir / f"etcd-{attempt}.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [
                    ETCD, "--name", "kfed-test", "--data-dir", str(data),
                    "--listen-client-urls", f"http://127.0.0.1:{client}",
                    "--advertise-client-urls", f"http://127.0.0.1:{client}",
                    "--listen-peer-urls", f"http://127.0.0.1:{peer}",
                    "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
                    "--initial-cluster", f"kfed-test=http://127.0.0.1:{peer}",
                    "--experimental-watch-progress-notify-interval", progress_interval,
                    "--log-level", "error",
                ],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline and proc.poll() is None:
            if _healthy(client):
                return proc, EtcdServer("127.0.0.1", client, data)
            time.sleep(0.05)
        _stop(proc)
        last_log = log_path.read_text(errors="replace")[-2000:]
    raise RuntimeError(f"etcd did not become healthy; last log:\n{last_log}")


@contextlib.contextmanager
def running_etcd(data_dir: Path) -> Iterator[EtcdServer]:
    proc, server = start_etcd(data_dir)
    try:
        yield server
    finally:
        _stop(proc)
        assert proc.poll() is not None, "etcd still running after stop"
        shutil.rmtree(data_dir, ignore_errors=True)
