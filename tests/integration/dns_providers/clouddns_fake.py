"""A small fake of the Cloud DNS v1 REST API (aiohttp, on 127.0.0.1), as strict as the real one.

It serves managedZones list, rrsets list (paged), changes create and get. A change's deletions
must match the current record sets exactly (else 412 conditionNotMet), its additions must not
exist (else 409 alreadyExists), and a CNAME may not share its name (400). A new change answers
"pending" and turns "done" when next read, so clients must poll. `fail_next` queues HTTP errors.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

Key = tuple[str, str]


@dataclass
class FakeZone:
    name: str
    dns_name: str
    rrsets: dict[Key, dict[str, Any]] = field(default_factory=dict)
    changes: dict[str, dict[str, Any]] = field(default_factory=dict)


def _error(status: int, reason: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": status, "message": message,
                                        "errors": [{"domain": "global", "reason": reason, "message": message}]}},
                             status=status)


def _rrset(body: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "dns#resourceRecordSet", "name": body["name"], "type": body["type"], "ttl": int(body["ttl"]),
            "rrdatas": list(body["rrdatas"])}


class FakeCloudDNS:
    def __init__(self, project: str, page_size: int = 50) -> None:
        self.project = project
        self.page_size = page_size
        self.zones: dict[str, FakeZone] = {}
        self.fail_next: list[tuple[int, str]] = []  # (status, reason) answered to the next change requests
        self.change_requests = 0  # successful change creations
        self.requests: list[str] = []  # "METHOD path" of every request
        self._runner: web.AppRunner | None = None
        self.port = 0

    def add_zone(self, name: str, dns_name: str) -> FakeZone:
        zone = FakeZone(name, dns_name)
        zone.rrsets[(dns_name, "SOA")] = _rrset({"name": dns_name, "type": "SOA", "ttl": 21600, "rrdatas": [
            "ns-cloud-e1.googledomains.com. cloud-dns-hostmaster.google.com. 1 21600 3600 1209600 300"]})
        zone.rrsets[(dns_name, "NS")] = _rrset({"name": dns_name, "type": "NS", "ttl": 21600, "rrdatas": [
            "ns-cloud-e1.googledomains.com.", "ns-cloud-e2.googledomains.com."]})
        self.zones[name] = zone
        return zone

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        base = "/dns/v1/projects/{project}/managedZones"
        app.router.add_get(base, self.list_zones)
        app.router.add_get(base + "/{zone}/rrsets", self.list_rrsets)
        app.router.add_post(base + "/{zone}/changes", self.create_change)
        app.router.add_get(base + "/{zone}/changes/{change}", self.get_change)
        app.middlewares.append(self._log)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @web.middleware
    async def _log(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append(f"{request.method} {request.path}")
        if request.match_info.get("project") not in (None, self.project):
            return _error(404, "notFound", "The requested project was not found")
        return await handler(request)

    def _zone(self, request: web.Request) -> FakeZone:
        zone = self.zones.get(request.match_info["zone"])
        if zone is None:
            raise web.HTTPNotFound()
        return zone

    async def list_zones(self, request: web.Request) -> web.Response:
        zones = [{"kind": "dns#managedZone", "name": z.name, "dnsName": z.dns_name, "id": str(1000 + i),
                  "description": "", "nameServers": ["ns-cloud-e1.googledomains.com."]}
                 for i, z in enumerate(self.zones.values())]
        return web.json_response({"kind": "dns#managedZonesListResponse", "managedZones": zones})

    async def list_rrsets(self, request: web.Request) -> web.Response:
        zone = self._zone(request)
        items = sorted(zone.rrsets.values(), key=lambda r: (r["name"], r["type"]))
        start = int(request.query.get("pageToken") or 0)
        size = min(int(request.query.get("maxResults") or self.page_size), self.page_size)
        page = items[start:start + size]
        body: dict[str, Any] = {"kind": "dns#resourceRecordSetsListResponse", "rrsets": page}
        if start + size < len(items):
            body["nextPageToken"] = str(start + size)
        return web.json_response(body)

    async def create_change(self, request: web.Request) -> web.Response:
        zone = self._zone(request)
        if self.fail_next:
            status, reason = self.fail_next.pop(0)
            return _error(status, reason, f"injected {reason}")
        body = await request.json()
        sets = dict(zone.rrsets)
        for i, deletion in enumerate(body.get("deletions", [])):
            key = (deletion["name"], deletion["type"])
            if sets.get(key) != _rrset(deletion):
                return _error(412, "conditionNotMet", f"Precondition not met for 'entity.change.deletions[{i}]'")
            del sets[key]
        for i, addition in enumerate(body.get("additions", [])):
            key = (addition["name"], addition["type"])
            if key in sets:
                return _error(409, "alreadyExists",
                              f"The resource 'entity.change.additions[{i}]' named '{key[0]} ({key[1]})' already exists")
            sets[key] = _rrset(addition)
        per_name = Counter(name for name, _ in sets)
        for name, rtype in sets:
            if rtype == "CNAME" and per_name[name] > 1:
                return _error(400, "cnameResourceRecordSetConflict", f"CNAME at {name} beside other data")
        zone.rrsets = sets
        change_id = str(len(zone.changes) + 1)
        change = {"kind": "dns#change", "id": change_id, "status": "pending",
                  "startTime": "2026-01-01T00:00:00.000Z",
                  "additions": body.get("additions", []), "deletions": body.get("deletions", [])}
        zone.changes[change_id] = change
        self.change_requests += 1
        return web.json_response(change)

    async def get_change(self, request: web.Request) -> web.Response:
        zone = self._zone(request)
        change = zone.changes.get(request.match_info["change"])
        if change is None:
            return _error(404, "notFound", "no such change")
        answer = dict(change)
        change["status"] = "done"  # pending once, done from the next read on
        return web.json_response(answer)
