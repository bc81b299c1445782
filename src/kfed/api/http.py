"""The Kubernetes API over HTTP (aiohttp): routing, negotiation, watch streams, discovery, auth.

Every resource URL form kube-apiserver serves is parsed by hand (one catch-all route), so the
same app serves whatever kinds the ObjectService registers: the federation API and each
simulated member cluster differ only in that list.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from kfed import __version__
from kfed.api import codec, discovery, protobuf, tables
from kfed.api import errors as E
from kfed.api import patch as P
from kfed.api.auth import READ_VERBS, Role, TokenAuthenticator, User
from kfed.api.objects import ObjectService, WatchItem, WriteOptions
from kfed.model import fieldcheck
from kfed.model.resource import Obj, ResourceType

log = logging.getLogger("kfed.api")

MAX_BODY = 3 * 1024 * 1024
# per-request values the middleware reads back (metrics labels, the authenticated user)
USER_KEY = web.RequestKey("user", User)
GROUP_KEY = web.RequestKey("group", str)
RESOURCE_KEY = web.RequestKey("resource", str)
WATCH_KEY = web.RequestKey("watch", bool)
_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}
_PUBLIC_PATHS = {"/healthz", "/livez", "/readyz", "/version", "/version/"}
_PATCH_TYPES = {
    "application/json-patch+json": "json",
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
    "application/apply-patch+json": "apply",
}


def parse_bool(value: str | None, name: str) -> bool:
    """Go's strconv.ParseBool, as kube-apiserver parses boolean query parameters."""
    if value is None or value == "":
        return False
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise E.bad_request(f'invalid value for {name}: strconv.ParseBool: parsing "{value}": invalid syntax')


@dataclass(frozen=True)
class ResourcePath:
    group: str
    version: str
    namespace: str | None
    plural: str
    name: str | None
    subresource: str


def parse_resource_path(path: str) -> ResourcePath | None:
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    if not rest:
        return None
    namespace = None
    if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] not in ("status", "finalize"):
        namespace, rest = rest[1], rest[2:]
    plural = rest[0]
    name = rest[1] if len(rest) > 1 else None
    sub = "/".join(rest[2:]) if len(rest) > 2 else ""
    return ResourcePath(group, version, namespace, plural, name, sub)


class _Negotiated:
    def __init__(self, accept: str) -> None:
        self.accept = accept or "application/json"
        self.table = "as=Table" in self.accept
        self.table_version = "v1beta1" if "as=Table;v=v1beta1" in self.accept and "as=Table;v=v1;" not in self.accept else "v1"
        first = self.accept.split(",")[0]
        self.yaml = "application/yaml" in first
        self.discovery_v2 = "as=APIGroupDiscoveryList" in self.accept and "v=v2" in self.accept
        self.discovery_v2beta1 = "as=APIGroupDiscoveryList" in self.accept and "v=v2beta1" in self.accept
        acceptable = ("application/json", "application/yaml", "*/*", "application/*")
        if not any(a in self.accept for a in acceptable):
            raise E.not_acceptable(self.accept)


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("apiserver_request_total", "API requests by verb, resource and code",
                                ["verb", "group", "resource", "code"], registry=self.registry)
        self.latency = Histogram("apiserver_request_duration_seconds", "API request latency (not watches)",
                                 ["verb", "resource"], registry=self.registry,
                                 buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
        self.watchers = Counter("apiserver_watch_events_total", "Watch events sent", ["resource"],
                                registry=self.registry)
        # the labelled children, by their labels: labels() itself costs a lock and a tuple per call
        self._counted: dict[tuple[str, str, str, int], Any] = {}
        self._timed: dict[tuple[str, str], Any] = {}
        self._watched: dict[str, Any] = {}

    def observe(self, verb: str, group: str, resource: str, code: int, seconds: float) -> None:
        """Count one finished request and its latency."""
        key = (verb, group, resource, code)
        counter = self._counted.get(key)
        if counter is None:
            counter = self._counted[key] = self.requests.labels(verb, group, resource, str(code))
        counter.inc()
        timer = self._timed.get((verb, resource))
        if timer is None:
            timer = self._timed[(verb, resource)] = self.latency.labels(verb, resource)
        timer.observe(seconds)

    def watch_event_sent(self, resource: str) -> None:
        counter = self._watched.get(resource)
        if counter is None:
            counter = self._watched[resource] = self.watchers.labels(resource)
        counter.inc()


OpenApiProvider = Callable[[str, str], Awaitable[tuple[bytes, str] | None]]


class ApiApp:
    """Builds the aiohttp Application for one API server."""

    def __init__(
        self,
        objects: ObjectService,
        *,
        authenticator: TokenAuthenticator | None,
        server_address: str = "",
        openapi: OpenApiProvider | None = None,
        ready: Callable[[], bool] | None = None,
        managed_fields: Any = None,
        git_version: str = f"v1.32.0-kfed.{__version__}",
    ) -> None:
        self.objects = objects
        self.auth = authenticator
        self.server_address = server_address
        self.openapi = openapi
        self.ready = ready or (lambda: True)
        self.metrics = ApiMetrics()
        self.git_version = git_version
        self._frames: OrderedDict[tuple[str, int, str, str], bytes] = OrderedDict()
        # Fault injection (simulated clusters): added latency, and refusing every write with 403.
        self.added_latency = 0.0
        self.forbid_writes = False

    def build(self) -> web.Application:
        # One catch-all route and no aiohttp middleware: errors, auth and metrics are the route
        # handler's first layer (_handle), which spares every request the middleware chain.
        app = web.Application(client_max_size=MAX_BODY, handler_args={"max_field_size": 65536})
        app.router.add_route("*", "/{tail:.*}", self._handle)
        return app

    # -- the first layer: errors, auth, metrics ------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        code = 500
        try:
            if self.added_latency > 0:
                await asyncio.sleep(self.added_latency)
            if request.content_length is not None and request.content_length > MAX_BODY:
                raise E.too_large()
            user = self._authenticate(request)
            if user is None and request.path not in _PUBLIC_PATHS:
                raise E.unauthorized()
            if user is not None:
                request[USER_KEY] = user
            resp = await self._dispatch(request)
            code = resp.status
            return resp
        except E.ApiError as e:
            code = e.code
            return self._status_response(e)
        except web.HTTPRequestEntityTooLarge:
            code = 413
            return self._status_response(E.too_large())
        except web.HTTPException:
            raise
        except Exception as e:  # noqa: BLE001 - a server bug must answer 500, never crash the server
            log.exception("internal error path=%s", request.path)
            code = 500
            return self._status_response(E.internal(type(e).__name__))
        finally:
            if not request.get(WATCH_KEY):
                self.metrics.observe(request.method, request.get(GROUP_KEY, ""), request.get(RESOURCE_KEY, ""), code,
                                     time.perf_counter() - started)

    def _authenticate(self, request: web.Request) -> User | None:
        if self.auth is None:
            return User("system:unsecured", ("system:masters",), Role.ADMIN)  # auth disabled (in-process tests)
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            user = self.auth.from_token(header[7:].strip())
            if user is None:
                raise E.unauthorized()
            return user
        transport = request.transport
        ssl_obj = transport.get_extra_info("ssl_object") if transport is not None else None
        if ssl_obj is not None:
            cert = ssl_obj.getpeercert()
            if cert:
                for rdn in cert.get("subject", ()):
                    for k, v in rdn:
                        if k == "commonName":
                            return self.auth.from_certificate_cn(v)
        return None

    @staticmethod
    def _status_response(e: E.ApiError) -> web.Response:
        return web.Response(status=e.code, body=codec.dumps(e.status()), content_type="application/json",
                            headers=e.headers)

    # -- dispatch ------------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path in ("/healthz", "/livez", "/readyz") or path.startswith(("/healthz/", "/livez/", "/readyz/")):
            return self._health(request, path)
        if path in ("/version", "/version/"):
            return self._json({"major": "1", "minor": "32", "gitVersion": self.git_version,
                               "gitCommit": "kfed", "gitTreeState": "clean", "buildDate": "2026-11-21T00:00:00Z",
                               "goVersion": "python", "compiler": "cpython", "platform": "linux/amd64"})
        if path == "/metrics":
            self._authorize(request, "get", "metrics", "", None)
            return web.Response(body=generate_latest(self.metrics.registry), content_type="text/plain",
                                charset="utf-8")
        if path.startswith("/openapi/"):
            return await self._openapi(request)
        neg = _Negotiated(request.headers.get("Accept", ""))
        if path in ("/api", "/api/"):
            if neg.discovery_v2 or neg.discovery_v2beta1:
                return self._aggregated(True, neg)
            return self._json(discovery.api_versions(self.server_address))
        if path in ("/apis", "/apis/"):
            if neg.discovery_v2 or neg.discovery_v2beta1:
                return self._aggregated(False, neg)
            return self._json(discovery.api_group_list(self.objects.resources))
        rp = parse_resource_path(path)
        if rp is None or rp.plural == "":
            return self._discovery_or_404(path)
        if rp.name is None and rp.namespace is None and len([p for p in path.split("/") if p]) == (2 if not rp.group else 3):
            return self._discovery_or_404(path)
        rt = self.objects.resource(rp.group, rp.version, rp.plural)
        if rt is None:
            maybe = self._discovery_or_404(path)
            return maybe
        request[GROUP_KEY], request[RESOURCE_KEY] = rt.group, rt.plural
        if rp.subresource and rp.subresource not in rt.subresources and not (
                rt.kind == "Namespace" and rp.subresource == "finalize"):
            raise E.ApiError(404, "NotFound", "the server could not find the requested resource")
        if rt.namespaced is False and rp.namespace is not None:
            raise E.ApiError(404, "NotFound", "the server could not find the requested resource")
        return await self._resource(request, rt, rp, neg)

    def _health(self, request: web.Request, path: str) -> web.Response:
        ok = self.ready() if path.startswith("/readyz") else True
        if "verbose" in request.query:
            body = "[+]ping ok\n[+]etcd ok\n" + ("[+]" if ok else "[-]") + "kfed-ready ok\n"
            body += f"{path.strip('/').split('/')[0]} check {'passed' if ok else 'failed'}\n"
            return web.Response(status=200 if ok else 500, text=body)
        return web.Response(status=200 if ok else 500, text="ok" if ok else "not ready")

    def _discovery_or_404(self, path: str) -> web.Response:
        parts = [p for p in path.split("/") if p]
        resources = self.objects.resources
        if len(parts) == 2 and parts[0] == "api":
            rts = [r for r in resources if r.group == "" and r.version == parts[1]]
            if rts:
                return self._json(discovery.resource_list(parts[1], rts))
        if len(parts) == 2 and parts[0] == "apis":
            grp = discovery.api_group(resources, parts[1])
            if grp:
                return self._json(grp)
        if len(parts) == 3 and parts[0] == "apis":
            rts = [r for r in resources if r.group == parts[1] and r.version == parts[2]]
            if rts:
                return self._json(discovery.resource_list(f"{parts[1]}/{parts[2]}", rts))
        raise E.ApiError(404, "NotFound", "the server could not find the requested resource")

    def _aggregated(self, legacy: bool, neg: _Negotiated) -> web.Response:
        version = "v2" if neg.discovery_v2 else "v2beta1"
        body = discovery.aggregated(self.objects.resources, legacy=legacy, version=version)
        ct = f"application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList"
        return web.Response(body=codec.dumps(body), headers={"Content-Type": ct})

    async def _openapi(self, request: web.Request) -> web.Response:
        if self.openapi is None:
            raise E.ApiError(404, "NotFound", "the server could not find the requested resource")
        accept = request.headers.get("Accept", "")
        if "protobuf" in accept and "json" not in accept:
            raise E.not_acceptable(accept)
        found = await self.openapi(request.path, request.query_string)
        if found is None:
            raise E.ApiError(404, "NotFound", "the server could not find the requested resource")
        body, ctype = found
        return web.Response(body=body, headers={"Content-Type": ctype, "Cache-Control": "no-cache, private"})

    # -- responses -----------------------------------------------------------------------

    @staticmethod
    def _json(obj: Any, status: int = 200, warnings: list[str] | None = None) -> web.Response:
        headers = {"Warning": ", ".join(f'299 - "{w}"' for w in warnings)} if warnings else None
        return web.Response(status=status, body=codec.dumps(obj), content_type="application/json", headers=headers)

    def _respond(self, rt: ResourceType, obj: Obj, neg: _Negotiated, request: web.Request, status: int = 200,
                 warnings: list[str] | None = None) -> web.Response:
        if neg.table and obj.get("kind") == rt.kind:
            obj = tables.table_for(rt, [obj], include_object=request.query.get("includeObject", "Metadata"),
                                   list_meta={"resourceVersion": obj["metadata"].get("resourceVersion", "")},
                                   table_version=neg.table_version)
        if neg.yaml:
            return web.Response(status=status, body=codec.dump_yaml(obj), content_type="application/yaml")
        return self._json(obj, status, warnings)

    def _authorize(self, request: web.Request, verb: str, resource: str, group: str, namespace: str | None,
                   name: str | None = None) -> None:
        user: User | None = request.get(USER_KEY)
        if user is None:
            raise E.unauthorized()
        if not user.may(verb) or (self.forbid_writes and verb not in READ_VERBS):
            raise E.forbidden(user.name, verb, resource, group, namespace, name)

    # -- resources -----------------------------------------------------------------------

    async def _resource(self, request: web.Request, rt: ResourceType, rp: ResourcePath,
                        neg: _Negotiated) -> web.StreamResponse:
        method = request.method
        q = request.query
        ns = rp.namespace if rt.namespaced else None
        if method == "GET":
            if rp.name is None:
                if parse_bool(q.get("watch"), "watch"):
                    self._authorize(request, "watch", rt.plural, rt.group, ns)
                    return await self._watch(request, rt, ns, neg)
                self._authorize(request, "list", rt.plural, rt.group, ns)
                return await self._list(request, rt, ns, neg)
            self._authorize(request, "get", rt.plural, rt.group, ns, rp.name)
            if parse_bool(q.get("watch"), "watch"):
                return await self._watch(request, rt, ns, neg, name=rp.name)
            obj = await self.objects.get(rt, ns, rp.name)
            if rp.subresource == "scale":
                return self._json(scale_of(obj))
            return self._respond(rt, obj, neg, request)
        if method == "POST":
            if rp.name is not None:
                raise E.method_not_allowed()
            self._authorize(request, "create", rt.plural, rt.group, ns)
            body = await self._body(request)
            opts = self._write_options(request)
            self._check_fields(rt, body, opts)
            obj = await self.objects.create(rt, ns, body, opts)
            return self._respond(rt, obj, neg, request, 201, opts.warnings)
        if method == "PUT":
            if rp.name is None:
                raise E.method_not_allowed()
            self._authorize(request, "update", rt.plural, rt.group, ns, rp.name)
            body = await self._body(request)
            opts = self._write_options(request)
            if rp.subresource == "scale":
                return self._json(await self._put_scale(rt, ns, rp.name, body, opts))
            self._check_fields(rt, body, opts)
            sub = rp.subresource if rp.subresource in ("status", "finalize") else ""
            obj = await self.objects.update(rt, ns, rp.name, body, opts, subresource=sub)
            return self._respond(rt, obj, neg, request, 200, opts.warnings)
        if method == "PATCH":
            if rp.name is None:
                raise E.method_not_allowed()
            self._authorize(request, "patch", rt.plural, rt.group, ns, rp.name)
            return await self._patch(request, rt, ns, rp, neg)
        if method == "DELETE":
            if rp.name is None:
                self._authorize(request, "deletecollection", rt.plural, rt.group, ns)
                return await self._delete_collection(request, rt, ns, neg)
            self._authorize(request, "delete", rt.plural, rt.group, ns, rp.name)
            return await self._delete(request, rt, ns, rp.name, neg)
        raise E.method_not_allowed()

    async def _body(self, request: web.Request) -> Any:
        raw = await read_body(request)
        if len(raw) > MAX_BODY:
            raise E.too_large()
        ctype = request.headers.get("Content-Type", "application/json")
        if "protobuf" in ctype:
            # kubectl's typed commands (create namespace/deployment/secret/...) send protobuf only
            try:
                return protobuf.decode_k8s_protobuf(raw)
            except protobuf.UnsupportedKindError as e:
                raise E.unsupported_media_type(ctype) from e
            except protobuf.ProtobufDecodeError as e:
                raise E.bad_request(f"the body of the request could not be decoded: {e}") from e
        try:
            return codec.loads_json_or_yaml(raw, ctype) if raw else {}
        except codec.DecodeError as e:
            raise E.bad_request(f"the body of the request could not be decoded: {e}") from e

    def _write_options(self, request: web.Request) -> WriteOptions:
        q = request.query
        dry = q.getall("dryRun", [])
        for d in dry:
            if d != "All":
                raise E.bad_request(f'dryRun: Unsupported value: "{d}": supported values: "All"')
        validation = q.get("fieldValidation") or "Warn"  # kube-apiserver's default; kubectl sends Strict
        if validation not in ("Strict", "Warn", "Ignore"):
            raise E.bad_request(f'fieldValidation: Unsupported value: "{validation}"')
        manager = q.get("fieldManager") or request.headers.get("User-Agent", "unknown").split("/")[0]
        # shared_result: the handlers only encode what a write returns, so watchers may share it
        return WriteOptions(dry_run=bool(dry), field_manager=manager[:128], field_validation=validation,
                            force=parse_bool(q.get("force"), "force"), shared_result=True)

    def _check_fields(self, rt: ResourceType, body: Any, opts: WriteOptions) -> None:
        """fieldValidation: Strict fails on unknown fields, Warn reports them, Ignore drops them."""
        if not isinstance(body, dict):
            return
        unknown = fieldcheck.find_unknown_fields(body, rt.schema)
        if not unknown:
            return
        if opts.field_validation == "Strict":
            detail = ", ".join(f'unknown field "{u.lstrip(".")}"' for u in unknown)
            raise E.bad_request(f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: '
                                f'strict decoding error: {detail}')
        if opts.field_validation == "Warn":
            opts.warnings.extend(f'unknown field \\"{u.lstrip(".")}\\"' for u in unknown)
        fieldcheck.prune_unknown_fields(body, rt.schema)

    async def _list(self, request: web.Request, rt: ResourceType, ns: str | None, neg: _Negotiated) -> web.Response:
        q = request.query
        try:
            limit = int(q.get("limit", "0") or 0)
        except ValueError as e:
            raise E.bad_request(f"limit: invalid value {q.get('limit')!r}") from e
        res = await self.objects.list(rt, ns, label_selector=q.get("labelSelector"),
                                      field_selector=q.get("fieldSelector"), limit=limit,
                                      continue_token=q.get("continue") or None, copy_items=False)
        meta: Obj = {"resourceVersion": res.resource_version}
        if res.continue_token:
            meta["continue"] = res.continue_token
        if neg.table:
            body = tables.table_for(rt, res.items, include_object=q.get("includeObject", "Metadata"),
                                    list_meta=meta, table_version=neg.table_version)
        else:
            body = {"kind": rt.list_kind, "apiVersion": rt.group_version, "metadata": meta, "items": res.items}
        if neg.yaml:
            return web.Response(body=codec.dump_yaml(body), content_type="application/yaml")
        return self._json(body)

    async def _watch(self, request: web.Request, rt: ResourceType, ns: str | None, neg: _Negotiated,
                     name: str | None = None) -> web.StreamResponse:
        q = request.query
        request[WATCH_KEY] = True
        timeout = float(q["timeoutSeconds"]) if q.get("timeoutSeconds") else None
        sie = q.get("sendInitialEvents")
        stream = await self.objects.watch_batches(
            rt, ns, resource_version=q.get("resourceVersion"), label_selector=q.get("labelSelector"),
            field_selector=q.get("fieldSelector"), allow_bookmarks=parse_bool(q.get("allowWatchBookmarks"), "allowWatchBookmarks"),
            send_initial_events=parse_bool(sie, "sendInitialEvents") if sie is not None else None,
            timeout=timeout, name=name)
        resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json",
                                                       "Cache-Control": "no-cache, private"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        first_table = True
        fmt = "table" if neg.table else "json"
        include = q.get("includeObject", "Metadata")
        try:
            async for batch in stream:
                # A batch (what one store wake-up had for this watch) goes out in one write: one
                # chunk and one TLS record rather than one per event.
                frames = []
                for item in batch:
                    if neg.table:
                        frames.append(self._table_frame(rt, item, first_table, include, neg.table_version))
                        first_table = False
                    else:
                        frames.append(self._frame(item, fmt))
                    self.metrics.watch_event_sent(rt.plural)
                await resp.write(b"".join(frames))
            await resp.write_eof()
        except (ConnectionError, RuntimeError):
            pass  # the client went away: nothing to answer
        finally:
            await stream.aclose()  # type: ignore[attr-defined]
        return resp

    def _frame(self, item: WatchItem, fmt: str) -> bytes:
        if not item.key:
            return codec.dumps({"type": item.type, "object": item.object}) + b"\n"
        k = (item.key, item.revision, item.type, fmt)
        frame = self._frames.get(k)
        if frame is None:
            frame = codec.dumps({"type": item.type, "object": item.object}) + b"\n"
            self._frames[k] = frame
            if len(self._frames) > 4096:
                self._frames.popitem(last=False)
        return frame

    def _table_frame(self, rt: ResourceType, item: WatchItem, headers: bool, include: str, version: str) -> bytes:
        if item.type in ("BOOKMARK", "ERROR"):
            return codec.dumps({"type": item.type, "object": item.object}) + b"\n"
        table = tables.table_for(rt, [item.object], include_object=include, headers=headers,
                                 list_meta={"resourceVersion": item.object["metadata"].get("resourceVersion", "")},
                                 table_version=version)
        return codec.dumps({"type": item.type, "object": table}) + b"\n"

    async def _patch(self, request: web.Request, rt: ResourceType, ns: str | None, rp: ResourcePath,
                     neg: _Negotiated) -> web.Response:
        ctype = request.headers.get("Content-Type", "").split(";")[0].strip()
        kind = _PATCH_TYPES.get(ctype)
        if kind is None:
            raise E.ApiError(415, "UnsupportedMediaType",
                             f"the body of the request was in an unknown format - accepted media types include: "
                             f"{', '.join(_PATCH_TYPES)}")
        raw = await read_body(request)
        try:
            patch_body = codec.loads_json_or_yaml(raw, "yaml" if kind == "apply" else "json")
        except codec.DecodeError as e:
            raise E.bad_request(f"error decoding patch: {e}") from e
        opts = self._write_options(request)
        assert rp.name is not None
        name = rp.name
        if rp.subresource == "scale":
            return self._json(await self._patch_scale(rt, ns, name, kind, patch_body, opts))
        sub = "status" if rp.subresource == "status" else ""

        if kind == "apply":
            if not request.query.get("fieldManager"):
                raise E.bad_request("PATCH requests with apply must specify fieldManager")
            if not isinstance(patch_body, dict):
                raise E.bad_request("the body of an apply patch must be an object")
            self._check_fields(rt, patch_body, opts)
            patch_body.setdefault("metadata", {})
            if rt.namespaced and ns:
                patch_body["metadata"].setdefault("namespace", ns)

            def apply(live: Obj | None) -> Obj:
                try:
                    return P.server_side_apply(live, patch_body, manager=opts.field_manager, schema=rt.schema,
                                               force=opts.force, api_version=rt.group_version,
                                               now=codec.now_rfc3339(), subresource=sub,
                                               reset_fields=status_reset_fields(rt, sub))
                except P.ApplyConflict as e:
                    raise E.ApiError(409, "Conflict", e.message, details={"causes": e.causes()}) from e
                except P.PatchError as e:
                    raise E.ApiError(getattr(e, "status", 422), "Invalid" if getattr(e, "status", 422) == 422
                                     else "BadRequest", str(e)) from e

            def create_new() -> Obj:
                return apply(None)

            obj = await self.objects.modify(rt, ns, name, apply, opts, subresource=sub, operation="Apply",
                                            create=None if sub else create_new)
            return self._respond(rt, obj, neg, request, 200, opts.warnings)

        def mutate(live: Obj) -> Obj:
            try:
                if kind == "json":
                    if not isinstance(patch_body, list):
                        raise E.bad_request("json patch must be a list of operations")
                    new = P.apply_json_patch(live, patch_body)
                elif kind == "merge":
                    new = P.apply_merge_patch(live, patch_body)
                else:
                    new = P.apply_strategic_merge_patch(live, patch_body, rt.schema)
            except P.PatchError as e:
                status = getattr(e, "status", 422)
                raise E.ApiError(status, "Invalid" if status == 422 else "BadRequest", str(e)) from e
            if kind != "json" and isinstance(patch_body, dict):
                self._check_fields(rt, new, opts)
            return new

        obj = await self.objects.modify(rt, ns, name, mutate, opts, subresource=sub)
        return self._respond(rt, obj, neg, request, 200, opts.warnings)

    async def _put_scale(self, rt: ResourceType, ns: str | None, name: str, body: Any, opts: WriteOptions) -> Obj:
        replicas = (body or {}).get("spec", {}).get("replicas")
        return await self._set_replicas(rt, ns, name, replicas, opts)

    async def _patch_scale(self, rt: ResourceType, ns: str | None, name: str, kind: str, patch_body: Any,
                           opts: WriteOptions) -> Obj:
        current = scale_of(await self.objects.get(rt, ns, name))
        if kind == "json":
            new = P.apply_json_patch(current, patch_body)
        else:
            new = P.apply_merge_patch(current, patch_body)
        return await self._set_replicas(rt, ns, name, new.get("spec", {}).get("replicas"), opts)

    async def _set_replicas(self, rt: ResourceType, ns: str | None, name: str, replicas: Any,
                            opts: WriteOptions) -> Obj:
        if not isinstance(replicas, int) or replicas < 0:
            raise E.ApiError(422, "Invalid", f'Scale.autoscaling "{name}" is invalid: spec.replicas: Invalid value: '
                             f"{replicas}: must be greater than or equal to 0")

        def mutate(live: Obj) -> None:
            live.setdefault("spec", {})["replicas"] = replicas

        obj = await self.objects.modify(rt, ns, name, mutate, opts)
        return scale_of(obj)

    async def _delete(self, request: web.Request, rt: ResourceType, ns: str | None, name: str,
                      neg: _Negotiated) -> web.Response:
        body = await self._body(request) if request.can_read_body else {}
        body = body if isinstance(body, dict) else {}
        q = request.query
        dry = bool(q.getall("dryRun", [])) or bool(body.get("dryRun"))  # DeleteOptions.dryRun: ["All"]
        policy = q.get("propagationPolicy") or body.get("propagationPolicy")
        obj, gone = await self.objects.delete(rt, ns, name, preconditions=body.get("preconditions"),
                                              dry_run=dry, propagation_policy=policy)
        return self._respond(rt, obj, neg, request, 200 if gone else 202)

    async def _delete_collection(self, request: web.Request, rt: ResourceType, ns: str | None,
                                 neg: _Negotiated) -> web.Response:
        q = request.query
        res = await self.objects.list(rt, ns, label_selector=q.get("labelSelector"),
                                      field_selector=q.get("fieldSelector"))
        dry = bool(q.getall("dryRun", []))
        deleted = []
        for obj in res.items:
            meta = obj["metadata"]
            try:
                d, _ = await self.objects.delete(rt, meta.get("namespace"), meta["name"], dry_run=dry,
                                                 propagation_policy=q.get("propagationPolicy"))
                deleted.append(d)
            except E.ApiError as e:
                if e.code != 404:
                    raise
        body = {"kind": rt.list_kind, "apiVersion": rt.group_version,
                "metadata": {"resourceVersion": str(self.objects.store.revision)}, "items": deleted}
        return self._json(body)


async def read_body(request: web.Request) -> bytes:
    """The request body. With a Content-Length (every client here sends one) exactly that many
    bytes are read, in one read; request.read() reads on to the end of the stream and copies the
    body twice. Chunked bodies are read by aiohttp as before, within client_max_size."""
    length = request.content_length
    if length is None:
        return await request.read()
    if length > MAX_BODY:
        raise E.too_large()
    if length == 0:
        return b""
    try:
        return await request.content.readexactly(length)
    except asyncio.IncompleteReadError as e:
        raise E.bad_request("the body of the request is shorter than its Content-Length") from e


def status_reset_fields(rt: ResourceType, subresource: str) -> list[tuple[str, ...]]:
    """Fields nobody owns through this endpoint: status on the main resource of a kind with a status
    subresource, and everything but status (spec) on /status, as kube-apiserver's field manager does."""
    if not rt.has_status:
        return []
    return [("spec",)] if subresource == "status" else [("status",)]


def scale_of(obj: Obj) -> Obj:
    """The autoscaling/v1 Scale view of a Deployment or ReplicaSet."""
    meta = obj["metadata"]
    selector = obj.get("spec", {}).get("selector", {}).get("matchLabels", {})
    return {
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                     if k in meta},
        "spec": {"replicas": obj.get("spec", {}).get("replicas", 0)},
        "status": {"replicas": obj.get("status", {}).get("replicas", 0),
                   "selector": ",".join(f"{k}={v}" for k, v in sorted(selector.items()))},
    }
