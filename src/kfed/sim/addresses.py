"""Address ranges of simulated clusters and the allocators over them (pure).

Load-balancer addresses come from 127.0.0.0/8 so anything that connects to one stays on this
machine. Cluster IPs, pod IPs and node IPs are only data (nothing ever connects to them): they
come from 10.0.0.0/8, a distinct range per cluster so a mix-up between clusters shows.

    load balancers  127.<100 + region>.<16 * cluster-in-region>.0/20   (4094 addresses)
    cluster IPs     10.<96 + i // 16>.<16 * (i % 16)>.0/20              (i: cluster in fleet)
    pod IPs         10.<128 + i // 2>.<128 * (i % 2)>.0/17
    node IPs        10.255.<i>.0/24
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

MAX_CLUSTERS = 254
MAX_REGIONS = 156
MAX_CLUSTERS_PER_REGION = 16


class PoolExhausted(Exception):
    pass


@dataclass(frozen=True)
class AddressPlan:
    """The address ranges of one cluster."""

    lb_pool: ipaddress.IPv4Network
    service_cidr: ipaddress.IPv4Network
    pod_cidr: ipaddress.IPv4Network
    node_cidr: ipaddress.IPv4Network


@dataclass
class AddressPlanner:
    """Hands out AddressPlans in order; a cluster keeps its plan for the life of the fleet."""

    _regions: dict[str, int] = field(default_factory=dict)
    _per_region: dict[str, int] = field(default_factory=dict)
    _clusters: dict[str, AddressPlan] = field(default_factory=dict)

    def plan(self, cluster: str, region: str) -> AddressPlan:
        if cluster in self._clusters:
            return self._clusters[cluster]
        i = len(self._clusters)
        if i >= MAX_CLUSTERS:
            raise ValueError(f"at most {MAX_CLUSTERS} simulated clusters fit the address plan")
        r = self._regions.setdefault(region, len(self._regions))
        if r >= MAX_REGIONS:
            raise ValueError(f"at most {MAX_REGIONS} regions fit the address plan")
        k = self._per_region.get(region, 0)
        if k >= MAX_CLUSTERS_PER_REGION:
            raise ValueError(f"at most {MAX_CLUSTERS_PER_REGION} simulated clusters per region fit the address plan")
        self._per_region[region] = k + 1
        plan = AddressPlan(
            lb_pool=ipaddress.IPv4Network(f"127.{100 + r}.{16 * k}.0/20"),
            service_cidr=ipaddress.IPv4Network(f"10.{96 + i // 16}.{16 * (i % 16)}.0/20"),
            pod_cidr=ipaddress.IPv4Network(f"10.{128 + i // 2}.{128 * (i % 2)}.0/17"),
            node_cidr=ipaddress.IPv4Network(f"10.255.{i}.0/24"),
        )
        self._clusters[cluster] = plan
        return plan


class IpPool:
    """Addresses of one network, allocated round-robin so a released address is reused late.

    The network and broadcast addresses are never handed out, nor the first `reserved` hosts
    (x.x.x.1 is the gateway or the `kubernetes` Service in a real cluster).
    """

    def __init__(self, network: ipaddress.IPv4Network, reserved: int = 1) -> None:
        self.network = network
        self._first = int(network.network_address) + 1 + reserved
        self._last = int(network.broadcast_address) - 1
        self._next = self._first
        self._used: set[int] = set()

    @property
    def size(self) -> int:
        return max(0, self._last - self._first + 1)

    @property
    def used(self) -> int:
        return len(self._used)

    def allocate(self) -> str:
        if len(self._used) >= self.size:
            raise PoolExhausted(f"no free address left in {self.network}")
        n = self._next
        while n in self._used:
            n = n + 1 if n < self._last else self._first
        self._used.add(n)
        self._next = n + 1 if n < self._last else self._first
        return str(ipaddress.IPv4Address(n))

    def claim(self, ip: str) -> bool:
        """Mark an address taken (found on an existing object). False if outside the pool or taken."""
        n = self._index(ip)
        if n is None or n in self._used:
            return False
        self._used.add(n)
        return True

    def contains(self, ip: str) -> bool:
        return self._index(ip) is not None

    def release(self, ip: str) -> None:
        n = self._index(ip)
        if n is not None:
            self._used.discard(n)

    def _index(self, ip: str) -> int | None:
        try:
            n = int(ipaddress.IPv4Address(ip))
        except (ipaddress.AddressValueError, ValueError):
            return None
        return n if self._first <= n <= self._last else None


class PortPool:
    """Node ports (30000-32767 by default), allocated round-robin."""

    def __init__(self, first: int = 30000, last: int = 32767) -> None:
        self.first, self.last = first, last
        self._next = first
        self._used: set[int] = set()

    def allocate(self) -> int:
        if len(self._used) > self.last - self.first:
            raise PoolExhausted(f"no free node port left in {self.first}-{self.last}")
        p = self._next
        while p in self._used:
            p = p + 1 if p < self.last else self.first
        self._used.add(p)
        self._next = p + 1 if p < self.last else self.first
        return p

    def claim(self, port: int) -> bool:
        if not self.first <= port <= self.last or port in self._used:
            return False
        self._used.add(port)
        return True

    def release(self, port: int) -> None:
        self._used.discard(port)
