"""The user guide's walkthrough and what its DNS zone must look like, checked with dig.

`expected_records` is the guide's rule written out on its own (not kfed's code): every healthy
zone and region has the A records of its healthy shards; a zone without one is a CNAME to its
region, a region without one a CNAME to the global name, which has the A records of every
healthy shard (and no record at all when there is none).
"""

from __future__ import annotations

import json
import subprocess
import textwrap
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from tests.support.federation import FederationThread
from tests.support.kubectl import Kubectl
from tests.support.waiting import wait_for

ZONE = "example.com."
FEDERATION = "myfederation"
OWNER_LABEL = "_kfed-owner"

#: The guide's clusters without backends: us-central1-f, asia-east1-b and all of europe-west1.
NO_BACKENDS = frozenset({"us-central1-f", "asia-east1-b", "europe-west1-b", "europe-west1-c", "europe-west1-d"})

Records = dict[tuple[str, str], tuple[int, frozenset[str]]]


def service_yaml(name: str = "nginx", namespace: str = "mynamespace", *, ttl: str | None = None) -> str:
    annotations = f"\n  annotations: {{federation.kfed.io/dns-ttl: '{ttl}'}}" if ttl else ""
    return textwrap.dedent(f"""\
        apiVersion: v1
        kind: Service
        metadata:
          name: {name}
          namespace: {namespace}
          labels: {{run: {name}}}""") + annotations + textwrap.dedent(f"""
        spec:
          type: LoadBalancer
          selector: {{run: {name}}}
          ports: [{{name: http, port: 80, protocol: TCP}}]
        """)


def prefix(service: str = "nginx", namespace: str = "mynamespace") -> str:
    return f"{service}.{namespace}.{FEDERATION}.svc"


@dataclass(frozen=True)
class Member:
    cluster: str
    region: str
    zone: str
    address: str  # the load balancer's address (or hostname) of the member's Service


def create_service(kubectl: Kubectl, tmp_path: Path, service: str, namespace: str, *, ttl: str | None = None,
                   create_namespace: bool = True) -> None:
    if create_namespace:
        kubectl.run("create", "namespace", namespace)
    path = tmp_path / f"{namespace}-{service}.yaml"
    path.write_text(service_yaml(service, namespace, ttl=ttl))
    kubectl.run("create", "-f", str(path))


def member_service(kubectl: Kubectl, cluster: str, service: str, namespace: str) -> dict | None:
    r = kubectl.run("-n", namespace, "get", "svc", service, "-o", "json", context=cluster, check=False)
    return json.loads(r.stdout) if r.returncode == 0 else None


def lb_address(svc: dict | None) -> str | None:
    ingress = ((svc or {}).get("status", {}).get("loadBalancer", {}) or {}).get("ingress") or []
    return (ingress[0].get("ip") or ingress[0].get("hostname")) if ingress else None


def wait_for_members(thread: FederationThread, kubectl: Kubectl, service: str, namespace: str,
                     timeout: float = 60.0) -> dict[str, Member]:
    """Every joined member cluster's copy of the Service, once each has its load-balancer address."""
    joined = {c["metadata"]["name"] for c in kubectl.run("get", "clusters", "-o", "json").json()["items"]}
    clusters = [c for c in thread.federation.fleet.clusters if c.spec.name in joined]
    found: dict[str, Member] = {}

    def all_there() -> bool:
        for c in clusters:
            if c.spec.name in found:
                continue
            address = lb_address(member_service(kubectl, c.spec.name, service, namespace))
            if address:
                found[c.spec.name] = Member(c.spec.name, c.spec.region, c.spec.zones[0], address)
        return len(found) == len(clusters)

    wait_for(all_there, timeout=timeout, interval=0.1, what=f"{namespace}/{service} in every member cluster")
    return found


def run_backends(kubectl: Kubectl, clusters: Iterable[str], service: str, namespace: str) -> None:
    """The guide's `kubectl run` in each cluster (labels run=<service>)."""
    for cluster in clusters:
        kubectl.run("-n", namespace, "run", service, "--image=nginx:1.11.1-alpine", "--port=80", context=cluster)


def expected_records(members: dict[str, Member], healthy: Iterable[str], *, service: str = "nginx",
                     namespace: str = "mynamespace", ttl: int = 180) -> Records:
    p = prefix(service, namespace)
    well = {m.cluster for m in members.values()} & set(healthy)
    global_name = f"{p}.{ZONE}"
    out: Records = {}
    everyone = frozenset(members[c].address for c in well)
    if everyone:
        out[(global_name, "A")] = (ttl, everyone)
    for region in {m.region for m in members.values()}:
        name = f"{p}.{region}.{ZONE}"
        ips = frozenset(m.address for m in members.values() if m.region == region and m.cluster in well)
        out[(name, "A") if ips else (name, "CNAME")] = (ttl, ips or frozenset({global_name}))
    for m in members.values():
        name = f"{p}.{m.zone}.{ZONE}"
        region_name = f"{p}.{m.region}.{ZONE}"
        if m.cluster in well:
            out[(name, "A")] = (ttl, frozenset({m.address}))
        else:
            out[(name, "CNAME")] = (ttl, frozenset({region_name}))
    return out


def markers(records: Records, service: str = "nginx", namespace: str = "mynamespace") -> Records:
    """kfed's ownership marker beside every name it owns."""
    txt = f'"heritage=kfed,federation={FEDERATION},owner={namespace}/{service}"'
    return {(f"{OWNER_LABEL}.{name}", "TXT"): (300, frozenset({txt})) for name, _ in records}


def dig(server: tuple[str, int], *args: str, tsig: str | None = None, timeout: float = 20.0) -> str:
    cmd = ["dig", f"@{server[0]}", "-p", str(server[1]), "+time=2", "+tries=2", *args]
    if tsig:
        cmd[1:1] = ["-y", tsig]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if p.returncode not in (0, 9):
        raise AssertionError(f"dig {' '.join(args)} failed ({p.returncode}): {p.stdout}{p.stderr}")
    return p.stdout


def parse_records(text: str) -> Records:
    """dig's answer lines (`name ttl class type data...`) as {(name, type): (ttl, {data})}."""
    out: dict[tuple[str, str], tuple[int, set[str]]] = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith(";"):
            continue
        fields = line.split(None, 4)
        if len(fields) < 5:
            continue
        name, ttl, _cls, rtype, data = fields
        _, values = out.setdefault((name.lower(), rtype), (int(ttl), set()))
        values.add(data.strip().lower() if rtype in ("CNAME", "NS") else data.strip())
    return {k: (ttl, frozenset(v)) for k, (ttl, v) in out.items()}


def axfr(server: tuple[str, int], zone: str = ZONE, *, tsig: str | None = None) -> Records:
    out = dig(server, zone, "AXFR", "+nocmd", "+nostats", "+noall", "+answer", tsig=tsig)
    if "Transfer failed" in out or "communications error" in out:
        raise AssertionError(f"AXFR failed: {out}")
    return parse_records(out)


def kfed_records(records: Records, service: str = "nginx", namespace: str = "mynamespace") -> Records:
    """The records at one Service's names (and their markers)."""
    p = prefix(service, namespace)
    return {k: v for k, v in records.items() if k[0].startswith(p + ".") or k[0].startswith(f"{OWNER_LABEL}.{p}.")}


@dataclass(frozen=True)
class ZoneView:
    """How a test reads the zone: `read` (dig AXFR of some server), and whether the provider keeps
    kfed's ownership markers in the zone (rfc2136: TXT records) or beside it (builtin: object metadata)."""

    read: Callable[[], Records]
    markers: bool


def wait_for_zone(zone: ZoneView, want: Records, *, what: str, service: str = "nginx",
                  namespace: str = "mynamespace", timeout: float = 30.0) -> Records:
    """Wait until the Service's names hold exactly `want` (and markers); show the difference if not."""
    full = {**want, **markers(want, service, namespace)} if zone.markers else dict(want)
    read = zone.read
    last: dict[str, Records] = {}

    def matches() -> bool:
        last["seen"] = kfed_records(read(), service, namespace)
        return last["seen"] == full

    try:
        wait_for(matches, timeout=timeout, interval=0.1, what=what)
    except TimeoutError as e:
        seen = last.get("seen", {})
        missing = {k: v for k, v in full.items() if seen.get(k) != v}
        extra = {k: v for k, v in seen.items() if full.get(k) != v}
        raise AssertionError(f"{e}\nmissing or different: {missing}\nunexpected: {extra}") from None
    return last["seen"]


def wait_seconds_pass(seconds: float, condition: Callable[[], bool], what: str) -> None:
    """Wait for `condition` AND for `seconds` to have passed (for "nothing happens for a while" checks)."""
    started = time.monotonic()
    wait_for(lambda: time.monotonic() - started >= seconds and condition(), timeout=seconds + 30, what=what)


def events(kubectl: Kubectl, namespace: str, reason: str | None = None) -> list[dict]:
    items = kubectl.run("-n", namespace, "get", "events", "-o", "json").json()["items"]
    return [e for e in items if reason is None or e.get("reason") == reason]


def guide_walkthrough(thread: FederationThread, kubectl: Kubectl, tmp_path: Path,
                      zone: ZoneView) -> dict[str, Member]:
    """The guide: the nginx Service, backends in all clusters but us-central1-f, asia-east1-b and
    europe-west1-*, then exactly the guide's record listing. Returns the member clusters."""
    create_service(kubectl, tmp_path, "nginx", "mynamespace")
    members = wait_for_members(thread, kubectl, "nginx", "mynamespace")
    healthy = sorted(set(members) - NO_BACKENDS)
    run_backends(kubectl, healthy, "nginx", "mynamespace")
    records = wait_for_zone(zone, expected_records(members, healthy), what="the guide's record listing")
    # The listing's shape, spelled out as the guide shows it.
    p = prefix()
    assert records[(f"{p}.us-central1-f.{ZONE}", "CNAME")][1] == {f"{p}.us-central1.{ZONE}"}
    assert records[(f"{p}.asia-east1-b.{ZONE}", "CNAME")][1] == {f"{p}.asia-east1.{ZONE}"}
    assert records[(f"{p}.europe-west1-d.{ZONE}", "CNAME")][1] == {f"{p}.europe-west1.{ZONE}"}
    assert records[(f"{p}.europe-west1.{ZONE}", "CNAME")][1] == {f"{p}.{ZONE}"}
    assert len(records[(f"{p}.us-central1.{ZONE}", "A")][1]) == 3
    assert len(records[(f"{p}.asia-east1.{ZONE}", "A")][1]) == 2
    assert len(records[(f"{p}.{ZONE}", "A")][1]) == 8
    assert records[(f"{p}.us-central1-a.{ZONE}", "A")] == (180, frozenset({members["us-central1-a"].address}))
    return members


def failures_and_recovery(thread: FederationThread, kubectl: Kubectl, members: dict[str, Member],
                          zone: ZoneView) -> None:
    """Backends fail (pods unready, pods deleted, a whole cluster down) and return; each step's records."""
    fleet = thread.federation.fleet
    healthy = set(members) - NO_BACKENDS

    thread.call(lambda f: fleet.make_unready("us-central1-a", zone="us-central1-a"))
    healthy.discard("us-central1-a")
    wait_for_zone(zone, expected_records(members, healthy), what="us-central1-a's pods unready")

    thread.call(lambda f: fleet.delete_pods("asia-east1-c", zone="asia-east1-c"))
    healthy.discard("asia-east1-c")
    wait_for_zone(zone, expected_records(members, healthy), what="asia-east1-c's pods deleted")

    thread.call(lambda f: fleet.fault("us-east1-b", "down"))
    healthy.discard("us-east1-b")
    wait_for_zone(zone, expected_records(members, healthy), what="cluster us-east1-b down")

    # The last healthy shard of asia-east1 goes too: its zones climb to the global name via the region.
    thread.call(lambda f: fleet.make_unready("asia-east1-a", zone="asia-east1-a"))
    healthy.discard("asia-east1-a")
    records = wait_for_zone(zone, expected_records(members, healthy), what="no healthy shard in asia-east1")
    p = prefix()
    assert records[(f"{p}.asia-east1.{ZONE}", "CNAME")][1] == {f"{p}.{ZONE}"}

    thread.call(lambda f: fleet.make_ready("us-central1-a", zone="us-central1-a"))
    thread.call(lambda f: fleet.make_ready("asia-east1-a", zone="asia-east1-a"))
    thread.call(lambda f: fleet.restore_pods("asia-east1-c", zone="asia-east1-c"))
    thread.call(lambda f: fleet.clear("us-east1-b"))
    wait_for_zone(zone, expected_records(members, set(members) - NO_BACKENDS), what="everything back")


def unjoin_and_delete(thread: FederationThread, kubectl: Kubectl, members: dict[str, Member],
                      zone: ZoneView) -> None:
    """Unjoining a cluster removes every record it caused; deleting the Service removes the rest."""
    import sys

    p = subprocess.run([sys.executable, "-m", "kfed", "unjoin", "asia-east1-a", "--kubeconfig",
                        str(kubectl.kubeconfig)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    left = {k: v for k, v in members.items() if k != "asia-east1-a"}
    records = wait_for_zone(zone, expected_records(left, set(left) - NO_BACKENDS), what="asia-east1-a unjoined")
    assert not any("asia-east1-a." in name for name, _ in records)

    kubectl.run("-n", "mynamespace", "delete", "svc", "nginx", "--wait", "--timeout=60s")
    wait_for_zone(zone, {}, what="the Service's records gone")
