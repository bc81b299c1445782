"""What several commands share: the data directory, the federation settings file, API clients."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click
import yaml

from kfed.api.kubeconfig import default_kubeconfig_path
from kfed.controllers.manager import FederationSettings
from kfed.members.client import KubeClient, KubeConfigError, parse_kubeconfig

DEFAULT_DATA_DIR = Path(os.environ.get("KFED_DATA_DIR", str(Path.home() / ".kfed")))
SETTINGS_FILE = "federation.yaml"

data_dir_option = click.option(
    "--data-dir", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_DATA_DIR, show_default=True,
    help="Where kfed keeps its database, certificates, tokens and settings ($KFED_DATA_DIR).")
kubeconfig_option = click.option(
    "--kubeconfig", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Kubeconfig file (default: $KUBECONFIG, else ~/.kube/config).")
host_context_option = click.option(
    "--host-context", default="federation-cluster", show_default=True,
    help="Kubeconfig context of the federation API.")


def load_settings(data_dir: Path) -> FederationSettings | None:
    path = data_dir / SETTINGS_FILE
    if not path.exists():
        return None
    data = yaml.safe_load(path.read_text()) or {}
    return FederationSettings(
        federation=data.get("federation", "myfederation"), dns_zone=data.get("dnsZoneName", "example.com."),
        dns_provider=data.get("dnsProvider", "builtin"), dns_provider_config=data.get("dnsProviderConfig") or {},
        default_ttl=int(data.get("defaultTTL", 180)))


def save_settings(data_dir: Path, settings: FederationSettings) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / SETTINGS_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # provider config may hold secrets
    with os.fdopen(fd, "w") as f:
        yaml.safe_dump({"federation": settings.federation, "dnsZoneName": settings.dns_zone,
                        "dnsProvider": settings.dns_provider, "dnsProviderConfig": settings.dns_provider_config,
                        "defaultTTL": settings.default_ttl}, f, sort_keys=False)
    return path


def read_kubeconfig(path: Path | None) -> dict[str, Any]:
    path = path or default_kubeconfig_path()
    try:
        return parse_kubeconfig(path.read_text())
    except FileNotFoundError as e:
        raise click.ClickException(f"kubeconfig {path} not found") from e
    except KubeConfigError as e:
        raise click.ClickException(f"{path}: {e}") from e


async def federation_client(kubeconfig: Path | None, context: str) -> KubeClient:
    config = read_kubeconfig(kubeconfig)
    try:
        return await KubeClient.from_kubeconfig(config, context)
    except KubeConfigError as e:
        raise click.ClickException(str(e)) from e
