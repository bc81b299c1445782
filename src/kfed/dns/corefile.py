"""The CoreDNS configuration that gives pods of one member cluster federated names (pure).

CoreDNS dropped kube-dns' `federations` (its `federation` plugin went in 1.7), so kfed writes the
behaviour with stock plugins instead. Two forms:

template (default)
    `template IN ANY <fed>.svc.<cluster domain>` answers `<svc>.<ns>.<fed>.svc.<cluster domain>`
    with a CNAME to the zone name of this cluster, `<svc>.<ns>.<fed>.svc.<zone>.<fed domain>.`
    (the same name `kfed cluster-dns` uses), and CoreDNS resolves the CNAME through itself, so
    pods get the final addresses. Other names under `<fed>.svc...` fall through to the
    `kubernetes` plugin. What stock CoreDNS cannot do: look at local endpoints. So the answer is
    always the zone name, never the local ClusterIP; when the local shard is healthy, the zone
    record holds its load-balancer address (and the other healthy shards of the zone), so the pod
    still reaches the nearest healthy copy, through the load balancer, and learns of local
    endpoint changes only as fast as the federation's records change (their TTL, 180 s by
    default). A name whose zone form would exceed 255 octets makes CoreDNS fail (SERVFAIL) where
    kfed cluster-dns says NXDOMAIN.

delegate (`delegate` given)
    A server block `<fed>.svc.<cluster domain>` forwarding to `kfed cluster-dns` running in the
    cluster: exactly the documented behaviour (local ClusterIP when a local endpoint is ready).

With `federation_dns`, a server block forwards the federation's domain to those servers (kfed's
built-in DNS server when the domain is not delegated to it publicly), so the CNAME resolves.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from kfed.dns.clusterdns import federated_target
from kfed.dns.names import InvalidNameError, ServiceNames, ZoneNameStyle, absolute, relative

# The named groups CoreDNS fills in from the question name (lowercased, absolute).
SERVICE_GROUP = "svc"
NAMESPACE_GROUP = "ns"
_LABEL_PATTERN = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DEFAULT_COREFILE_TTL = 30
# Stand-ins for the service and namespace labels while the target's fixed suffix is computed.
_SERVICE_STAND_IN = "s"
_NAMESPACE_STAND_IN = "n"


class CorefileError(ValueError):
    """Settings the fragment cannot be written for (no federation, an address CoreDNS rejects)."""


@dataclass(frozen=True)
class CorefileSettings:
    cluster: str
    federations: Mapping[str, str]  # name -> domain
    zone: str
    region: str
    cluster_domain: str = "cluster.local."
    ttl: int = DEFAULT_COREFILE_TTL
    zone_style: ZoneNameStyle = ZoneNameStyle.ZONE
    port: int = 53  # the port of the Corefile's main server block: extra blocks must share it
    federation_dns: Sequence[str] = ()  # IP[:PORT] answering the federation domains
    delegate: Sequence[str] = ()  # IP[:PORT] of kfed cluster-dns: exact behaviour


def _regex_literal(name: str) -> str:
    """A DNS name as a regex matching it literally, dots as `[.]` (no backslashes to escape in
    the Corefile's quoted strings)."""
    return "".join("[.]" if ch == "." else ch if ch.isalnum() or ch == "-" else re.escape(ch) for ch in name)


def federated_name_regex(federation: str, cluster_domain: str) -> str:
    """The RE2 (and Python) regex matching `<svc>.<ns>.<fed>.svc.<cluster domain>.` exactly."""
    suffix = _regex_literal(f"{federation}.svc.{absolute(cluster_domain)}")
    return f"^(?P<{SERVICE_GROUP}>{_LABEL_PATTERN})[.](?P<{NAMESPACE_GROUP}>{_LABEL_PATTERN})[.]{suffix}$"


def zone_target_template(
    federation: str, domain: str, zone: str, region: str, zone_style: ZoneNameStyle = ZoneNameStyle.ZONE
) -> str:
    """The CNAME target as a Go template over the regex's groups, built with ServiceNames so it
    is the very name the records and `kfed cluster-dns` use."""
    names = ServiceNames(_SERVICE_STAND_IN, _NAMESPACE_STAND_IN, federation, domain, zone_style)
    target = federated_target(names, zone, region)
    stand_in = f"{_SERVICE_STAND_IN}.{_NAMESPACE_STAND_IN}."
    assert target.startswith(stand_in)
    return f"{{{{ .Group.{SERVICE_GROUP} }}}}.{{{{ .Group.{NAMESPACE_GROUP} }}}}.{target[len(stand_in) :]}"


def _forward_address(address: str) -> str:
    """`IP[:PORT]` as CoreDNS' forward plugin takes it."""
    text = address.strip()
    if not text or any(ch.isspace() or ch in '{}"#' for ch in text):
        raise CorefileError(f"{address!r} is not an address CoreDNS can forward to")
    return text


def corefile_fragment(settings: CorefileSettings) -> str:
    """The Corefile text for `settings`, with comments saying where each part goes."""
    if not settings.federations:
        raise CorefileError("no federation to configure: give --federations or join the cluster first")
    cluster_domain = absolute(settings.cluster_domain)
    feds = sorted(settings.federations.items())
    lines = [
        f"# kfed coredns-config for cluster {settings.cluster}: zone {settings.zone or '(none)'}, "
        f"region {settings.region or '(none)'}",
        "# federations: " + ", ".join(f"{name}={relative(domain)}" for name, domain in feds),
    ]
    if settings.delegate:
        upstreams = " ".join(_forward_address(a) for a in settings.delegate)
        lines.append(
            "# Add these server blocks at the top level of the Corefile: kfed cluster-dns answers "
            "federated names."
        )
        for name, _domain in feds:
            lines += [
                f"{relative(f'{name}.svc.{cluster_domain}')}:{settings.port} {{",
                "    errors",
                f"    forward . {upstreams}",
                "}",
            ]
    else:
        lines.append(
            f"# Add inside the server block that serves {relative(cluster_domain)} (the one with the "
            "`kubernetes` plugin):"
        )
        for name, domain in feds:
            try:
                target = zone_target_template(
                    name, domain, settings.zone, settings.region, settings.zone_style
                )
            except InvalidNameError as e:
                raise CorefileError(f"federation {name}: {e}") from e
            lines += [
                f"template IN ANY {relative(f'{name}.svc.{cluster_domain}')} {{",
                f'    match "{federated_name_regex(name, cluster_domain)}"',
                f'    answer "{{{{ .Name }}}} {settings.ttl} IN CNAME {target}"',
                "    fallthrough",
                "}",
            ]
    if settings.federation_dns:
        upstreams = " ".join(_forward_address(a) for a in settings.federation_dns)
        lines.append(
            "# Add these server blocks at the top level of the Corefile: the federation's domain "
            "is answered by kfed's DNS server."
        )
        for domain in sorted({d for _, d in feds}):
            lines += [
                f"{relative(domain)}:{settings.port} {{",
                "    errors",
                f"    forward . {upstreams}",
                "}",
            ]
    return "\n".join(lines) + "\n"
