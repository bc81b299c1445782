"""The DNS names of a federated Service, in one place.

Every part of kfed that spells a federated name (the record computation, the authoritative
server, cluster-local resolution that CNAMEs a pod's query to its zone name) builds it here,
so the three never disagree.

```
global  <svc>.<ns>.<fed>.svc.<domain>.
region  <svc>.<ns>.<fed>.svc.<region>.<domain>.
zone    <svc>.<ns>.<fed>.svc.<zone>.<domain>.             (ZoneNameStyle.ZONE, the default)
        <svc>.<ns>.<fed>.svc.<zone>.<region>.<domain>.    (ZoneNameStyle.ZONE_IN_REGION)
```

The default zone form is the one the user guide shows in its record listing and in its pod
example (`nginx.mynamespace.myfederation.svc.us-central1-f.example.com`). Federation v1's code
put the region between zone and domain; that form is kept as an option for deployments whose
zone labels are not unique across regions.

All names are absolute (trailing dot) and lowercase: DNS compares names case-insensitively and
every provider hands names back in some canonical case, so kfed keeps one.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

MAX_NAME_LENGTH = 253  # presentation form without the trailing dot (255 octets on the wire)
MAX_LABEL_LENGTH = 63


class ZoneNameStyle(StrEnum):
    ZONE = "zone"  # <zone>.<domain>, as the user guide shows
    ZONE_IN_REGION = "zone.region"  # <zone>.<region>.<domain>, as federation v1 wrote


class InvalidNameError(ValueError):
    """A name that DNS cannot carry (label too long, name too long, empty label)."""


def absolute(name: str) -> str:
    """`Example.COM` -> `example.com.`; the root stays `.`."""
    name = name.strip().lower()
    if not name or name == ".":
        return "."
    return name if name.endswith(".") else name + "."


def relative(name: str) -> str:
    """`example.com.` -> `example.com` (the form Kubernetes object names and labels want)."""
    return absolute(name).rstrip(".")


def check_name(name: str) -> str:
    """Return `name` made absolute, or raise InvalidNameError if DNS cannot carry it."""
    fqdn = absolute(name)
    if fqdn == ".":
        return fqdn
    bare = fqdn[:-1]
    if len(bare) > MAX_NAME_LENGTH:
        raise InvalidNameError(f"{bare!r} is longer than {MAX_NAME_LENGTH} characters")
    for label in bare.split("."):
        if not label:
            raise InvalidNameError(f"{bare!r} has an empty label")
        if len(label) > MAX_LABEL_LENGTH:
            raise InvalidNameError(f"label {label!r} in {bare!r} is longer than {MAX_LABEL_LENGTH} characters")
    return fqdn


def is_subdomain(name: str, zone: str) -> bool:
    """Whether `name` is `zone` or below it."""
    name, zone = absolute(name), absolute(zone)
    return zone == "." or name == zone or name.endswith("." + zone)


@dataclass(frozen=True)
class ServiceNames:
    """The names of one federated Service: `ServiceNames("nginx", "mynamespace", "myfederation", "example.com")`."""

    service: str
    namespace: str
    federation: str
    domain: str
    zone_style: ZoneNameStyle = ZoneNameStyle.ZONE

    @property
    def prefix(self) -> str:
        """`<svc>.<ns>.<fed>.svc`, the part every level shares."""
        return f"{self.service}.{self.namespace}.{self.federation}.svc".lower()

    @property
    def global_name(self) -> str:
        return check_name(f"{self.prefix}.{relative(self.domain)}")

    def region_name(self, region: str) -> str:
        return check_name(f"{self.prefix}.{region}.{relative(self.domain)}")

    def zone_name(self, zone: str, region: str) -> str:
        if self.zone_style is ZoneNameStyle.ZONE_IN_REGION:
            return check_name(f"{self.prefix}.{zone}.{region}.{relative(self.domain)}")
        return check_name(f"{self.prefix}.{zone}.{relative(self.domain)}")
