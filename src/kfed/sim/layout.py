"""Which simulated clusters exist: names, regions and zones (pure).

`--cluster NAME=REGION/ZONE[,ZONE...]` on the command line becomes a ClusterSpec; `--layout seed`
is the user guide's 13 clusters, each one zone of its region and named after that zone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# Zone and region become label values (topology.kubernetes.io/zone) and DNS labels (AWS-style
# load-balancer hostnames), so they must be both.
_MAX_LABEL = 63


@dataclass(frozen=True)
class ClusterSpec:
    """One simulated member cluster."""

    name: str
    region: str
    zones: tuple[str, ...]
    #: load balancers get AWS-style hostnames (served by the fleet's DNS responder), not IPs
    lb_hostnames: bool = False

    def __post_init__(self) -> None:
        for what, value in (("cluster name", self.name), ("region", self.region), *(("zone", z) for z in self.zones)):
            check_dns_label(value, what)
        if not self.zones:
            raise ValueError(f"cluster {self.name}: at least one zone is needed")
        if len(set(self.zones)) != len(self.zones):
            raise ValueError(f"cluster {self.name}: a zone is listed twice")


def check_dns_label(value: str, what: str) -> None:
    if len(value) > _MAX_LABEL or not _DNS_LABEL.match(value):
        raise ValueError(f"{what} {value!r} must be a DNS label: at most 63 lowercase letters, digits "
                         "and '-', starting and ending with a letter or digit")


def parse_cluster(text: str, *, lb_hostnames: bool = False) -> ClusterSpec:
    """`NAME=REGION/ZONE[,ZONE...]`, e.g. `us-central1-f=us-central1/us-central1-f`."""
    name, sep, rest = text.partition("=")
    region, sep2, zones = rest.partition("/")
    if not sep or not sep2 or not name or not region or not zones:
        raise ValueError(f"{text!r}: expected NAME=REGION/ZONE[,ZONE...]")
    return ClusterSpec(name.strip(), region.strip(), tuple(z.strip() for z in zones.split(",")),
                       lb_hostnames=lb_hostnames)


#: The guide's 13 clusters: asia-east1-{a,b,c}, europe-west1-{b,c,d}, us-central1-{a,b,c,f},
#: us-east1-{b,c,d}; each cluster is one zone of its region.
SEED_ZONES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("asia-east1", ("a", "b", "c")),
    ("europe-west1", ("b", "c", "d")),
    ("us-central1", ("a", "b", "c", "f")),
    ("us-east1", ("b", "c", "d")),
)


def seed_layout(*, lb_hostnames: Iterable[str] = ()) -> list[ClusterSpec]:
    hostnames = set(lb_hostnames)
    return [ClusterSpec(f"{region}-{z}", region, (f"{region}-{z}",), lb_hostnames=f"{region}-{z}" in hostnames)
            for region, zones in SEED_ZONES for z in zones]


def check_layout(layout: Sequence[ClusterSpec]) -> None:
    names = [c.name for c in layout]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"cluster names must be unique: {', '.join(dup)}")
    if not layout:
        raise ValueError("no clusters: give --layout seed or at least one --cluster NAME=REGION/ZONE")
