"""Child processes of a benchmark: start (optionally pinned to a CPU), wait until ready, stop the
whole process group, read memory from /proc. Each child dies with its parent (PR_SET_PDEATHSIG),
so an interrupted benchmark leaves nothing behind."""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A port free for both TCP and UDP on 127.0.0.1 (DNS servers listen on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = int(tcp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free port")


def _die_with_parent() -> None:
    os.setsid()  # its own process group: stop() takes its children too
    if sys.platform.startswith("linux"):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def pinned(argv: Sequence[str], cpu: int | None) -> list[str]:
    """argv run on one CPU with taskset (when there is more than one CPU and taskset exists)."""
    if cpu is None or (os.cpu_count() or 1) < 2 or shutil.which("taskset") is None:
        return list(argv)
    return ["taskset", "-c", str(cpu), *argv]


def kfed_cli() -> list[str]:
    """How to run the `kfed` command of this checkout."""
    return [sys.executable, "-m", "kfed"]


def env_with_repo() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO / "src"), str(REPO), env.get("PYTHONPATH", "")) if p
    )
    return env


def start(
    argv: Sequence[str],
    *,
    log: Path,
    cpu: int | None = None,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    stdout_pipe: bool = False,
) -> subprocess.Popen[bytes]:
    out = log.open("wb")
    try:
        return subprocess.Popen(
            pinned(argv, cpu),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if stdout_pipe else out,
            stderr=out,
            cwd=cwd,
            env=env or env_with_repo(),
            preexec_fn=_die_with_parent,
        )
    finally:
        out.close()


def stop(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@contextmanager
def running(
    argv: Sequence[str],
    *,
    log: Path,
    ready: Callable[[], bool],
    what: str,
    cpu: int | None = None,
    timeout: float = 60.0,
    env: dict[str, str] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """A child process, stopped on exit, after `ready()` returned True (polled with a deadline)."""
    process = start(argv, log=log, cpu=cpu, env=env)
    try:
        wait_until(lambda: _alive(process, log, what) and ready(), timeout, what)
        yield process
    finally:
        stop(process)


def _alive(process: subprocess.Popen[bytes], log: Path, what: str) -> bool:
    if process.poll() is not None:
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        raise RuntimeError(f"{what} exited with {process.returncode}:\n{tail}")
    return True


def wait_until(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not ready within {timeout:g} s")
        time.sleep(interval)


def rss_mib(pid: int | str = "self") -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process in MiB: its resident memory now and at its peak."""
    fields: dict[str, str] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def tree_rss_mib(pid: int) -> float:
    """VmRSS of a process and its descendants (taskset execs in place; servers may fork workers)."""
    total = 0.0
    for p in descendants(pid):
        try:
            total += rss_mib(p)[0]
        except (OSError, KeyError, ValueError):
            continue
    return total


def tcp_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


@contextmanager
def etcd(data_dir: Path, log: Path, cpu: int | None = None) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A single-member etcd on free 127.0.0.1 ports (fsync on, as in production): (host:port, process)."""
    binary = shutil.which("etcd")
    if binary is None:
        raise FileNotFoundError("etcd is not installed (make sysdeps)")
    client, peer = free_port(), free_port()
    argv = [
        binary,
        "--name",
        "bench",
        "--data-dir",
        str(data_dir),
        "--listen-client-urls",
        f"http://127.0.0.1:{client}",
        "--advertise-client-urls",
        f"http://127.0.0.1:{client}",
        "--listen-peer-urls",
        f"http://127.0.0.1:{peer}",
        "--initial-advertise-peer-urls",
        f"http://127.0.0.1:{peer}",
        "--initial-cluster",
        f"bench=http://127.0.0.1:{peer}",
        "--log-level",
        "error",
    ]

    def healthy() -> bool:
        import urllib.request

        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{client}/health", timeout=1) as r:
                return b'"health":"true"' in r.read()
        except OSError:
            return False

    with running(argv, log=log, ready=healthy, what="etcd", cpu=cpu, timeout=30) as process:
        yield f"127.0.0.1:{client}", process


def cpu_seconds(pid: int | str = "self") -> float:
    """CPU time (user + system, all threads) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def descendants(pid: int) -> list[int]:
    """The process and all its descendants (servers that fork workers, taskset that execs)."""
    out, pending = [], [pid]
    while pending:
        p = pending.pop()
        out.append(p)
        try:
            pending += [int(c) for c in Path(f"/proc/{p}/task/{p}/children").read_text().split()]
        except OSError:
            continue
    return out


def tree_pss_mib(pid: int) -> float:
    """Proportional set size of a process tree: shared pages counted once between the processes
    (forked servers such as NSD share most of their memory), in MiB."""
    total = 0.0
    for p in descendants(pid):
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            continue
    return total
