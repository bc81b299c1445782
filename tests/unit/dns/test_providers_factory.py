"""make_provider: every provider from a config dict, and clear errors for bad configs."""

from __future__ import annotations

import pytest

from kfed.dns.providers import DNSProvider, make_provider
from kfed.dns.providers.memory import InMemoryProvider
from kfed.dns.providers.rfc2136 import RFC2136Provider


def test_each_provider_is_built_from_its_config() -> None:
    rfc = make_provider("rfc2136", {"server": "127.0.0.1", "port": "5353", "tsig_key_name": "k.",
                                    "tsig_secret": "c2VjcmV0", "tsig_algorithm": "HMAC-SHA512"})
    assert isinstance(rfc, RFC2136Provider) and rfc.config.port == 5353
    r53 = make_provider("route53", {"zone_id": "Z1", "endpoint_url": "http://127.0.0.1:1",
                                    "access_key_id": "a", "secret_access_key": "b"})
    gcd = make_provider("clouddns", {"project": "p", "endpoint_url": "http://127.0.0.1:1", "anonymous": True})
    mem = make_provider("memory", {"zones": ["example.com"]})
    assert isinstance(mem, InMemoryProvider) and "example.com." in mem.zones
    for provider, name in ((rfc, "rfc2136"), (r53, "route53"), (gcd, "clouddns"), (mem, "memory")):
        assert isinstance(provider, DNSProvider) and provider.name == name
    assert r53.limits.max_records == 1000 and r53.limits.max_chars == 32_000
    assert r53.limits.requests_per_second == 5.0


@pytest.mark.parametrize(("name", "config", "message"), [
    ("powerdns", {}, "unknown DNS provider"),
    ("rfc2136", {"sever": "x"}, "unknown rfc2136 provider settings"),
    ("rfc2136", {"tsig_key_name": "k.", "tsig_secret": "c2VjcmV0", "tsig_algorithm": "hmac-sha3"},
     "unknown TSIG algorithm"),
    ("clouddns", {}, "needs a project"),
    ("builtin", {}, "needs a store"),
])
def test_bad_configs_are_refused(name: str, config: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_provider(name, config)
