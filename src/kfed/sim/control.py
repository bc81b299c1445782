"""The control endpoint of a running `kfed sim`: `kfed sim fault ...` talks to it.

A loopback HTTP port guarded by a random token; both are written to `<data-dir>/control.json`
(mode 0600), so only the user who started the simulation can break its clusters.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import secrets
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from aiohttp import web

from kfed.sim.fleet import SimFleet

log = logging.getLogger("kfed.sim.control")

CONTROL_FILE = "control.json"
_POD_ACTIONS = ("unready", "ready", "delete-pods", "restore-pods")


class ControlError(Exception):
    pass


def _str(req: dict[str, Any], key: str, required: bool = False) -> str | None:
    value = req.get(key)
    if value is None or value == "":
        if required:
            raise ControlError(f"{key} is required")
        return None
    if not isinstance(value, str):
        raise ControlError(f"{key} must be a string")
    return value


async def perform(fleet: SimFleet, req: dict[str, Any]) -> dict[str, Any]:
    """Carry out one control request: {"action": ..., "cluster": ..., ...}."""
    action = _str(req, "action", required=True)
    if action == "status":
        return {"clusters": fleet.describe(), "dns": "{}:{}".format(*fleet.dns_address)}
    cluster = _str(req, "cluster", required=True)
    assert cluster is not None
    try:
        if action == "fault":
            latency = req.get("latency")
            if latency is not None and (not isinstance(latency, int | float) or latency < 0):
                raise ControlError("latency must be a number of seconds >= 0")
            await fleet.fault(cluster, _str(req, "fault", required=True) or "", latency=latency)
            return {"cluster": fleet.cluster(cluster).describe()}
        if action == "clear":
            await fleet.clear(cluster, _str(req, "fault"))
            return {"cluster": fleet.cluster(cluster).describe()}
        if action == "restart":
            await fleet.restart(cluster)
            return {"cluster": fleet.cluster(cluster).describe()}
        if action in _POD_ACTIONS:
            target = {"pod": _str(req, "pod"), "zone": _str(req, "zone"),
                      "namespace": _str(req, "namespace") or "default"}
            if action == "unready":
                await fleet.make_unready(cluster, **target)  # type: ignore[arg-type]
                return {"cluster": fleet.cluster(cluster).describe()}
            if action == "ready":
                await fleet.make_ready(cluster, **target)  # type: ignore[arg-type]
                return {"cluster": fleet.cluster(cluster).describe()}
            if action == "delete-pods":
                return {"deleted": await fleet.delete_pods(cluster, **target)}  # type: ignore[arg-type]
            return {"restored": await fleet.restore_pods(cluster, **target)}  # type: ignore[arg-type]
    except (LookupError, ValueError) as e:
        raise ControlError(str(e).strip("'\"")) from e
    raise ControlError(f"unknown action {action!r}")


class ControlServer:
    def __init__(self, fleet: SimFleet, data_dir: Path) -> None:
        self.fleet = fleet
        self.path = Path(data_dir) / CONTROL_FILE
        self.token = secrets.token_urlsafe(32)
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/control", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/v1/control"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"url": self.url, "token": self.token, "pid": os.getpid()}, f)
        os.replace(tmp, self.path)

    async def stop(self) -> None:
        try:
            info = json.loads(self.path.read_text())
            if info.get("token") == self.token:  # a newer simulation may own the file now
                self.path.unlink()
        except (OSError, ValueError):
            pass
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.Response:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").encode()
        if not hmac.compare_digest(given, self.token.encode()):
            return web.json_response({"error": "unauthorized"}, status=401)
        try:
            body = await request.json()
            if not isinstance(body, dict):
                raise ControlError("the request must be a JSON object")
            return web.json_response(await perform(self.fleet, body))
        except (ControlError, json.JSONDecodeError) as e:
            return web.json_response({"error": str(e)}, status=400)


def send(data_dir: Path, request: dict[str, Any], timeout: float = 60.0) -> dict[str, Any]:
    """Send a control request to the simulation running with this data dir (blocking)."""
    path = Path(data_dir) / CONTROL_FILE
    try:
        info = json.loads(path.read_text())
    except FileNotFoundError:
        raise ControlError(f"no simulation is running with data dir {data_dir} ({path} is missing)") from None
    req = urllib.request.Request(info["url"], data=json.dumps(request).encode(), method="POST",
                                 headers={"Authorization": f"Bearer {info['token']}",
                                          "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            result: dict[str, Any] = json.loads(resp.read())
            return result
    except urllib.error.HTTPError as e:
        try:
            message = json.loads(e.read()).get("error", str(e))
        except ValueError:
            message = str(e)
        raise ControlError(message) from None
    except OSError as e:
        raise ControlError(f"the simulation with data dir {data_dir} does not answer: {e}") from None
