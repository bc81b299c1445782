"""`kfed demo`: the user guide's walkthrough, scripted, on embedded defaults; exit 0 when every step
behaved as the guide says.

It starts the federation (API, controllers, built-in DNS) and the guide's 13 simulated clusters,
then drives them with the real kubectl exactly as a user would, checks each result, and times the
failovers. Nothing here touches your kubeconfig: the demo writes its own.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import textwrap
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import dns.asyncquery
import dns.message
import dns.rdatatype
from rich.console import Console
from rich.table import Table

from kfed.cli.logsetup import setup_logging

NAMESPACE = "mynamespace"
NO_BACKENDS = ("us-central1-f", "asia-east1-b", "europe-west1-b", "europe-west1-c", "europe-west1-d")
NGINX_YAML = textwrap.dedent("""\
    apiVersion: v1
    kind: Service
    metadata:
      name: nginx
      labels:
        run: nginx
    spec:
      type: LoadBalancer
      selector:
        run: nginx
      ports:
      - name: http
        port: 80
        protocol: TCP
    """)


class DemoFailed(Exception):
    pass


@dataclass
class Timing:
    what: str
    seconds: float


@dataclass
class DemoRun:
    console: Console
    kubeconfig: Path
    workdir: Path
    federation: Any = None
    timings: list[Timing] = field(default_factory=list)
    checks: int = 0

    # -- helpers -------------------------------------------------------------------------

    def step(self, title: str) -> None:
        self.console.rule(f"[bold]{title}")

    def ok(self, message: str) -> None:
        self.checks += 1
        self.console.print(f"[green]✓[/green] {message}")

    async def kubectl(self, *args: str, show: bool = True) -> str:
        cmd = ["kubectl", *args]
        if show:
            self.console.print(f"[dim]$[/dim] {' '.join(cmd)}")
        proc = await asyncio.create_subprocess_exec(
            *cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=dict(os.environ, KUBECONFIG=str(self.kubeconfig)))
        out, err = await proc.communicate()
        if proc.returncode != 0:
            raise DemoFailed(f"kubectl {' '.join(args)} failed: {err.decode().strip()}")
        text = out.decode()
        if show and text.strip():
            self.console.print(text.rstrip(), highlight=False, markup=False)
        return text

    async def wait(self, what: str, check: Callable[[], Awaitable[Any]], timeout: float = 60.0) -> Any:
        started = time.monotonic()
        with self.console.status(f"waiting for {what}"):
            while True:
                result = await check()
                if result:
                    return result
                if time.monotonic() - started > timeout:
                    raise DemoFailed(f"timed out after {timeout:.0f}s waiting for {what}")
                await asyncio.sleep(0.02)

    async def query(self, name: str, rdtype: str = "A") -> dns.message.Message:
        host, port = self.federation.dns_address
        q = dns.message.make_query(name, dns.rdatatype.from_text(rdtype))
        return await dns.asyncquery.udp(q, host, port=port, timeout=2.0)

    def fqdn(self, level: str | None = None) -> str:
        s = self.federation.settings
        middle = f"{level}." if level else ""
        return f"nginx.{NAMESPACE}.{s.federation}.svc.{middle}{s.dns_zone}"

    async def answer(self, level: str | None = None) -> tuple[str, list[str]]:
        """(kind, data) of the first answer RRset at a level's name: ("A", [ips]) or ("CNAME", [target])."""
        resp = await self.query(self.fqdn(level))
        if not resp.answer:
            return ("NONE", [])
        first = resp.answer[0]
        kind = dns.rdatatype.to_text(first.rdtype)
        if kind == "CNAME":
            return ("CNAME", [str(first[0].target)])
        return (kind, sorted(r.to_text() for r in first))


async def _run(run: DemoRun, monitor_period: float) -> None:
    from kfed.cli.embedded import EmbeddedFederation, EmbeddedOptions
    from kfed.controllers.manager import FederationSettings, ManagerOptions

    c = run.console
    run.step("1. Start the federation and the guide's 13 clusters")
    options = EmbeddedOptions(data_dir=run.workdir / "kfed", kubeconfig=run.kubeconfig, api_port=0,
                              dns_listen=("127.0.0.1", 0), sim_layout="seed", settings=FederationSettings(),
                              manager=ManagerOptions(monitor_period=monitor_period, probe_timeout=1.0))
    fed = run.federation = EmbeddedFederation(options)
    with c.status("starting the federation API, controllers, built-in DNS and 13 simulated clusters"):
        await fed.start()
    host, port = fed.dns_address
    assert fed.api is not None
    c.print(f"federation API {fed.api.url}; built-in DNS server {host}:{port}; kubeconfig {run.kubeconfig}")

    async def all_ready() -> bool:
        out = await run.kubectl("get", "clusters", "-o", "jsonpath={range .items[*]}{.status.conditions[0].status}"
                                "/{.status.region} {end}", show=False)
        return sum(1 for x in out.split() if x.startswith("True/") and len(x) > 5) == 13

    await run.wait("13 clusters Ready, with their zones", all_ready)
    await run.kubectl("--context=federation-cluster", "get", "clusters")
    run.ok("13 member clusters joined and Ready")

    run.step("2. Create the federated Service (guide: 'Creating a federated service')")
    manifest = run.workdir / "services" / "nginx.yaml"
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(NGINX_YAML)
    await run.kubectl("--context=federation-cluster", "create", "namespace", NAMESPACE)
    await run.kubectl("--context=federation-cluster", "-n", NAMESPACE, "create", "-f", str(manifest))

    async def shard_in(cluster: str) -> bool:
        out = await run.kubectl(f"--context={cluster}", "-n", NAMESPACE, "get", "services", "--no-headers",
                                show=False)
        return "nginx" in out

    async def everywhere() -> bool:
        return all(await asyncio.gather(*(shard_in(cl) for cl in fed.fleet.names)))

    started = time.monotonic()
    await run.wait("the shard in all 13 clusters", everywhere)
    run.timings.append(Timing("federated Service present in all 13 clusters (as seen by kubectl)",
                              time.monotonic() - started))
    await run.kubectl("--context=asia-east1-a", "-n", NAMESPACE, "get", "services", "nginx")
    run.ok("the matching Service exists in every cluster")

    async def ingress_count() -> bool:
        out = await run.kubectl("--context=federation-cluster", "-n", NAMESPACE, "get", "svc", "nginx", "-o",
                                "jsonpath={.status.loadBalancer.ingress[*].ip}", show=False)
        return len(out.split()) == 13

    await run.wait("LoadBalancer Ingress of all 13 shards", ingress_count)
    desc = await run.kubectl("--context=federation-cluster", "-n", NAMESPACE, "describe", "services", "nginx",
                             show=False)
    line = next(x for x in desc.splitlines() if x.startswith("LoadBalancer Ingress:"))
    c.print(line, highlight=False, markup=False)
    run.ok("the federated Service lists every shard's load-balancer address")
    if (await run.answer())[0] != "NONE":
        raise DemoFailed("a DNS record exists before any shard is healthy")
    run.ok("no DNS records yet: no shard has backends")

    run.step("3. Add backend pods (guide: 'Adding backend pods')")
    for cluster in fed.fleet.names:
        if cluster in NO_BACKENDS:
            continue
        await run.kubectl(f"--context={cluster}", "-n", NAMESPACE, "run", "nginx", "--image=nginx:1.11.1-alpine",
                          "--port=80")

    run.step("4. Verify the public DNS records (guide: 'Verifying public DNS records')")
    expected = expected_shape(fed)

    async def shaped() -> bool:
        return await matches(run, expected)

    await run.wait("the records to match the guide's listing", shaped)
    for line in await listing(run):
        c.print(line, highlight=False, markup=False)
    run.ok("A records for healthy zones and regions; CNAMEs up the hierarchy for the rest")

    run.step("5. Discover the federated Service from pods (guide: 'Discovering a federated service')")
    await discover_from_pods(run)

    run.step("6. A zone fails: every backend in us-central1-a becomes unready")
    started = time.monotonic()
    await fed.fleet.make_unready("us-central1-a", zone="us-central1-a", namespace=NAMESPACE)
    await run.wait("us-central1-a to point at its region",
                   lambda: _is(run, "us-central1-a", ("CNAME", [run.fqdn("us-central1")])))
    run.timings.append(Timing("zone failover (pods unready -> zone CNAME to region)", time.monotonic() - started))
    c.print(f"{run.fqdn('us-central1-a')} -> CNAME {run.fqdn('us-central1')}")
    run.ok("the zone's name now leads to the healthy shards of its region")

    run.step("7. A region fails: the us-central1 clusters go down")
    started = time.monotonic()
    for cluster in ("us-central1-a", "us-central1-b", "us-central1-c", "us-central1-f"):
        await fed.fleet.fault(cluster, "down")
    await run.wait("us-central1 to point at the global name",
                   lambda: _is(run, "us-central1", ("CNAME", [run.fqdn()])), timeout=120)
    run.timings.append(Timing("region failover (clusters unreachable -> region CNAME to global)",
                              time.monotonic() - started))
    c.print(f"{run.fqdn('us-central1')} -> CNAME {run.fqdn()}")
    run.ok("the region's name now leads to the healthy shards everywhere else")

    run.step("8. Bring the region back")
    started = time.monotonic()
    for cluster in ("us-central1-a", "us-central1-b", "us-central1-c", "us-central1-f"):
        await fed.fleet.clear(cluster)
    await run.wait("us-central1 to have its own addresses again",
                   lambda: _kind(run, "us-central1", "A"), timeout=120)
    await run.wait("us-central1-a to have its own address again", lambda: _kind(run, "us-central1-a", "A"),
                   timeout=120)
    run.timings.append(Timing("recovery (clusters and pods back -> A records again)", time.monotonic() - started))
    run.ok("zone and region records are back")


async def discover_from_pods(run: DemoRun) -> None:
    """Ask each cluster's DNS (kfed cluster-dns) for nginx.mynamespace.myfederation, as a pod there would."""
    from kfed.controllers.clusterdns import ClusterDNS, ClusterDNSOptions
    from kfed.dns.clusterdns import UpstreamRoute
    from kfed.members.client import KubeClient, parse_kubeconfig

    fed = run.federation
    s = fed.settings
    host, port = fed.dns_address
    kubeconfig = parse_kubeconfig(run.kubeconfig.read_text())
    name = f"nginx.{NAMESPACE}.{s.federation}.svc.cluster.local."
    regional = sorted((await run.answer("us-central1"))[1])
    for cluster in ("us-central1-a", "us-central1-f"):
        client = await KubeClient.from_kubeconfig(kubeconfig, cluster)
        options = ClusterDNSOptions(federations={s.federation: s.dns_zone},
                                    upstreams=[UpstreamRoute.parse(f"{s.dns_zone}={host}:{port}")])
        try:
            async with ClusterDNS(client, options) as cdns:
                q = dns.message.make_query(name, dns.rdatatype.A)
                resp = await dns.asyncquery.udp(q, cdns.address[0], port=cdns.port, timeout=3.0)
        finally:
            await client.close()
        chain = [(rr.name.to_text(), dns.rdatatype.to_text(rr.rdtype), sorted(r.to_text() for r in rr))
                 for rr in resp.answer]
        run.console.print(f"[dim]a pod in {cluster} asks for[/dim] nginx.{NAMESPACE}.{s.federation}")
        for owner, rtype, data in chain:
            run.console.print(f"  {owner} {rtype} {', '.join(data)}", highlight=False, markup=False)
        addresses = sorted(a for _, rtype, data in chain if rtype == "A" for a in data)
        if cluster == "us-central1-a":
            local = await run.kubectl(f"--context={cluster}", "-n", NAMESPACE, "get", "svc", "nginx", "-o",
                                      "jsonpath={.spec.clusterIP}", show=False)
            if not chain or chain[0][1] != "CNAME" or chain[0][2] != [f"nginx.{NAMESPACE}.svc.cluster.local."] \
                    or addresses != [local]:
                raise DemoFailed(f"{cluster} should answer with its local shard {local}: {chain}")
            run.ok(f"{cluster} has a healthy shard: the local Service's cluster IP {local}")
        else:
            zone_name = run.fqdn(cluster)
            if not chain or chain[0][2] != [zone_name] or addresses != regional:
                raise DemoFailed(f"{cluster} should go to {zone_name} and end at {regional}: {chain}")
            run.ok(f"{cluster} has no healthy shard: CNAME to its zone name, ending at the region's shards")


async def _is(run: DemoRun, level: str, want: tuple[str, list[str]]) -> bool:
    return await run.answer(level) == want


async def _kind(run: DemoRun, level: str, kind: str) -> bool:
    return (await run.answer(level))[0] == kind


def expected_shape(fed: Any) -> dict[str | None, str]:
    """What the guide's listing says each name should be: "A" or "CNAME:<level>"."""
    healthy_zones = {c.spec.zones[0]: c.spec.region for c in fed.fleet.clusters if c.name not in NO_BACKENDS}
    regions = {c.spec.region for c in fed.fleet.clusters}
    out: dict[str | None, str] = {None: "A"}
    for cl in fed.fleet.clusters:
        zone, region = cl.spec.zones[0], cl.spec.region
        out[zone] = "A" if zone in healthy_zones else f"CNAME:{region}"
    for region in regions:
        out[region] = "A" if region in healthy_zones.values() else "CNAME:"
    return out


async def matches(run: DemoRun, expected: dict[str | None, str]) -> bool:
    for level, want in expected.items():
        kind, data = await run.answer(level)
        if want == "A":
            if kind != "A":
                return False
        else:
            target = want.split(":", 1)[1] or None
            if kind != "CNAME" or data != [run.fqdn(target)]:
                return False
    return True


async def listing(run: DemoRun) -> list[str]:
    """The zone's records as NAME TYPE TTL DATA, from a zone transfer of the built-in server."""
    import dns.query

    host, port = run.federation.dns_address
    zone_name = run.federation.settings.dns_zone

    def transfer() -> list[str]:
        rows: dict[tuple[str, str], tuple[int, set[str]]] = {}
        for message in dns.query.xfr(host, zone_name, port=port, timeout=5, relativize=False):
            for rrset in message.answer:
                key = (rrset.name.to_text(), dns.rdatatype.to_text(rrset.rdtype))
                ttl, data = rows.setdefault(key, (rrset.ttl, set()))
                data.update(r.to_text() for r in rrset)
        return [f"{name} {rtype} {ttl} {', '.join(sorted(data))}"
                for (name, rtype), (ttl, data) in sorted(rows.items())
                if not name.startswith("_kfed-owner.")]

    return ["NAME TYPE TTL DATA", *await asyncio.to_thread(transfer)]


@click.command("demo")
@click.option("--keep", is_flag=True, help="Keep the demo's data directory and kubeconfig afterwards.")
@click.option("--cluster-monitor-period", default=1.0, show_default=True,
              help="Seconds between cluster probes (the production default is 5).")
def demo(keep: bool, cluster_monitor_period: float) -> None:
    """Run the Federated Services guide end to end on 13 simulated clusters; exit 0 if all went as the guide says."""
    setup_logging("error")
    console = Console(width=None if os.isatty(1) else 160)
    if shutil.which("kubectl") is None:
        raise click.ClickException("kubectl is needed: the demo drives the federation with the real kubectl")
    workdir = Path(tempfile.mkdtemp(prefix="kfed-demo-"))
    run = DemoRun(console, workdir / "kubeconfig", workdir)

    async def main() -> None:
        try:
            await _run(run, cluster_monitor_period)
        finally:
            if run.federation is not None:
                with console.status("stopping"):
                    await run.federation.stop()

    try:
        asyncio.run(main())
    except DemoFailed as e:
        console.print(f"[red]✗ {e}[/red]")
        raise SystemExit(1) from e
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
    table = Table(title="timings", box=None, header_style="bold")
    table.add_column("what")
    table.add_column("seconds", justify="right")
    for t in run.timings:
        table.add_row(t.what, f"{t.seconds:.2f}")
    console.print(table)
    console.print(f"[bold green]all {run.checks} checks passed[/bold green]")
