"""Load balancers that give hostnames (AWS ELB style): a level whose only target is one hostname is
a CNAME to it; a level that mixes hostnames and addresses gets A records, looked up through a
resolver and looked up again as their TTL runs out. 13 simulated clusters, two with hostname LBs;
kfed's built-in DNS server, checked with dig.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kfed.controllers.dns import DNSController
from kfed.controllers.dns_hostnames import HostnameResolver, dnspython_lookup
from tests.e2e.dns import guide
from tests.support.federation import FederationThread, running_federation
from tests.support.waiting import wait_for

HOSTNAME_CLUSTERS = ("us-east1-b", "us-east1-c")


def use_fleet_resolver(thread: FederationThread) -> DNSController:
    """Point the DNS controller's lookups at the simulated clusters' load-balancer DNS responder,
    trusting each answer at most a second (so a moved address shows up quickly)."""
    host, port = thread.federation.fleet.dns_address

    def controller() -> DNSController | None:
        manager = thread.federation.manager
        return manager.dns if manager is not None and isinstance(manager.dns, DNSController) else None

    dns_controller = wait_for(controller, timeout=30, what="the DNS controller")
    assert dns_controller is not None
    dns_controller.hostnames = HostnameResolver(dnspython_lookup([f"{host}:{port}"]), max_refresh=1.0)
    return dns_controller


def resolve(thread: FederationThread, hostname: str) -> str:
    out = guide.dig(thread.federation.fleet.dns_address, hostname, "A", "+short").split()
    assert len(out) == 1, out
    return out[0]


def expected(members: dict[str, guide.Member], addresses: dict[str, str], healthy: set[str]) -> guide.Records:
    """The guide's rule over the resolved addresses, then each hostname zone as a CNAME to its hostname."""
    resolved = {c: guide.Member(m.cluster, m.region, m.zone, addresses.get(c, m.address)) for c, m in members.items()}
    want = guide.expected_records(resolved, healthy)
    p = guide.prefix()
    for cluster in HOSTNAME_CLUSTERS:
        if cluster in healthy:
            name = f"{p}.{members[cluster].zone}.{guide.ZONE}"
            del want[(name, "A")]
            want[(name, "CNAME")] = (180, frozenset({members[cluster].address + "."}))
    return want


def test_hostname_load_balancers(tmp_path: Path) -> None:
    with running_federation(tmp_path, sim_layout="seed", sim_lb_hostnames=list(HOSTNAME_CLUSTERS)) as (thread,
                                                                                                    kubectl):
        dns_controller = use_fleet_resolver(thread)
        server = thread.federation.dns_address
        zone = guide.ZoneView(lambda: guide.axfr(server), markers=False)
        guide.create_service(kubectl, tmp_path, "nginx", "mynamespace")
        members = guide.wait_for_members(thread, kubectl, "nginx", "mynamespace")
        for cluster in HOSTNAME_CLUSTERS:
            assert members[cluster].address.endswith(".elb.sim.kfed.test"), members[cluster]
        healthy = {"us-east1-b", "us-east1-c", "us-east1-d", "us-central1-a"}
        guide.run_backends(kubectl, sorted(healthy), "nginx", "mynamespace")
        addresses = {c: resolve(thread, members[c].address) for c in HOSTNAME_CLUSTERS}
        records = guide.wait_for_zone(zone, expected(members, addresses, healthy), what="hostnames resolved")
        p = guide.prefix()
        # us-east1-b's only target is its ELB: a CNAME to it. The region mixes ELBs and an address.
        assert records[(f"{p}.us-east1-b.example.com.", "CNAME")][1] == {members["us-east1-b"].address + "."}
        assert records[(f"{p}.us-east1.example.com.", "A")][1] == {
            addresses["us-east1-b"], addresses["us-east1-c"], members["us-east1-d"].address}

        # The address behind us-east1-b's ELB moves: kfed looks it up again within its TTL.
        moved = "127.250.0.9"

        async def move(f: Any) -> None:
            f.fleet.dns.set(members["us-east1-b"].address, moved)

        thread.call(move)
        addresses["us-east1-b"] = moved
        guide.wait_for_zone(zone, expected(members, addresses, healthy), what="the moved ELB address followed")
        assert dns_controller.hostnames.lookups >= 2

        # Only one ELB left healthy in us-east1: the region is a CNAME to it.
        fleet = thread.federation.fleet
        thread.call(lambda f: fleet.make_unready("us-east1-c", zone="us-east1-c"))
        thread.call(lambda f: fleet.make_unready("us-east1-d", zone="us-east1-d"))
        healthy -= {"us-east1-c", "us-east1-d"}
        want = expected(members, addresses, healthy)
        del want[(f"{p}.us-east1.example.com.", "A")]
        want[(f"{p}.us-east1.example.com.", "CNAME")] = (180, frozenset({members["us-east1-b"].address + "."}))
        records = guide.wait_for_zone(zone, want, what="one ELB left in the region")
        assert (f"{p}.us-east1.example.com.", "A") not in records
