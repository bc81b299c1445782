"""Where an etcd cluster is, and where kfed's keys are in it (pure parsing, no I/O)."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

#: The key prefix of kfed's keys in etcd when none is given.
DEFAULT_PREFIX = "/kfed"


Endpoints = str | Sequence[str] | Sequence[tuple[str, int]]


def parse_endpoints(endpoints: Endpoints) -> list[tuple[str, int]]:
    """`"h1:2379,h2:2379"`, `["http://h1:2379"]`, `"[::1]:2379"`, `[("h1", 2379)]` -> [(host, port)]."""
    items: list[str | tuple[str, int]] = (
        list(endpoints.split(",")) if isinstance(endpoints, str) else list(endpoints)
    )
    out: list[tuple[str, int]] = []
    for raw in items:
        if isinstance(raw, tuple):
            out.append((str(raw[0]), int(raw[1])))
            continue
        item = raw.strip()
        for scheme in ("http://", "https://", "etcd://"):
            if item.startswith(scheme):
                item = item[len(scheme):]
        item = item.rstrip("/")
        if not item:
            continue
        if item.startswith("["):  # [v6]:port
            host, _, rest = item[1:].partition("]")
            port = int(rest[1:]) if rest.startswith(":") else 2379
        elif item.count(":") == 1:
            host, _, port_text = item.partition(":")
            port = int(port_text)
        elif item.count(":") > 1:  # a bare IPv6 address
            host, port = item, 2379
        else:
            host, port = item, 2379
        out.append((host, port))
    if not out:
        raise ValueError(f"no etcd endpoints in {endpoints!r}")
    return out


def grpc_target(addresses: Sequence[tuple[str, int]]) -> str:
    """A gRPC target naming every address, so the channel fails over between etcd members.

    Several endpoints must be IP addresses (of one family); resolve names first.
    """
    if len(addresses) == 1:
        host, port = addresses[0]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    versions = {ipaddress.ip_address(host).version for host, _ in addresses}
    if versions == {4}:
        return "ipv4:" + ",".join(f"{h}:{p}" for h, p in addresses)
    if versions == {6}:
        return "ipv6:" + ",".join(f"[{h}]:{p}" for h, p in addresses)
    raise ValueError("etcd endpoints mix IPv4 and IPv6 addresses")


def is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
