"""Route 53: how many API requests kfed needs for 10,000 record changes, and how long they take.

    .venv/bin/python bench/route53_bench.py [--owners 5000] [--rounds 3]

The Route 53 API is moto's, in server mode on 127.0.0.1, behind the test suite's proxy that
measures every ChangeResourceRecordSets request on the wire (changes, resource records and value
characters, counted as Route 53 counts them). For the 10,000-change run the proxy answers change
requests itself with Route 53's success reply (moto spends time linear in the zone's size on each
change, which would measure moto, not kfed); the smaller run goes all the way into moto and back,
then syncs again to show that an unchanged zone costs no change request.

The peer figure is Route 53's own per-request limits (1,000 resource records, 32,000 characters of
values): the fewest requests any client could send for the same changes (computed, not measured).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import time
from dataclasses import dataclass

import procs
import report
from report import Summary, median

ZONE = "example.com."
FED = "myfederation"
CREDS = {"access_key_id": "testing", "secret_access_key": "testing", "region": "us-east-1"}
MAX_RECORDS, MAX_CHARS = 1000, 32_000


@dataclass
class Run:
    changes: int
    requests: int
    seconds: float
    max_records: int
    max_chars: int
    total_records: int
    total_chars: int

    @property
    def floor(self) -> int:
        return max(math.ceil(self.total_records / MAX_RECORDS), math.ceil(self.total_chars / MAX_CHARS))


def owners(n: int) -> dict[object, list[object]]:
    from kfed.dns.plan import Owner
    from kfed.dns.records import RecordSet

    return {
        Owner(FED, "bulk", f"svc{i}"): [
            RecordSet(
                f"svc{i}.bulk.{FED}.svc.{ZONE}", "A", 180, (f"10.{i // 65536}.{(i // 256) % 256}.{i % 256}",)
            )
        ]
        for i in range(n)
    }


def hosted_zone(url: str) -> str:
    import boto3

    client = boto3.client(
        "route53",
        endpoint_url=url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    answer = client.create_hosted_zone(Name=ZONE, CallerReference=f"kfed-bench-{time.time_ns()}")
    return str(answer["HostedZone"]["Id"]).rsplit("/", 1)[-1]


async def sync_once(url: str, zone_id: str, desired: dict[object, list[object]]) -> tuple[int, int, float]:
    from kfed.dns.providers.applier import ProviderApplier
    from kfed.dns.providers.factory import make_provider

    provider = make_provider(
        "route53", {"zone_id": zone_id, "endpoint_url": url, "requests_per_second": 1000.0, **CREDS}
    )
    try:
        t0 = time.perf_counter()
        result = await ProviderApplier(provider).sync(ZONE, desired, FED)  # type: ignore[arg-type]
        return result.applied, result.requests, time.perf_counter() - t0
    finally:
        await provider.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--owners", type=int, default=5000, help="A record sets (each with an ownership marker)"
    )
    parser.add_argument(
        "--moto-owners", type=int, default=1000, help="record sets for the run all the way into moto"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.moto_owners = min(args.moto_owners, 500)
    sys.path.insert(0, str(procs.REPO))
    from tests.integration.dns_providers.route53_peers import MotoRoute53, ThrottlingProxy

    load = report.load_average()
    bulk = owners(args.owners)
    runs: list[Run] = []
    moto_row: tuple[int, int, float, int, float] | None = None
    moto = MotoRoute53()
    moto.start()
    try:
        for _ in range(args.rounds):
            proxy = ThrottlingProxy(moto.port)
            proxy.start()
            try:
                zone_id = hosted_zone(moto.url)
                proxy.state.absorb_changes = True
                applied, requests, seconds = asyncio.run(sync_once(proxy.url, zone_id, bulk))
                sent = proxy.state.change_requests
                runs.append(
                    Run(
                        applied,
                        requests,
                        seconds,
                        max(r.records for r in sent),
                        max(r.chars for r in sent),
                        sum(r.records for r in sent),
                        sum(r.chars for r in sent),
                    )
                )
                report.progress(f"{applied} changes in {requests} requests, {seconds:.2f} s")
            finally:
                proxy.stop()
        proxy = ThrottlingProxy(moto.port)
        proxy.start()
        try:
            zone_id = hosted_zone(moto.url)
            small = owners(args.moto_owners)
            applied, requests, seconds = asyncio.run(sync_once(proxy.url, zone_id, small))
            again_applied, again_requests, again_seconds = asyncio.run(sync_once(proxy.url, zone_id, small))
            moto_row = (applied, requests, seconds, again_requests, again_seconds)
            report.progress(
                f"moto: {applied} changes in {requests} requests, {seconds:.1f} s; again: "
                f"{again_applied} changes, {again_requests} requests"
            )
        finally:
            proxy.stop()
    finally:
        moto.stop()

    notes = [
        f"{args.owners:,} A record sets, each with its ownership marker (TXT): "
        f"{2 * args.owners:,} changes; {args.rounds} rounds, medians shown",
        "Route 53 API: moto server mode on 127.0.0.1 behind a measuring proxy (see the docstring)",
    ]
    out = [report.header("Route 53: change batching (moto)", load=load, notes=notes)]
    r0 = runs[0]
    rows = [
        [
            f"{r0.changes:,}",
            r0.requests,
            r0.floor,
            r0.max_records,
            f"{r0.max_chars:,}",
            f"{median([r.seconds for r in runs]):.2f} s",
        ]
    ]
    out.append(
        report.table(
            [
                "changes",
                "requests",
                "fewest possible (Route 53 limits)",
                "max records in a request",
                "max value chars in a request",
                "time (proxy answers)",
            ],
            rows,
        )
    )
    if moto_row is not None:
        applied, requests, seconds, again_requests, again_seconds = moto_row
        out.append(
            report.table(
                ["into moto and back", "changes", "requests", "time", "sync again: requests", "time"],
                [
                    [
                        "first sync",
                        f"{applied:,}",
                        requests,
                        f"{seconds:.1f} s",
                        again_requests,
                        f"{again_seconds:.2f} s",
                    ]
                ],
            )
        )
    out.append(
        f"- Route 53 limits per ChangeResourceRecordSets: {MAX_RECORDS:,} resource records and "
        f"{MAX_CHARS:,} value characters (UPSERT counts twice); the floor above is computed from them\n"
    )
    met = (
        r0.changes >= 10_000
        and r0.requests <= 20
        and r0.max_records <= MAX_RECORDS
        and r0.max_chars <= MAX_CHARS
    )
    summaries = [
        Summary(
            "DNS",
            f"{r0.changes:,} changes to Route 53 (moto)",
            "<= 20 requests",
            f"{r0.requests} requests",
            met if r0.changes >= 10_000 else None,
            f"floor {r0.floor} (Route 53 limits, computed)",
            "" if r0.changes >= 10_000 else f"{r0.changes:,} changes",
        )
    ]
    report.emit("\n".join(out), summaries)


if __name__ == "__main__":
    main()
