"""Real authoritative servers for the RFC 2136 provider tests: BIND 9 (named) and Knot (knotd).

Each fixture writes a config and a zone into tmp_path, starts the server in the foreground as the
current user on a free 127.0.0.1 port, waits until it answers a SOA query, and kills it afterwards.
The zone accepts updates and transfers signed with one TSIG key (hmac-sha256).
"""

from __future__ import annotations

import base64
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import dns.message
import dns.query
import dns.rcode
import pytest

ZONE = "example.com."
KEY_NAME = "kfed-key."

ZONE_FILE = """$ORIGIN example.com.
$TTL 3600
@   IN SOA ns1.example.com. hostmaster.example.com. 1 7200 3600 1209600 300
@   IN NS  ns1.example.com.
ns1 IN A   127.0.0.1
"""


@dataclass
class DNSServer:
    kind: str
    port: int
    zone: str
    key_name: str
    secret: str
    process: subprocess.Popen[bytes]
    log: Path
    cleanup: tuple[Path, ...] = ()

    @property
    def address(self) -> str:
        return "127.0.0.1"

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def free_port() -> int:
    """A port free for both TCP and UDP on 127.0.0.1 (DNS serves both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return int(port)
    raise RuntimeError("no free port")


def wait_for_soa(server: DNSServer, deadline_s: float = 20.0) -> None:
    deadline = time.monotonic() + deadline_s
    query = dns.message.make_query(server.zone, "SOA")
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.kind} exited with {server.process.returncode}:\n{server.output()}")
        try:
            answer = dns.query.udp(query, server.address, port=server.port, timeout=0.2)
            if answer.rcode() == dns.rcode.NOERROR and answer.answer:
                return
        except (dns.exception.Timeout, OSError):
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{server.kind} did not answer SOA on port {server.port}:\n{server.output()}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def need(binary: str) -> str:
    path = shutil.which(binary) or (f"/usr/sbin/{binary}" if os.path.exists(f"/usr/sbin/{binary}") else None)
    if path is None:
        pytest.fail(f"{binary} is not installed: `make test` installs it (Debian packages bind9, knot)")
    return path


def new_secret() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def start_bind(tmp: Path) -> DNSServer:
    named = need("named")
    port, secret = free_port(), new_secret()
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "example.com.db").write_text(ZONE_FILE)
    conf = tmp / "named.conf"
    conf.write_text(f"""
options {{
    directory "{tmp}";
    pid-file "{tmp}/named.pid";
    session-keyfile "{tmp}/session.key";
    managed-keys-directory "{tmp}";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    dnssec-validation no;
    notify no;
    allow-query {{ any; }};
}};
controls {{ }};
key "{KEY_NAME}" {{ algorithm hmac-sha256; secret "{secret}"; }};
zone "example.com" {{
    type primary;
    file "{tmp}/example.com.db";
    allow-update {{ key "{KEY_NAME}"; }};
    allow-transfer {{ key "{KEY_NAME}"; }};
}};
""")
    log = tmp / "named.log"
    with log.open("wb") as out:
        process = subprocess.Popen([named, "-g", "-4", "-n", "1", "-c", str(conf)], stdout=out, stderr=out,
                                   stdin=subprocess.DEVNULL, cwd=tmp)
    return DNSServer("bind", port, ZONE, KEY_NAME, secret, process, log)


def start_knot(tmp: Path) -> DNSServer:
    knotd = need("knotd")
    # knotd's control socket lives in rundir; a unix socket path must stay under 108 bytes.
    rundir = Path(tempfile.mkdtemp(prefix="knot-"))
    port, secret = free_port(), new_secret()
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "example.com.zone").write_text(ZONE_FILE)
    conf = tmp / "knot.conf"
    conf.write_text(f"""
server:
    rundir: "{rundir}"
    listen: 127.0.0.1@{port}
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
database:
    storage: "{tmp}"
log:
  - target: stderr
    any: info
key:
  - id: {KEY_NAME}
    algorithm: hmac-sha256
    secret: {secret}
acl:
  - id: kfed
    key: {KEY_NAME}
    action: [update, transfer]
zone:
  - domain: example.com
    storage: "{tmp}"
    file: "example.com.zone"
    acl: kfed
""")
    log = tmp / "knotd.log"
    with log.open("wb") as out:
        process = subprocess.Popen([knotd, "-c", str(conf)], stdout=out, stderr=out,
                                   stdin=subprocess.DEVNULL, cwd=tmp)
    return DNSServer("knot", port, ZONE, KEY_NAME, secret, process, log, cleanup=(rundir,))
