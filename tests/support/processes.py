"""Starting kfed processes for tests, and always stopping them."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.support.waiting import wait_for


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ApiServerProcess:
    data_dir: Path
    port: int
    kubeconfig: Path
    proc: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def admin_token(self) -> str:
        return (self.data_dir / "tokens" / "admin.token").read_text().strip()

    @property
    def readonly_token(self) -> str:
        return (self.data_dir / "tokens" / "readonly.token").read_text().strip()

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.data_dir / "pki" / "ca.crt"))

    def get(self, path: str, token: str | None = None) -> tuple[int, bytes]:
        req = urllib.request.Request(self.url + path)
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, context=self.ssl_context(), timeout=5) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def kill(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def start_apiserver(data_dir: Path, kubeconfig: Path, port: int | None = None,
                    extra: list[str] | None = None) -> ApiServerProcess:
    port = port or free_port()
    log_path = data_dir.parent / f"apiserver-{port}.log"
    env = dict(os.environ, KUBECONFIG=str(kubeconfig))
    logf = open(log_path, "ab")  # noqa: SIM115 - kept open for the child's lifetime
    proc = subprocess.Popen(
        [sys.executable, "-m", "kfed", "apiserver", "--data-dir", str(data_dir), "--port", str(port),
         "--kubeconfig", str(kubeconfig), "--log-level", "info", *(extra or [])],
        stdout=logf, stderr=subprocess.STDOUT, env=env)
    server = ApiServerProcess(data_dir, port, kubeconfig, proc, log_path)

    def up() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"apiserver exited with {proc.returncode}: {server.log()[-2000:]}")
        try:
            return server.get("/readyz")[0] == 200
        except OSError:
            return False

    try:
        wait_for(up, timeout=30, what="apiserver /readyz")
    except BaseException:
        server.kill(signal.SIGKILL)
        raise
    return server
