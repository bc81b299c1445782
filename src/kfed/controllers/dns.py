"""DNS controller: federated Services' shards -> record sets -> minimal changes in the DNS provider.

It watches the federated Services (their shard annotation, written by the service controller)
and the clusters' zones and regions. Changed Services wait in a queue, oldest first; each pass
takes up to `max_services_per_pass` of them and plans them together, in one plan over only the
records they want or own (against what the applier knows the zone holds, so steady state makes
no provider calls): a pass costs what those Services' records cost, not what the zone holds.
After start, and after the clusters' topology (their regions and zones) changed or a pass
failed, the whole zone is covered: the records of Services deleted meanwhile are removed, and
every Service is queued.

What users see of it, besides the records:

- Events on the federated Service: `DNSNameConflict` (Warning) when a name the Service should
  have holds records kfed does not own (kfed leaves them alone, and looks again every
  `conflict_recheck` seconds while any conflict stands); `DNSProviderError` (Warning) when the
  provider keeps failing for a Service whose records are not yet in place, `DNSProviderRecovered`
  (Normal) once they are; `InvalidDNSTTL`/`InvalidDNSName` for a Service DNS cannot carry.
- Counters for Prometheus (kfed.controllers.dns_metrics): the applier's stats and this
  controller's passes and failures.

Load balancers that hand out hostnames (AWS ELB) are looked up through a HostnameResolver when a
level needs addresses; answers are refreshed when their TTL runs out, and a Service whose
hostnames moved is synced again.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Sequence
from typing import Any

from kfed.controllers.cluster import ClusterController
from kfed.controllers.dns_hostnames import HostnameResolver, Lookup, dnspython_lookup
from kfed.controllers.events import EventRecorder
from kfed.controllers.manager import FederationSettings
from kfed.controllers.shards import SHARDS_ANNOTATION, decode_shards
from kfed.dns import records as R
from kfed.dns.names import InvalidNameError
from kfed.dns.plan import Conflict, Owner
from kfed.dns.providers import ProviderApplier, ProviderError, SyncResult, make_provider
from kfed.dns.providers.builtin import RecordSetStoreUnavailable
from kfed.dns.recordsets import PATH as RECORDSETS
from kfed.members.client import ApiCallError, KubeClient, Unreachable
from kfed.members.informer import Informer

log = logging.getLogger("kfed.dns-controller")

Obj = dict[str, Any]
MAX_EVENTS_PER_PASS = 50  # a provider outage must not turn into thousands of Event writes
YIELD_EVERY = 50  # Services whose records a pass works out between two yields to the event loop
# Services planned and written in one pass. A pass over all of 1,000 Services (56,000 names) would
# write for a minute from shards read at its start, while the shards keep arriving: its names
# would be written again at once. Passes of 250 (14,000 names, a few seconds of writing under load)
# read fresh ones; passes of 100 fell behind while 1,000 Services converged on 50 clusters (a
# backlog of 400-700 Services, cleared 3-6 s after the last status) where 250 kept up (0.5-1 s).
MAX_SERVICES_PER_PASS = 250


class FederationRecordSets:
    """The builtin provider's store: DNSRecordSet objects in the federation API.

    An API server that cannot be reached or does not answer in time raises
    RecordSetStoreUnavailable, which the provider retries with backoff."""

    def __init__(self, fed: KubeClient) -> None:
        self.fed = fed

    async def list(self) -> list[Obj]:
        items: list[Obj] = []
        cont: str | None = None
        while True:
            try:
                body = await self.fed.get(RECORDSETS, limit=250, **({"continue": cont} if cont else {}))
            except Unreachable as e:
                raise RecordSetStoreUnavailable(str(e)) from e
            items.extend(_slim(o) for o in body.get("items") or [])
            cont = body.get("metadata", {}).get("continue") or None
            if not cont:
                return items

    async def _request(self, method: str, path: str, body: Obj | None = None) -> Obj:
        try:
            result: Obj = await self.fed.request(method, path, body=body)
        except Unreachable as e:
            raise RecordSetStoreUnavailable(str(e)) from e
        return result

    async def create(self, obj: Obj) -> Obj:
        return await self._request("POST", RECORDSETS, obj)

    async def update(self, obj: Obj) -> Obj:
        return await self._request("PUT", f"{RECORDSETS}/{obj['metadata']['name']}", obj)

    async def delete(self, name: str) -> None:
        try:
            await self._request("DELETE", f"{RECORDSETS}/{name}")
        except ApiCallError as e:
            if e.status != 404:
                raise


def _slim(obj: Obj) -> Obj:
    """What the builtin provider reads of a listed DNSRecordSet: 1,000 of them (56,000 names) with
    their managedFields would hold far more than their records while a listing is being read."""
    meta = obj.get("metadata") or {}
    return {"metadata": {k: meta[k] for k in ("name", "resourceVersion", "creationTimestamp", "labels", "annotations")
                         if k in meta},
            "spec": obj.get("spec") or {}}


def to_record_shards(annotation: str | None) -> list[R.Shard]:
    out = []
    for sh in decode_shards(annotation):
        out.append(R.Shard(cluster=sh.cluster, region=sh.region, zones=tuple(sh.zones),
                           addresses=tuple(sh.addresses), hostnames=tuple(sh.hostnames),
                           ready_endpoints=sh.readyEndpoints, cluster_ready=sh.healthy))
    return out


def _dns_inputs(obj: Obj) -> tuple[Any, ...]:
    """What of a federated Service its records depend on."""
    meta = obj["metadata"]
    annotations = meta.get("annotations") or {}
    return (annotations.get(SHARDS_ANNOTATION), annotations.get(R.DNS_TTL_ANNOTATION),
            bool(meta.get("deletionTimestamp")))


class DNSController:
    def __init__(self, fed: KubeClient, clusters: ClusterController, settings: FederationSettings,
                 events: EventRecorder, *, provider: Any = None, debounce: float = 0.01,
                 nameservers: Sequence[str] = (), lookup: Lookup | None = None,
                 conflict_recheck: float = 60.0, max_backoff: float = 30.0,
                 max_services_per_pass: int = MAX_SERVICES_PER_PASS) -> None:
        self.fed = fed
        self.clusters = clusters
        self.settings = settings
        self.events = events
        self.debounce = debounce
        self.conflict_recheck = conflict_recheck
        self.max_backoff = max_backoff
        self.services = Informer(fed, "/api/v1/services", self._on_service, name="dns: federated services")
        self._provider = provider
        self.applier: ProviderApplier | None = None
        self.hostnames = HostnameResolver(lookup or dnspython_lookup(nameservers))
        # Services whose records must be planned again, oldest first (a dict as an ordered set:
        # marking a queued Service again keeps its place).
        self._dirty: dict[str, None] = {}
        self._all = True  # the next pass covers the whole zone
        self.max_services_per_pass = max_services_per_pass
        self._wake = asyncio.Event()
        self._uses_changed = asyncio.Event()
        self._last_topology: frozenset[tuple[str, str]] = frozenset()
        self._uses: dict[str, frozenset[str]] = {}  # Service key -> hostnames its records need looked up
        # Service key -> hash of the records last put in place: enough to tell whether a failed
        # pass left a Service behind, without keeping a copy of every record per Service.
        self._synced: dict[str, int] = {}
        self._conflicts: dict[str, dict[str, str]] = {}  # Service key -> name -> reason, as reported
        self._error_reported: set[str] = set()  # Services told of a provider error not yet recovered
        self._invalid: dict[str, str] = {}  # Service key -> the InvalidDNS* message reported
        self.syncs = 0  # passes that completed
        self._passing = False  # a pass is planning or writing
        self.sync_errors = 0  # passes that failed (provider or federation API errors)
        self.last_error: str | None = None
        # A cluster that turned Ready may have been probed for its region and zones just now: a
        # pass looks at the topology, and covers the whole zone only if it changed. (Readiness
        # itself reaches the records through the shards, which mark their Services dirty.)
        clusters.on_ready_change.append(lambda name: self._wake.set())

    # -- what wakes a pass ------------------------------------------------------------------

    def _mark_all(self) -> None:
        self._all = True
        self._wake.set()

    def request_full_pass(self) -> None:
        """Plan the whole zone again soon (from what the applier knows: no listing)."""
        self._mark_all()

    def _on_service(self, kind: str, obj: Obj, old: Obj | None) -> None:
        if old is not None and kind == "MODIFIED" and _dns_inputs(old) == _dns_inputs(obj):
            return  # nothing DNS depends on changed
        meta = obj["metadata"]
        self._dirty[f"{meta.get('namespace', 'default')}/{meta['name']}"] = None
        self._wake.set()

    def idle(self) -> bool:
        """Nothing waiting, planning or being written (what it last wrote is in the provider)."""
        return not self._dirty and not self._passing and not self._wake.is_set()

    @property
    def conflicts(self) -> int:
        """Names currently left alone because kfed does not own them."""
        return sum(len(c) for c in self._conflicts.values())

    # -- desired state ----------------------------------------------------------------------

    def _topology(self) -> frozenset[tuple[str, str]]:
        """(region, zone) of every joined cluster, Ready or not: their names keep CNAMEs."""
        pairs = set()
        names = set(self.clusters.known_clusters()) | set(self.clusters.clusters.cache)
        for name in names:
            region, zones = self.clusters.topology(name)
            obj = self.clusters.clusters.cache.get(name)
            if not region and not zones and obj is not None:
                # Not probed yet by this process (just started): what the API last recorded, so
                # a restart does not drop and re-create the zone names of unhealthy clusters.
                spec, status = obj.get("spec") or {}, obj.get("status") or {}
                region = spec.get("region") or status.get("region") or ""
                zones = list(spec.get("zones") or status.get("zones") or [])
            if region:
                pairs.add((region, ""))
            for z in zones:
                pairs.add((region, z))
        return frozenset(pairs)

    def _report_invalid(self, key: str, svc: Obj, reason: str, message: str) -> None:
        if self._invalid.get(key) != message:
            self._invalid[key] = message
            self.events.record(svc, "Warning", reason, message)

    async def _desired(self, key: str, topology: frozenset[tuple[str, str]]) -> list[R.RecordSet]:
        svc = self.services.cache.get(key)
        if svc is None or svc["metadata"].get("deletionTimestamp"):
            self._forget_uses(key)
            self._invalid.pop(key, None)
            return []
        annotations = svc["metadata"].get("annotations") or {}
        valid = True
        try:
            ttl = R.ttl_from_annotations(annotations)
        except R.InvalidTTLError as e:
            self._report_invalid(key, svc, "InvalidDNSTTL", f"{e}; using {self.settings.default_ttl}s")
            ttl, valid = None, False
        ns, name = key.split("/", 1)
        service = R.FederatedService(name=name, namespace=ns, shards=tuple(to_record_shards(
            annotations.get(SHARDS_ANNOTATION))), ttl=ttl, all_zones=topology)
        fed, zone = self.settings.federation, self.settings.dns_zone
        try:
            hostnames = R.hostnames_to_resolve(service, fed, zone)
            if self._uses.get(key, frozenset()) != hostnames:
                self._uses[key] = hostnames
                self._uses_changed.set()
            if hostnames:
                await self.hostnames.ensure(hostnames)
            wanted = R.desired_records(service, fed, zone, default_ttl=self.settings.default_ttl,
                                       resolve=self.hostnames.addresses)
        except InvalidNameError as e:
            self._report_invalid(key, svc, "InvalidDNSName", f"no DNS records for this Service: {e}")
            return []
        if valid:
            self._invalid.pop(key, None)  # fixed: a new mistake gets a new Event
        return wanted

    def _forget_uses(self, key: str) -> None:
        if self._uses.pop(key, None):
            self._uses_changed.set()

    def _make_provider(self) -> Any:
        if self._provider is not None:
            return self._provider
        config = dict(self.settings.dns_provider_config)
        if self.settings.dns_provider == "builtin":
            config["store"] = FederationRecordSets(self.fed)
        return make_provider(self.settings.dns_provider, config)

    # -- loop -------------------------------------------------------------------------------

    async def run(self) -> None:
        self.services.start()
        await asyncio.gather(self.services.synced.wait(), self.clusters.clusters.synced.wait())
        provider = self._make_provider()
        self.applier = ProviderApplier(provider, resync_interval=None)
        refresher = asyncio.get_running_loop().create_task(self._refresh_hostnames(), name="dns: hostnames")
        self._mark_all()  # the first pass covers the whole zone
        backoff = 0.2
        try:
            while True:
                if self.conflicts:
                    try:
                        await asyncio.wait_for(self._wake.wait(), timeout=self.conflict_recheck)
                    except TimeoutError:
                        # The conflicting records may be gone: look at the zone again.
                        self.applier.invalidate(self.settings.dns_zone)
                        self._all = True
                else:
                    await self._wake.wait()
                if self.debounce:
                    await asyncio.sleep(self.debounce)  # let a burst of shard changes land in one pass
                self._wake.clear()
                self._passing = True
                try:
                    await self.sync_once()
                    backoff = 0.2
                    self.last_error = None
                except (ProviderError, ApiCallError, Unreachable) as e:
                    self.sync_errors += 1
                    self.last_error = str(e)
                    log.warning("DNS sync failed, retrying in %.1fs: %s", backoff, e)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, self.max_backoff)
                    self._mark_all()  # plan the whole zone again from a fresh listing
                finally:
                    self._passing = False
        finally:
            refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await refresher

    async def _refresh_hostnames(self) -> None:
        """Look load-balancer hostnames up again as their answers expire; resync who moved."""
        while True:
            in_use = frozenset().union(*self._uses.values())
            self.hostnames.forget(in_use)
            delay = self.hostnames.next_expiry(in_use)
            self._uses_changed.clear()
            try:
                await asyncio.wait_for(self._uses_changed.wait(), timeout=delay)
                continue  # other hostnames in use: work out the next expiry again
            except TimeoutError:
                pass
            changed = await self.hostnames.ensure(in_use)
            moved = [key for key, hosts in self._uses.items() if hosts & changed]
            if moved:
                log.info("load-balancer addresses changed for %s", ", ".join(sorted(moved)))
                self._dirty.update(dict.fromkeys(moved))
                self._wake.set()

    async def sync_once(self) -> None:
        """One pass: the next (at most `max_services_per_pass`) Services waiting, in one plan.

        A whole-zone pass first deletes the records of Services that are gone, then queues every
        Service; the run loop keeps passing while any wait.
        """
        assert self.applier is not None
        zone, federation = self.settings.dns_zone, self.settings.federation
        topology = self._topology()
        if topology != self._last_topology:
            self._all = True
        if self._all:
            self._all = False
            try:
                await self._collect_garbage(zone, federation)
            except (ProviderError, ApiCallError, Unreachable):
                self._all = True
                raise
            self._last_topology = topology
            self._dirty = dict.fromkeys(sorted(self.services.cache))
        keys = list(itertools.islice(self._dirty, self.max_services_per_pass))
        for key in keys:
            del self._dirty[key]
        if self._dirty:
            self._wake.set()  # more Services wait: the run loop passes again
        if not keys:
            self.syncs += 1  # woken for nothing that touches DNS (a readiness change, say)
            return
        started = time.perf_counter()
        wanted: dict[str, list[R.RecordSet]] = {}
        try:
            for n, key in enumerate(keys, 1):
                # Worked out now, not when the Service was queued: a Service whose shards keep
                # changing while others are written gets its newest state, written once.
                wanted[key] = await self._desired(key, topology)
                if n % YIELD_EVERY == 0:
                    await asyncio.sleep(0)  # let the other controllers run meanwhile
            # One plan for the pass's Services, over only the names they want or own.
            desired = {self._owner(key): records for key, records in wanted.items()}
            result = await self.applier.sync(zone, desired, federation, collect_garbage=False)
        except (ProviderError, ApiCallError, Unreachable) as e:
            self._dirty = {**dict.fromkeys(keys), **self._dirty}  # first in line again
            self._report_failure([k for k in keys if _digest(wanted.get(k, ())) != self._synced.get(k)], e)
            raise
        self._after_sync(keys, wanted, result)
        self.syncs += 1
        if result.applied:
            log.info("DNS sync applied %d changes for %d Services in %.1f ms (%d Services waiting)",
                     result.applied, len(keys), (time.perf_counter() - started) * 1000, len(self._dirty))

    async def _collect_garbage(self, zone: str, federation: str) -> None:
        """Delete what the zone's markers give to Services of this federation that are gone."""
        assert self.applier is not None
        live = self.services.cache
        gone: dict[Owner, list[R.RecordSet]] = {owner: [] for owner in await self.applier.owners(zone)
                if owner.federation == federation and f"{owner.namespace}/{owner.service}" not in live}
        if gone:
            log.info("removing the DNS records of %d deleted Services", len(gone))
            await self.applier.sync(zone, gone, federation, collect_garbage=False)
        for key in set(self._synced) - set(live):  # Services gone while we were away
            self._synced.pop(key, None)
            self._conflicts.pop(key, None)

    def _owner(self, key: str) -> Owner:
        ns, name = key.split("/", 1)
        return Owner(self.settings.federation, ns, name)

    # -- reporting --------------------------------------------------------------------------

    def _after_sync(self, keys: list[str], wanted: dict[str, list[R.RecordSet]], result: SyncResult) -> None:
        by_name = {r.name: key for key in keys for r in wanted.get(key, ())}
        found: dict[str, dict[str, str]] = {key: {} for key in keys}
        for conflict in result.conflicts:
            owner = conflict.owner
            key = f"{owner.namespace}/{owner.service}" if owner is not None else by_name.get(conflict.name)
            if key in found:
                found[key][conflict.name] = _conflict_text(conflict)
        events = 0
        for key in keys:
            records = wanted.get(key, [])
            if self.services.cache.get(key) is None and not records:
                self._synced.pop(key, None)
            else:
                self._synced[key] = _digest(records)
            svc = self.services.cache.get(key)
            before = self._conflicts.get(key, {})
            for name, text in sorted(found[key].items()):
                if before.get(name) != text:
                    log.warning("DNS name %s not owned by kfed, left alone: %s", name, text)
                    if svc is not None and events < MAX_EVENTS_PER_PASS:
                        events += 1
                        self.events.record(svc, "Warning", "DNSNameConflict",
                                           f"DNS name {name} left alone: {text}")
            if found[key]:
                self._conflicts[key] = found[key]
            else:
                self._conflicts.pop(key, None)
            if key in self._error_reported:
                self._error_reported.discard(key)
                if svc is not None and events < MAX_EVENTS_PER_PASS:
                    events += 1
                    self.events.record(svc, "Normal", "DNSProviderRecovered",
                                       f"DNS records are in place in the {self._provider_name()} provider")

    def _report_failure(self, pending: list[str], error: Exception) -> None:
        """Tell each Service whose records are not in place, once per outage."""
        events = 0
        for key in pending:
            svc = self.services.cache.get(key)
            if key in self._error_reported or svc is None:
                continue
            if events >= MAX_EVENTS_PER_PASS:
                break
            events += 1
            self._error_reported.add(key)
            self.events.record(svc, "Warning", "DNSProviderError",
                               f"DNS records not updated yet (retrying with backoff): {error}")

    def _provider_name(self) -> str:
        return str(getattr(self.applier.provider if self.applier else None, "name", self.settings.dns_provider))

    async def stop(self) -> None:
        await self.services.stop()
        if self.applier is not None:
            await self.applier.provider.close()


def _digest(records: Sequence[R.RecordSet]) -> int:
    return hash(tuple(records))


def _conflict_text(conflict: Conflict) -> str:
    if conflict.holder and conflict.holder not in conflict.reason:
        return f"{conflict.reason} ({conflict.holder})"
    return conflict.reason
