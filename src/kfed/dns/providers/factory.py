"""Building a DNSProvider from its name and a config dict (from flags or a config file).

Keys per provider (all optional unless said):

- `rfc2136`: server, port, tsig_key_name, tsig_secret (base64), tsig_algorithm (hmac-sha256),
  timeout, requests_per_second.
- `route53`: zone_id (else found by the zone's name), endpoint_url, region, access_key_id,
  secret_access_key, session_token, requests_per_second (5).
- `clouddns`: project (required), managed_zone (else found by the zone's DNS name), endpoint_url,
  anonymous (no credentials: for emulators and tests), requests_per_second.
- `builtin`: store (required): a `RecordSetStore` over the federation API; max_in_flight (object
  writes at a time, 32); requests_per_second (object writes a second; unpaced unless set).

Each provider module is imported only when asked for, so boto3 and the Google client load only
where they are used.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kfed.dns.providers.base import DNSProvider

PROVIDERS = ("builtin", "rfc2136", "route53", "clouddns", "memory")


def _known(config: Mapping[str, Any], allowed: set[str], name: str) -> None:
    unknown = set(config) - allowed
    if unknown:
        raise ValueError(f"unknown {name} provider settings {sorted(unknown)}; known: {sorted(allowed)}")


def make_provider(name: str, config: Mapping[str, Any] | None = None) -> DNSProvider:
    config = dict(config or {})
    if name == "rfc2136":
        from kfed.dns.providers.rfc2136 import RFC2136Config, RFC2136Provider

        _known(config, {"server", "port", "tsig_key_name", "tsig_secret", "tsig_algorithm", "timeout",
                        "transfer_timeout", "requests_per_second"}, name)
        if "port" in config:
            config["port"] = int(config["port"])
        return RFC2136Provider(RFC2136Config(**config))
    if name == "route53":
        from kfed.dns.providers.route53 import Route53Config, Route53Provider

        _known(config, {"zone_id", "endpoint_url", "region", "access_key_id", "secret_access_key",
                        "session_token", "requests_per_second", "timeout"}, name)
        return Route53Provider(Route53Config(**config))
    if name == "clouddns":
        from kfed.dns.providers.clouddns import CloudDNSConfig, CloudDNSProvider

        _known(config, {"project", "managed_zone", "endpoint_url", "anonymous", "requests_per_second",
                        "poll_interval", "poll_timeout"}, name)
        if "project" not in config:
            raise ValueError("clouddns provider needs a project")
        return CloudDNSProvider(CloudDNSConfig(**config))
    if name == "builtin":
        from kfed.dns.providers.builtin import DEFAULT_MAX_IN_FLIGHT, BuiltinProvider

        _known(config, {"store", "requests_per_second", "max_in_flight"}, name)
        if "store" not in config:
            raise ValueError("builtin provider needs a store (the federation API's DNSRecordSets)")
        rate = config.get("requests_per_second")
        return BuiltinProvider(config["store"], requests_per_second=float(rate) if rate is not None else None,
                               max_in_flight=int(config.get("max_in_flight", DEFAULT_MAX_IN_FLIGHT)))
    if name == "memory":
        from kfed.dns.providers.memory import InMemoryProvider

        _known(config, {"zones"}, name)
        return InMemoryProvider(config.get("zones", ()))
    raise ValueError(f"unknown DNS provider {name!r}; one of {', '.join(PROVIDERS)}")
