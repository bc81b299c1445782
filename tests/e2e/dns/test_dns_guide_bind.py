"""kfed writing the guide's records into a real BIND 9 through RFC 2136 (TSIG), checked with dig.

One BIND and one federation of the 13 simulated clusters for the module; each test has its own
namespace. Covered: the guide's walkthrough with failures, unjoin and delete; records kfed does
not own; BIND going away and coming back (Events, metrics, repair); steady state without
provider calls; a controller restart after a partial apply.
"""

from __future__ import annotations

import dataclasses
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from prometheus_client import CollectorRegistry

from kfed.cli.dns import dns
from kfed.controllers.dns import DNSController
from kfed.controllers.dns_metrics import DNSControllerCollector, bound_port, serve_metrics
from kfed.controllers.manager import FederationSettings
from tests.e2e.dns import bind as B
from tests.e2e.dns import guide
from tests.integration.dns_providers.rfc2136_peers import DNSServer
from tests.support.federation import FederationThread, running_federation
from tests.support.kubectl import Kubectl
from tests.support.waiting import wait_for

Fed = tuple[FederationThread, Kubectl]


@pytest.fixture(scope="module")
def bind(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DNSServer]:
    with B.running_bind(tmp_path_factory.mktemp("bind")) as server:
        yield server


@pytest.fixture(scope="module")
def fed(bind: DNSServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fed]:
    settings = FederationSettings(dns_provider="rfc2136", dns_provider_config=B.provider_config(bind))
    with running_federation(tmp_path_factory.mktemp("fed"), sim_layout="seed", settings=settings) as running:
        yield running


def controller(thread: FederationThread) -> DNSController:
    def ready() -> DNSController | None:
        manager = thread.federation.manager
        dns_controller = manager.dns if manager is not None else None
        return dns_controller if dns_controller is not None and dns_controller.applier is not None else None

    found = wait_for(ready, timeout=30, what="the DNS controller running")
    assert isinstance(found, DNSController)
    return found


def zone_view(bind: DNSServer) -> guide.ZoneView:
    server = (bind.address, bind.port)
    return guide.ZoneView(lambda: guide.axfr(server, tsig=B.dig_key(bind)), markers=True)


def soa_serial(bind: DNSServer) -> int:
    out = guide.dig((bind.address, bind.port), "example.com.", "SOA", "+short")
    return int(out.split()[2])


def test_guide_walkthrough_through_bind(fed: Fed, bind: DNSServer, tmp_path: Path) -> None:
    thread, kubectl = fed
    zone = zone_view(bind)
    members = guide.guide_walkthrough(thread, kubectl, tmp_path, zone)
    # The ownership marker sits beside (below) each name kfed owns, and nowhere else.
    listing = zone.read()
    marker_names = {name for name, rtype in listing if name.startswith("_kfed-owner.")}
    owned = {k: v for k, v in guide.kfed_records(listing).items() if not k[0].startswith("_kfed-owner.")}
    assert marker_names == {name for name, _ in guide.markers(owned)}

    # `kfed dns records` reads the zone through the provider (a transfer from BIND): SOA and NS
    # included, kfed's markers hidden.
    result = CliRunner().invoke(dns, ["records", "--kubeconfig", str(kubectl.kubeconfig)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = [line.split(None, 3) for line in result.output.strip().splitlines()[1:]]
    assert rows[0][:2] == ["example.com.", "SOA"] and rows[1][:2] == ["example.com.", "NS"]
    assert {(r[0], r[1]) for r in rows} == {k for k in listing if not k[0].startswith("_kfed-owner.")}

    guide.failures_and_recovery(thread, kubectl, members, zone)
    guide.unjoin_and_delete(thread, kubectl, members, zone)
    # Only what was there before kfed is left.
    assert set(zone.read()) == {("example.com.", "SOA"), ("example.com.", "NS"), ("ns1.example.com.", "A")}


def two_backends(thread: FederationThread, kubectl: Kubectl, tmp_path: Path, namespace: str,
                 clusters: tuple[str, ...] = ("us-central1-a", "us-central1-b")) -> dict[str, guide.Member]:
    guide.create_service(kubectl, tmp_path, "web", namespace)
    members = guide.wait_for_members(thread, kubectl, "web", namespace)
    guide.run_backends(kubectl, clusters, "web", namespace)
    return members


def test_records_kfed_does_not_own_are_left_alone_and_reported(fed: Fed, bind: DNSServer, tmp_path: Path) -> None:
    thread, kubectl = fed
    dns_controller = controller(thread)
    dns_controller.conflict_recheck = 0.5  # look again soon after the operator cleans up (default 60 s)
    zone = zone_view(bind)
    p = guide.prefix("web", "owned")
    taken = f"{p}.us-central1-a.example.com."
    # An operator's record at a name kfed will want, made after kfed last listed the zone: kfed's
    # picture of the zone does not show it, so only the update's prerequisites protect it.
    B.by_hand(bind, add=(taken, 60, "A", "203.0.113.7"))
    assert dns_controller.applier is not None
    replans = dns_controller.applier.stats.replans

    members = two_backends(thread, kubectl, tmp_path, "owned")
    want = guide.expected_records(members, {"us-central1-a", "us-central1-b"}, service="web", namespace="owned")
    kfed_part = {k: v for k, v in want.items() if k[0] != taken}
    expected = {**kfed_part, **guide.markers(kfed_part, "web", "owned"),
                (taken, "A"): (60, frozenset({"203.0.113.7"}))}
    wait_for(lambda: guide.kfed_records(zone.read(), "web", "owned") == expected, timeout=30,
             what="every name but the operator's written")
    conflicts = wait_for(lambda: guide.events(kubectl, "owned", "DNSNameConflict"), timeout=20,
                         what="a DNSNameConflict Event")
    assert conflicts[0]["type"] == "Warning" and taken in conflicts[0]["message"]
    assert conflicts[0]["involvedObject"]["name"] == "web"
    assert dns_controller.conflicts == 1
    assert dns_controller.applier.stats.replans > replans  # BIND refused the claim; kfed listed again

    # The operator removes the record: kfed takes the name on its next look.
    B.by_hand(bind, delete=(taken, "A"))
    guide.wait_for_zone(zone, want, what="kfed took the freed name", service="web", namespace="owned")
    assert dns_controller.conflicts == 0

    kubectl.run("-n", "owned", "delete", "svc", "web", "--wait", "--timeout=60s")
    guide.wait_for_zone(zone, {}, what="records gone", service="web", namespace="owned")


def scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def test_provider_errors_are_retried_reported_and_repaired(fed: Fed, bind: DNSServer, tmp_path: Path) -> None:
    thread, kubectl = fed
    zone = zone_view(bind)
    members = two_backends(thread, kubectl, tmp_path, "outage")
    healthy = {"us-central1-a", "us-central1-b"}
    guide.wait_for_zone(zone, guide.expected_records(members, healthy, service="web", namespace="outage"),
                        what="records in place", service="web", namespace="outage")
    registry = CollectorRegistry()
    registry.register(DNSControllerCollector(lambda: thread.federation.manager.dns))  # type: ignore[union-attr]

    async def start_metrics(_: Any) -> Any:
        return await serve_metrics(registry, "127.0.0.1", 0)

    runner = thread.call(start_metrics)
    try:
        port = bound_port(runner)
        before = scrape(port)
        assert before['kfed_dns_sync_failing'] == 0

        B.stop_bind(bind)
        try:
            fleet = thread.federation.fleet
            thread.call(lambda f: fleet.make_unready("us-central1-b", zone="us-central1-b"))
            healthy.discard("us-central1-b")
            errors = wait_for(lambda: guide.events(kubectl, "outage", "DNSProviderError"), timeout=30,
                              what="a DNSProviderError Event")
            assert errors[0]["type"] == "Warning" and errors[0]["involvedObject"]["name"] == "web"
            def counted() -> dict[str, float] | None:
                metrics = scrape(port)
                return metrics if metrics["kfed_dns_sync_errors_total"] >= 1 else None

            failing = wait_for(counted, timeout=30, what="sync errors counted")
            assert failing is not None
            assert failing['kfed_dns_provider_retries_total{provider="rfc2136"}'] > \
                before['kfed_dns_provider_retries_total{provider="rfc2136"}']
            assert failing['kfed_dns_provider_failures_total{provider="rfc2136"}'] >= 1
        finally:
            B.start_again(bind)
        # The desired state was kept: the change made while BIND was away lands once it is back.
        guide.wait_for_zone(zone, guide.expected_records(members, healthy, service="web", namespace="outage"),
                            what="records repaired after the outage", service="web", namespace="outage")
        wait_for(lambda: guide.events(kubectl, "outage", "DNSProviderRecovered"), timeout=20,
                 what="a DNSProviderRecovered Event")
        wait_for(lambda: scrape(port)['kfed_dns_sync_failing'] == 0, timeout=20, what="no longer failing")
    finally:
        async def stop_metrics(_: Any) -> None:
            await runner.cleanup()

        thread.call(stop_metrics)

    # A partial apply (as a crash mid-apply leaves it): one record of kfed's missing, one name kfed
    # owns but no longer wants still there. A restarted controller-manager lists and repairs both.
    p = guide.prefix("web", "outage")
    B.by_hand(bind, delete=(f"{p}.us-central1-a.example.com.", "A"))
    stale = f"{p}.nowhere.example.com."
    B.by_hand(bind, add=(stale, 180, "A", "192.0.2.99"))
    B.by_hand(bind, add=(f"_kfed-owner.{stale}", 300, "TXT",
                         '"heritage=kfed,federation=myfederation,owner=outage/web"'))

    async def restart(f: Any) -> None:
        await f.restart_manager()

    thread.call(restart)
    guide.wait_for_zone(zone, guide.expected_records(members, healthy, service="web", namespace="outage"),
                        what="partial apply repaired", service="web", namespace="outage")


def test_steady_state_makes_no_provider_calls(fed: Fed, bind: DNSServer, tmp_path: Path) -> None:
    thread, kubectl = fed
    zone = zone_view(bind)
    members = two_backends(thread, kubectl, tmp_path, "steady", clusters=("asia-east1-c", "us-east1-c"))
    guide.wait_for_zone(zone, guide.expected_records(members, {"asia-east1-c", "us-east1-c"}, service="web",
                                                     namespace="steady"),
                        what="records in place", service="web", namespace="steady")
    dns_controller = controller(thread)
    stats = dataclasses.replace(dns_controller.applier.stats)  # type: ignore[union-attr]
    serial = soa_serial(bind)
    passes = dns_controller.syncs
    # Things that wake the controller without changing any record: an unrelated annotation on the
    # Service, and whole-zone passes (as a cluster's readiness change asks for).
    kubectl.run("-n", "steady", "annotate", "svc", "web", "team=web")

    async def full_pass(_: Any) -> None:
        dns_controller.request_full_pass()

    def passes_after(n: int) -> Callable[[], bool]:
        return lambda: dns_controller.syncs > n

    for _ in range(3):
        thread.call(full_pass)
        wait_for(passes_after(passes), timeout=10, what="a pass")
        passes = dns_controller.syncs
    period = thread.federation.options.manager.monitor_period
    guide.wait_seconds_pass(4 * period, lambda: True, "a few cluster monitor periods")
    assert dns_controller.applier is not None
    assert dns_controller.applier.stats == stats, "no listing, no change request, no retry"
    assert soa_serial(bind) == serial  # and BIND's zone did not change

    # A restarted controller-manager lists the zone once and, finding it right, changes nothing:
    # no record flaps while it learns the clusters' state again.
    async def restart(f: Any) -> None:
        await f.restart_manager()

    joined = len(kubectl.run("get", "clusters", "-o", "json").json()["items"])
    thread.call(restart)
    fresh = controller(thread)
    assert fresh is not dns_controller

    def all_probed() -> bool:
        manager = thread.federation.manager
        return fresh.syncs >= 1 and manager is not None and manager.clusters is not None and \
            len(manager.clusters.ready_clusters()) == joined

    wait_for(all_probed, timeout=30, what="the new controller's passes with every cluster probed")
    guide.wait_seconds_pass(4 * period, lambda: True, "a few cluster monitor periods")
    assert fresh.applier is not None
    assert fresh.applier.stats.changes == 0 and fresh.applier.stats.lists == 1, fresh.applier.stats
    assert soa_serial(bind) == serial


def test_dns_ttl_annotation_and_bad_values(fed: Fed, bind: DNSServer, tmp_path: Path) -> None:
    thread, kubectl = fed
    zone = zone_view(bind)
    guide.create_service(kubectl, tmp_path, "web", "ttl", ttl="1m")
    members = guide.wait_for_members(thread, kubectl, "web", "ttl")
    guide.run_backends(kubectl, ["us-east1-d"], "web", "ttl")
    guide.wait_for_zone(zone, guide.expected_records(members, {"us-east1-d"}, service="web", namespace="ttl",
                                                     ttl=60), what="records with a TTL of 1m", service="web",
                        namespace="ttl")
    # A TTL DNS cannot carry: reported on the Service, and the default TTL used meanwhile.
    kubectl.run("-n", "ttl", "annotate", "--overwrite", "svc", "web", "federation.kfed.io/dns-ttl=soon")
    guide.wait_for_zone(zone, guide.expected_records(members, {"us-east1-d"}, service="web", namespace="ttl"),
                        what="records back to the default TTL", service="web", namespace="ttl")
    bad = wait_for(lambda: guide.events(kubectl, "ttl", "InvalidDNSTTL"), timeout=20, what="an InvalidDNSTTL Event")
    assert bad[0]["type"] == "Warning" and "soon" in bad[0]["message"]
