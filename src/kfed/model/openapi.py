"""The OpenAPI documents of a list of ResourceTypes: /openapi/v2 and /openapi/v3.

kubectl reads them: `kubectl explain` (v3), client-side apply's strategic-merge metadata (v3,
the PATCH operation must accept application/strategic-merge-patch+json), and the check whether
the server supports `fieldValidation` (a query parameter of the kind's PATCH operations in v3).

The kinds' schemas are inline; here the named types inside them (`x-kfed-type`) are hoisted
into `components/schemas` (v3) or `definitions` (v2) and referenced, as kube-apiserver does, so
`kubectl explain` prints `<ObjectMeta>`, `<[]ServicePort>` and `<IntOrString>`. Documents are
built once and serialized with sorted keys, so their hashes are stable.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kfed.model.resource import Obj, ResourceType
from kfed.model.schema import (
    GVK_EXTENSION,
    INT_OR_STRING,
    TYPE_MARKER,
    Schema,
    definition_name,
    is_int_or_string,
    is_quantity,
    type_name,
)
from kfed.model.schemas.autoscaling import SCALE_SCHEMA
from kfed.model.schemas.meta import delete_options, list_schema, status, watch_event

META = "io.k8s.apimachinery.pkg.apis.meta.v1"
STATUS_NAME = f"{META}.Status"
DELETE_OPTIONS_NAME = f"{META}.DeleteOptions"
WATCH_EVENT_NAME = f"{META}.WatchEvent"
PATCH_NAME = f"{META}.Patch"
SCALE_NAME = definition_name("autoscaling", "v1", "Scale")

PATCH_CONTENT_TYPES = (
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
)
JSON = "application/json"
WATCH_STREAM = "application/json;stream=watch"


# --- schema conversion ---------------------------------------------------------------------


class _Hoister:
    """Turns inline schemas into document schemas, collecting named types as definitions."""

    def __init__(self, flavor: str) -> None:
        self.flavor = flavor  # "v2" or "v3"
        self.definitions: dict[str, Schema] = {}

    def ref(self, name: str) -> str:
        prefix = "#/definitions/" if self.flavor == "v2" else "#/components/schemas/"
        return prefix + name

    def define(self, schema: Mapping[str, Any]) -> str:
        """Add a named schema (and the named types inside it) as a definition; return its name."""
        name = type_name(schema)
        if name is None:
            raise ValueError("only named schemas can be defined")
        marker = schema[TYPE_MARKER]
        body = self._convert_plain(schema)
        body["description"] = marker.get("description") or schema.get("description", "")
        known = self.definitions.get(name)
        if known is None:
            self.definitions[name] = body
        elif known != body:
            raise ValueError(f"two different schemas are both named {name}")
        return name

    def convert(self, schema: Mapping[str, Any], *, as_property: bool) -> Schema:
        """A sub-schema in document form: named types become references."""
        name = type_name(schema)
        if name is None:
            return self._convert_plain(schema)
        self.define(schema)
        ref = {"$ref": self.ref(name)}
        if not as_property:
            return ref
        description = schema.get("description", "")
        if description == schema[TYPE_MARKER].get("description"):
            description = ""  # the definition says it already; explain would print it twice
        if self.flavor == "v2":
            return {**ref, "description": description} if description else ref
        # OpenAPI 3.0 ignores siblings of $ref, hence allOf (kube-apiserver does the same).
        out: Schema = {"allOf": [ref]}
        if description:
            out["description"] = description
        return out

    def _convert_plain(self, schema: Mapping[str, Any]) -> Schema:
        out: Schema = {}
        for key, value in schema.items():
            if key == TYPE_MARKER:
                continue
            if key == "properties":
                out[key] = {k: self.convert(v, as_property=True) for k, v in value.items()}
            elif key in ("items", "additionalProperties") and isinstance(value, Mapping):
                out[key] = self.convert(value, as_property=False)
            else:
                out[key] = value
        if self.flavor == "v2":
            _to_swagger2(out)
        return out


def _to_swagger2(schema: Schema) -> None:
    """Swagger 2.0 has no anyOf: scalar unions become strings with a telling format."""
    if is_int_or_string(schema):
        schema.pop("anyOf", None)
        schema.pop(INT_OR_STRING, None)
        schema.update(type="string", format="int-or-string")
    elif is_quantity(schema):
        schema.pop("anyOf", None)
        schema.pop("format", None)
        schema["type"] = "string"


# --- operations ----------------------------------------------------------------------------

_QUERY_PARAMS: dict[str, tuple[str, str]] = {
    "allowWatchBookmarks": ("boolean", "Ask for BOOKMARK events in a watch; the server may "
                                       "still send none."),
    "continue": ("string", "Token from a previous page of the list, to fetch the next one."),
    "dryRun": ("string", "When All, process the request fully without persisting anything."),
    "fieldManager": ("string", "Name of the actor making the change, recorded in "
                               "managedFields."),
    "fieldSelector": ("string", "Only objects whose fields match, for example "
                                "metadata.name=nginx."),
    "fieldValidation": ("string", "What to do with unknown or duplicate fields in the body: "
                                  "Ignore, Warn (the default) or Strict."),
    "force": ("boolean", "For apply patches: take over fields other managers own."),
    "gracePeriodSeconds": ("integer", "Seconds before the object is deleted; zero means now."),
    "ignoreStoreReadErrorWithClusterBreakingPotential": (
        "boolean", "Delete an object even when it cannot be read from storage; dangerous."),
    "labelSelector": ("string", "Only objects whose labels match, for example app=nginx."),
    "limit": ("integer", "Largest number of items to return in one page."),
    "orphanDependents": ("boolean", "Deprecated: use propagationPolicy."),
    "pretty": ("string", "When true, indent the output."),
    "propagationPolicy": ("string", "What happens to dependents: Orphan, Background or "
                                    "Foreground."),
    "resourceVersion": ("string", "Which version of the data may be served; see the Kubernetes "
                                  "API concepts on resource versions."),
    "resourceVersionMatch": ("string", "How resourceVersion is matched: Exact or NotOlderThan."),
    "sendInitialEvents": ("boolean", "Start a watch with synthetic ADDED events for the current "
                                     "state."),
    "timeoutSeconds": ("integer", "End the list or watch call after this many seconds."),
    "watch": ("boolean", "Watch for changes instead of listing."),
}

_LIST_QUERY = ("allowWatchBookmarks", "continue", "fieldSelector", "labelSelector", "limit",
               "resourceVersion", "resourceVersionMatch", "sendInitialEvents", "timeoutSeconds",
               "watch")
_WRITE_QUERY = ("dryRun", "fieldManager", "fieldValidation")
_DELETE_QUERY = ("dryRun", "gracePeriodSeconds", "ignoreStoreReadErrorWithClusterBreakingPotential",
                 "orphanDependents", "propagationPolicy")
_DELETE_COLLECTION_QUERY = tuple(sorted(set(_DELETE_QUERY) | set(_LIST_QUERY) - {"watch",
                                                                                 "allowWatchBookmarks"}))


@dataclass(frozen=True)
class _Operation:
    method: str  # get, post, put, patch, delete
    action: str  # x-kubernetes-action
    operation_id: str
    description: str
    query: Sequence[str]
    body: str | None  # definition name of the request body; PATCH_NAME for patches
    responses: Mapping[str, str]  # status code -> definition name
    gvk: Mapping[str, str]
    watch: bool = False


@dataclass
class _PathItem:
    params: list[str]  # path parameters, in order
    operations: list[_Operation] = field(default_factory=list)


def _camel(group: str, version: str) -> str:
    """`CoreV1`, `AppsV1`, `CoordinationV1`, `FederationKfedIoV1beta1`: as kube operation ids."""
    if not group:
        name = "core"
    elif group.endswith(".k8s.io"):
        name = group[: -len(".k8s.io")]
    else:
        name = group
    words = name.replace("-", ".").split(".")
    return "".join(w[:1].upper() + w[1:] for w in words) + version[:1].upper() + version[1:]


def _tag(group: str, version: str) -> str:
    camel = _camel(group, version)
    name = camel[: -len(version)]
    return f"{name[:1].lower()}{name[1:]}_{version}"


def _prefix(group: str, version: str) -> str:
    return f"/api/{version}" if not group else f"/apis/{group}/{version}"


def _resource_paths(rt: ResourceType) -> dict[str, _PathItem]:
    gv = _camel(rt.group, rt.version)
    gvk = {"group": rt.group, "kind": rt.kind, "version": rt.version}
    kind_def = type_name(rt.schema) or definition_name(rt.group, rt.version, rt.kind)
    list_def = definition_name(rt.group, rt.version, rt.list_kind)
    verbs = set(rt.verbs)
    scope = "Namespaced" if rt.namespaced else ""
    base = _prefix(rt.group, rt.version)
    ns_part = "/namespaces/{namespace}" if rt.namespaced else ""
    ns_params = ["namespace"] if rt.namespaced else []
    collection = f"{base}{ns_part}/{rt.plural}"
    single = f"{collection}/{{name}}"
    kind = f"{scope}{rt.kind}"
    paths: dict[str, _PathItem] = {collection: _PathItem(ns_params), single: _PathItem(ns_params + ["name"])}

    def op(path: str, method: str, action: str, verb: str, description: str, query: Sequence[str],
           body: str | None, responses: Mapping[str, str], gvk_: Mapping[str, str] = gvk,
           watch: bool = False, suffix: str = "") -> None:
        paths[path].operations.append(_Operation(
            method, action, f"{verb}{gv}{kind}{suffix}", description, query, body, responses,
            gvk_, watch))

    what = rt.kind
    if "list" in verbs:
        op(collection, "get", "list", "list", f"List or watch {what} objects.", _LIST_QUERY, None,
           {"200": list_def})
    if "create" in verbs:
        op(collection, "post", "post", "create", f"Create a {what}.", _WRITE_QUERY, kind_def,
           {"200": kind_def, "201": kind_def, "202": kind_def})
    if "deletecollection" in verbs:
        paths[collection].operations.append(_Operation(
            "delete", "deletecollection", f"delete{gv}Collection{kind}",
            f"Delete a collection of {what} objects.", _DELETE_COLLECTION_QUERY,
            DELETE_OPTIONS_NAME, {"200": STATUS_NAME}, gvk))
    if "get" in verbs:
        op(single, "get", "get", "read", f"Read the named {what}.", (), None, {"200": kind_def})
    if "update" in verbs:
        op(single, "put", "put", "replace", f"Replace the named {what}.", _WRITE_QUERY, kind_def,
           {"200": kind_def, "201": kind_def})
    if "patch" in verbs:
        op(single, "patch", "patch", "patch", f"Partially update the named {what}.",
           _WRITE_QUERY + ("force",), PATCH_NAME, {"200": kind_def, "201": kind_def})
    if "delete" in verbs:
        op(single, "delete", "delete", "delete", f"Delete the named {what}.", _DELETE_QUERY,
           DELETE_OPTIONS_NAME, {"200": STATUS_NAME, "202": STATUS_NAME})

    for sub in sorted(rt.subresources):
        path = f"{single}/{sub}"
        paths[path] = _PathItem(ns_params + ["name"])
        if sub == "scale":
            target, target_gvk = SCALE_NAME, {"group": "autoscaling", "kind": "Scale", "version": "v1"}
            label = "scale"
        else:
            target, target_gvk, label = kind_def, gvk, sub
        suffix = sub[:1].upper() + sub[1:]
        op(path, "get", "get", "read", f"Read the {label} of the named {what}.", (), None,
           {"200": target}, target_gvk, suffix=suffix)
        op(path, "put", "put", "replace", f"Replace the {label} of the named {what}.", _WRITE_QUERY,
           target, {"200": target, "201": target}, target_gvk, suffix=suffix)
        op(path, "patch", "patch", "patch", f"Partially update the {label} of the named {what}.",
           _WRITE_QUERY + ("force",), PATCH_NAME, {"200": target, "201": target}, target_gvk,
           suffix=suffix)

    if "watch" in verbs:
        # The deprecated /watch/ paths; clients use ?watch=true on the list path instead.
        watch_base = f"{base}/watch{ns_part}/{rt.plural}"
        paths[watch_base] = _PathItem(list(ns_params))
        paths[watch_base].operations.append(_Operation(
            "get", "watchlist", f"watch{gv}{kind}List",
            f"Deprecated: watch changes to a list of {what} objects.", _LIST_QUERY, None,
            {"200": WATCH_EVENT_NAME}, gvk, watch=True))
        paths[f"{watch_base}/{{name}}"] = _PathItem(ns_params + ["name"])
        paths[f"{watch_base}/{{name}}"].operations.append(_Operation(
            "get", "watch", f"watch{gv}{kind}",
            f"Deprecated: watch changes to one {what}.", _LIST_QUERY, None,
            {"200": WATCH_EVENT_NAME}, gvk, watch=True))
    if rt.namespaced and "list" in verbs:
        everywhere = f"{base}/{rt.plural}"
        paths[everywhere] = _PathItem([])
        paths[everywhere].operations.append(_Operation(
            "get", "list", f"list{gv}{rt.kind}ForAllNamespaces",
            f"List or watch {what} objects in every namespace.", _LIST_QUERY, None,
            {"200": list_def}, gvk))
    return {p: item for p, item in paths.items() if item.operations}


def _query_param_v3(name: str) -> Obj:
    kind, description = _QUERY_PARAMS[name]
    return {"name": name, "in": "query", "description": description,
            "schema": {"type": kind, "uniqueItems": True}}


def _query_param_v2(name: str) -> Obj:
    kind, description = _QUERY_PARAMS[name]
    return {"name": name, "in": "query", "description": description, "type": kind,
            "uniqueItems": True}


def _path_params_v3(params: Sequence[str]) -> list[Obj]:
    out: list[Obj] = [{"name": p, "in": "path", "required": True,
                       "description": f"The {p} of the object." if p == "name" else
                       "The namespace of the object.",
                       "schema": {"type": "string", "uniqueItems": True}} for p in params]
    out.append(_query_param_v3("pretty"))
    return out


def _path_params_v2(params: Sequence[str]) -> list[Obj]:
    out: list[Obj] = [{"name": p, "in": "path", "required": True,
                       "description": f"The {p} of the object." if p == "name" else
                       "The namespace of the object.",
                       "type": "string", "uniqueItems": True} for p in params]
    out.append(_query_param_v2("pretty"))
    return out


def _operation_v3(op: _Operation, hoister: _Hoister, tag: str) -> Obj:
    produces = [JSON, WATCH_STREAM] if op.watch or op.action == "list" else [JSON]
    out: Obj = {
        "tags": [tag],
        "description": op.description,
        "operationId": op.operation_id,
        "responses": {
            code: {"description": _response_text(code),
                   "content": {ct: {"schema": {"$ref": hoister.ref(name)}} for ct in produces}}
            for code, name in op.responses.items()
        } | {"401": {"description": "Unauthorized"}},
        "x-kubernetes-action": op.action,
        GVK_EXTENSION: dict(op.gvk),
    }
    if op.query:
        out["parameters"] = [_query_param_v3(q) for q in op.query]
    if op.body == PATCH_NAME:
        out["requestBody"] = {"required": True, "content": {
            ct: {"schema": {"$ref": hoister.ref(PATCH_NAME)}} for ct in PATCH_CONTENT_TYPES}}
    elif op.body is not None:
        out["requestBody"] = {"required": op.body != DELETE_OPTIONS_NAME,
                              "content": {"*/*": {"schema": {"$ref": hoister.ref(op.body)}}}}
    return out


def _operation_v2(op: _Operation, hoister: _Hoister, tag: str) -> Obj:
    produces = [JSON, WATCH_STREAM] if op.watch or op.action == "list" else [JSON]
    params: list[Obj] = []
    if op.body is not None:
        params.append({"name": "body", "in": "body", "required": op.body != DELETE_OPTIONS_NAME,
                       "schema": {"$ref": hoister.ref(op.body)}})
    params.extend(_query_param_v2(q) for q in op.query)
    out: Obj = {
        "tags": [tag],
        "description": op.description,
        "operationId": op.operation_id,
        "consumes": list(PATCH_CONTENT_TYPES) if op.body == PATCH_NAME else ["*/*"],
        "produces": produces,
        "schemes": ["https"],
        "responses": {code: {"description": _response_text(code),
                             "schema": {"$ref": hoister.ref(name)}}
                      for code, name in op.responses.items()} | {"401": {"description": "Unauthorized"}},
        "x-kubernetes-action": op.action,
        GVK_EXTENSION: dict(op.gvk),
    }
    if params:
        out["parameters"] = params
    return out


def _response_text(code: str) -> str:
    return {"200": "OK", "201": "Created", "202": "Accepted"}.get(code, "Response")


def _patch_definition() -> Schema:
    return {"type": "object", "description": "A patch document; its format is given by the "
                                             "request's Content-Type."}


def _define_common(hoister: _Hoister, resources: Sequence[ResourceType],
                   group_versions: Iterable[tuple[str, str]]) -> None:
    for rt in resources:
        hoister.define(rt.schema)
        hoister.define(list_schema(rt.schema, rt.group, rt.version, rt.kind))
        if "scale" in rt.subresources:
            hoister.define(SCALE_SCHEMA)
    hoister.define(status())
    hoister.define(delete_options(list(dict.fromkeys([("", "v1"), *group_versions]))))
    hoister.define(watch_event())
    hoister.definitions[PATCH_NAME] = _patch_definition()


def _sorted(mapping: Mapping[str, Any]) -> dict[str, Any]:
    return {k: mapping[k] for k in sorted(mapping)}


# --- documents -----------------------------------------------------------------------------


def v3_path(group: str, version: str) -> str:
    """Key of a group-version in the /openapi/v3 index: `api/v1`, `apis/apps/v1`."""
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def _group_versions(resources: Sequence[ResourceType]) -> list[tuple[str, str]]:
    return list(dict.fromkeys((rt.group, rt.version) for rt in resources))


def build_v3_document(resources: Sequence[ResourceType], group: str, version: str, *,
                      title: str = "Kubernetes") -> Obj:
    """The OpenAPI 3.0 document of one group-version (served at /openapi/v3/<v3_path>)."""
    members = [rt for rt in resources if (rt.group, rt.version) == (group, version)]
    if not members:
        raise ValueError(f"no resources in {group or 'core'}/{version}")
    hoister = _Hoister("v3")
    _define_common(hoister, members, _group_versions(resources))
    tag = _tag(group, version)
    paths: dict[str, Obj] = {}
    for rt in members:
        for path, item in _resource_paths(rt).items():
            entry: Obj = {"parameters": _path_params_v3(item.params)}
            for op in item.operations:
                entry[op.method] = _operation_v3(op, hoister, tag)
            paths[path] = entry
    return {
        "openapi": "3.0.0",
        "info": {"title": title, "version": "unversioned"},
        "paths": _sorted(paths),
        "components": {
            "schemas": _sorted(hoister.definitions),
            "securitySchemes": {"BearerToken": {"type": "apiKey", "name": "authorization",
                                                "in": "header",
                                                "description": "Bearer token authentication"}},
        },
        "security": [{"BearerToken": []}],
    }


def build_v2_document(resources: Sequence[ResourceType], *, title: str = "Kubernetes",
                      version: str = "v1.32.0") -> Obj:
    """The Swagger 2.0 document of every resource (served at /openapi/v2)."""
    hoister = _Hoister("v2")
    _define_common(hoister, resources, _group_versions(resources))
    paths: dict[str, Obj] = {}
    for rt in resources:
        tag = _tag(rt.group, rt.version)
        for path, item in _resource_paths(rt).items():
            entry: Obj = {"parameters": _path_params_v2(item.params)}
            for op in item.operations:
                entry[op.method] = _operation_v2(op, hoister, tag)
            paths[path] = entry
    return {
        "swagger": "2.0",
        "info": {"title": title, "version": version},
        "paths": _sorted(paths),
        "definitions": _sorted(hoister.definitions),
        "securityDefinitions": {"BearerToken": {"type": "apiKey", "name": "authorization",
                                                "in": "header",
                                                "description": "Bearer token authentication"}},
        "security": [{"BearerToken": []}],
    }


def serialize(document: Obj) -> bytes:
    """Stable JSON bytes (sorted keys, compact), so the hash only changes with the content."""
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def document_hash(body: bytes) -> str:
    """kube-apiserver's form: upper-case hex SHA-512 of the served bytes."""
    return hashlib.sha512(body).hexdigest().upper()


@dataclass(frozen=True)
class OpenAPIV3Document:
    """One group-version's v3 document, serialized once."""

    path: str  # "api/v1", "apis/apps/v1"
    document: Obj
    body: bytes
    hash: str

    @property
    def server_relative_url(self) -> str:
        return f"/openapi/v3/{self.path}?hash={self.hash}"


@dataclass(frozen=True)
class OpenAPIDocuments:
    """Everything an API server serves under /openapi, built once from its resources."""

    v2: Obj
    v2_body: bytes
    v3: dict[str, OpenAPIV3Document]  # keyed by path ("api/v1")
    v3_index: Obj
    v3_index_body: bytes

    def v3_document(self, path: str) -> OpenAPIV3Document | None:
        """By the path after /openapi/v3/ (without the ?hash query)."""
        return self.v3.get(path.strip("/"))


def v3_index(documents: Iterable[OpenAPIV3Document]) -> Obj:
    """The /openapi/v3 discovery document."""
    return {"paths": {d.path: {"serverRelativeURL": d.server_relative_url}
                      for d in sorted(documents, key=lambda d: d.path)}}


def build_documents(resources: Sequence[ResourceType], *, title: str = "Kubernetes",
                    version: str = "v1.32.0") -> OpenAPIDocuments:
    v3: dict[str, OpenAPIV3Document] = {}
    for group, gv_version in _group_versions(resources):
        document = build_v3_document(resources, group, gv_version, title=title)
        body = serialize(document)
        path = v3_path(group, gv_version)
        v3[path] = OpenAPIV3Document(path, document, body, document_hash(body))
    v2 = build_v2_document(resources, title=title, version=version)
    index = v3_index(v3.values())
    return OpenAPIDocuments(v2=v2, v2_body=serialize(v2), v3=v3, v3_index=index,
                            v3_index_body=serialize(index))
