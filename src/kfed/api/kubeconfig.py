"""Merging contexts into a kubeconfig file without disturbing the others (as `kubectl config` does)."""

from __future__ import annotations

import base64
import fcntl
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


def default_kubeconfig_path() -> Path:
    """The first file of $KUBECONFIG, else ~/.kube/config (kubectl writes to the first one too)."""
    env = os.environ.get("KUBECONFIG", "")
    first = next((p for p in env.split(os.pathsep) if p), "")
    return Path(first) if first else Path.home() / ".kube" / "config"


@dataclass(frozen=True)
class ContextEntry:
    name: str  # used for the context, the cluster and the user entries
    server: str
    ca_pem: bytes
    token: str | None = None
    client_cert_pem: bytes | None = None
    client_key_pem: bytes | None = None
    namespace: str | None = None


def _empty() -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Config", "preferences": {}, "clusters": [], "users": [],
            "contexts": [], "current-context": ""}


def _upsert(items: list[dict[str, Any]], name: str, key: str, value: dict[str, Any]) -> None:
    for item in items:
        if item.get("name") == name:
            item[key] = value
            return
    items.append({"name": name, key: value})


@contextmanager
def _locked(path: Path):  # type: ignore[no-untyped-def]
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = path.with_name(path.name + ".lock")
    with open(lock, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def merge_contexts(entries: list[ContextEntry], path: Path | None = None, *, set_current: str | None = None) -> Path:
    """Add or replace the cluster, user and context of each entry; other entries stay as they are."""
    path = path or default_kubeconfig_path()
    with _locked(path):
        config = _empty()
        if path.exists():
            loaded = yaml.safe_load(path.read_text()) or {}
            if not isinstance(loaded, dict):
                raise ValueError(f"{path} is not a kubeconfig file")
            config.update(loaded)
            for k in ("clusters", "users", "contexts"):
                config[k] = config.get(k) or []
        for e in entries:
            _upsert(config["clusters"], e.name, "cluster", {
                "server": e.server, "certificate-authority-data": base64.b64encode(e.ca_pem).decode()})
            user: dict[str, Any] = {}
            if e.token:
                user["token"] = e.token
            if e.client_cert_pem and e.client_key_pem:
                user["client-certificate-data"] = base64.b64encode(e.client_cert_pem).decode()
                user["client-key-data"] = base64.b64encode(e.client_key_pem).decode()
            _upsert(config["users"], e.name, "user", user)
            ctx: dict[str, Any] = {"cluster": e.name, "user": e.name}
            if e.namespace:
                ctx["namespace"] = e.namespace
            _upsert(config["contexts"], e.name, "context", ctx)
        if set_current or not config.get("current-context"):
            config["current-context"] = set_current or (entries[0].name if entries else "")
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            yaml.safe_dump(config, f, sort_keys=False)
        os.replace(tmp, path)
    return path


def remove_contexts(names: list[str], path: Path | None = None) -> None:
    path = path or default_kubeconfig_path()
    if not path.exists():
        return
    with _locked(path):
        config = yaml.safe_load(path.read_text()) or {}
        for k in ("clusters", "users", "contexts"):
            config[k] = [i for i in (config.get(k) or []) if i.get("name") not in names]
        if config.get("current-context") in names:
            config["current-context"] = ""
        path.write_text(yaml.safe_dump(config, sort_keys=False))
