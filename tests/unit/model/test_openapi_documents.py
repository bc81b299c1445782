"""Shape of the /openapi/v2 and /openapi/v3 documents built from the registry."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from kfed.model import schema as s
from kfed.model.openapi import (
    PATCH_CONTENT_TYPES,
    OpenAPIDocuments,
    build_documents,
    build_v2_document,
    build_v3_document,
    v3_path,
)
from kfed.model.registry import (
    CLUSTERS,
    DEPLOYMENTS,
    FEDERATION_RESOURCES,
    MEMBER_RESOURCES,
    NAMESPACES,
    SERVICES,
)

CORE = "io.k8s.api.core.v1"
META = "io.k8s.apimachinery.pkg.apis.meta.v1"


@pytest.fixture(scope="module")
def federation() -> OpenAPIDocuments:
    return build_documents(FEDERATION_RESOURCES)


@pytest.fixture(scope="module")
def member() -> OpenAPIDocuments:
    return build_documents(MEMBER_RESOURCES)


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def operations(doc: Mapping[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method in ("get", "put", "post", "patch", "delete"):
            if method in item:
                yield path, method, item[method]


def test_v3_index_points_at_hashed_documents(federation: OpenAPIDocuments) -> None:
    assert set(federation.v3) == {"api/v1", "apis/federation.kfed.io/v1beta1", "apis/coordination.k8s.io/v1"}
    index = json.loads(federation.v3_index_body)
    assert index == federation.v3_index
    for path, doc in federation.v3.items():
        assert doc.hash == hashlib.sha512(doc.body).hexdigest().upper()
        assert index["paths"][path] == {"serverRelativeURL": f"/openapi/v3/{path}?hash={doc.hash}"}
        assert json.loads(doc.body) == doc.document
    assert federation.v3_document("/apis/federation.kfed.io/v1beta1") is federation.v3[
        "apis/federation.kfed.io/v1beta1"]
    assert v3_path("", "v1") == "api/v1" and v3_path("apps", "v1") == "apis/apps/v1"


def test_documents_are_deterministic() -> None:
    again = build_documents(FEDERATION_RESOURCES)
    assert again.v3["api/v1"].hash == build_documents(FEDERATION_RESOURCES).v3["api/v1"].hash


def test_every_ref_resolves_and_private_markers_stay_private(federation: OpenAPIDocuments,
                                                             member: OpenAPIDocuments) -> None:
    for docs in (federation, member):
        for doc in docs.v3.values():
            schemas = doc.document["components"]["schemas"]
            for ref in refs(doc.document):
                assert ref.startswith("#/components/schemas/") and ref.split("/")[-1] in schemas, ref
            assert s.TYPE_MARKER.encode() not in doc.body
        for ref in refs(docs.v2):
            assert ref.startswith("#/definitions/") and ref.split("/")[-1] in docs.v2["definitions"], ref
        assert s.TYPE_MARKER.encode() not in docs.v2_body


def test_v3_components_carry_gvk_like_kubernetes(member: OpenAPIDocuments) -> None:
    for rt in MEMBER_RESOURCES:
        schemas = member.v3[v3_path(rt.group, rt.version)].document["components"]["schemas"]
        gvk = {"group": rt.group, "kind": rt.kind, "version": rt.version}
        matching = [name for name, sc in schemas.items() if gvk in sc.get(s.GVK_EXTENSION, [])]
        assert matching == [s.definition_name(rt.group, rt.version, rt.kind)]
        list_name = s.definition_name(rt.group, rt.version, rt.list_kind)
        assert schemas[list_name]["properties"]["items"]["items"] == {
            "$ref": f"#/components/schemas/{matching[0]}"}
    apps = member.v3["apis/apps/v1"].document["components"]["schemas"]
    assert apps["io.k8s.api.autoscaling.v1.Scale"][s.GVK_EXTENSION] == [
        {"group": "autoscaling", "kind": "Scale", "version": "v1"}]


def test_named_types_are_referenced(federation: OpenAPIDocuments) -> None:
    schemas = federation.v3["api/v1"].document["components"]["schemas"]
    service = schemas[f"{CORE}.Service"]
    assert service["properties"]["metadata"] == {
        "allOf": [{"$ref": f"#/components/schemas/{META}.ObjectMeta"}],
        "description": "Standard object metadata."}
    ports = schemas[f"{CORE}.ServiceSpec"]["properties"]["ports"]
    assert ports["items"] == {"$ref": f"#/components/schemas/{CORE}.ServicePort"}
    assert ports[s.PATCH_MERGE_KEY] == "port" and ports[s.LIST_MAP_KEYS] == ["port", "protocol"]
    target = schemas[f"{CORE}.ServicePort"]["properties"]["targetPort"]
    assert target["allOf"] == [{"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.util.intstr.IntOrString"}]
    int_or_string = schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]
    assert "type" not in int_or_string and int_or_string[s.INT_OR_STRING] is True
    assert schemas[f"{META}.Time"] == {"type": "string", "format": "date-time",
                                       "description": schemas[f"{META}.Time"]["description"]}


def _inline(node: Any, schemas: Mapping[str, Any]) -> Any:
    """Replace references by what they point at and drop descriptions: the inline schema's shape."""
    if isinstance(node, dict):
        if "$ref" in node:
            return _inline(schemas[node["$ref"].split("/")[-1]], schemas)
        if "allOf" in node and len(node["allOf"]) == 1:
            return _inline(node["allOf"][0], schemas)
        return {k: _inline(v, schemas) for k, v in node.items() if k != "description"}
    if isinstance(node, list):
        return [_inline(v, schemas) for v in node]
    return node


def _strip(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip(v) for k, v in node.items() if k not in ("description", s.TYPE_MARKER)}
    if isinstance(node, list):
        return [_strip(v) for v in node]
    return node


@pytest.mark.parametrize("rt", list(MEMBER_RESOURCES) + [CLUSTERS], ids=lambda rt: rt.kind)
def test_v3_component_is_the_inline_schema(rt: Any) -> None:
    doc = build_v3_document([rt], rt.group, rt.version)
    schemas = doc["components"]["schemas"]
    assert _inline(schemas[s.definition_name(rt.group, rt.version, rt.kind)], schemas) == _strip(rt.schema)


def test_paths_of_a_namespaced_kind_with_status(federation: OpenAPIDocuments) -> None:
    doc = federation.v3["api/v1"].document
    paths = doc["paths"]
    gvk = {"group": "", "kind": "Service", "version": "v1"}
    collection = paths["/api/v1/namespaces/{namespace}/services"]
    assert set(collection) == {"parameters", "get", "post", "delete"}
    assert collection["get"]["x-kubernetes-action"] == "list"
    assert collection["get"][s.GVK_EXTENSION] == gvk  # the kind, not ServiceList: kubectl explain needs it
    assert collection["get"]["operationId"] == "listCoreV1NamespacedService"
    assert collection["delete"]["operationId"] == "deleteCoreV1CollectionNamespacedService"
    single = paths["/api/v1/namespaces/{namespace}/services/{name}"]
    assert {p["name"] for p in single["parameters"]} == {"name", "namespace", "pretty"}
    assert set(single) == {"parameters", "get", "put", "patch", "delete"}
    assert single["get"]["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": f"#/components/schemas/{CORE}.Service"}
    status = paths["/api/v1/namespaces/{namespace}/services/{name}/status"]
    assert set(status) == {"parameters", "get", "put", "patch"}
    assert status["patch"]["operationId"] == "patchCoreV1NamespacedServiceStatus"
    assert paths["/api/v1/services"]["get"]["operationId"] == "listCoreV1ServiceForAllNamespaces"
    assert "/api/v1/watch/namespaces/{namespace}/services/{name}" in paths


def test_paths_of_cluster_scoped_kinds(federation: OpenAPIDocuments) -> None:
    fed = federation.v3["apis/federation.kfed.io/v1beta1"].document["paths"]
    assert "/apis/federation.kfed.io/v1beta1/clusters/{name}/status" in fed
    op = fed["/apis/federation.kfed.io/v1beta1/clusters/{name}"]["get"]
    assert op["operationId"] == "readFederationKfedIoV1beta1Cluster"
    assert op[s.GVK_EXTENSION] == {"group": "federation.kfed.io", "kind": "Cluster", "version": "v1beta1"}
    assert "/apis/federation.kfed.io/v1beta1/dnsrecordsets/{name}/status" not in fed
    core = federation.v3["api/v1"].document["paths"]
    assert "delete" not in core["/api/v1/namespaces"]  # no deletecollection for namespaces
    assert "namespace" not in {p["name"] for p in core["/api/v1/namespaces/{name}"]["parameters"]}
    assert NAMESPACES.plural == "namespaces"


def test_writes_support_field_validation_and_patches_strategic_merge(member: OpenAPIDocuments,
                                                                     federation: OpenAPIDocuments) -> None:
    """kubectl decides from these whether to send ?fieldValidation= and how to compute apply patches."""
    for docs in (member, federation):
        for doc in docs.v3.values():
            for path, method, op in operations(doc.document):
                query = {p["name"] for p in op.get("parameters", []) if p["in"] == "query"}
                if method in ("post", "put", "patch"):
                    assert {"fieldValidation", "fieldManager", "dryRun"} <= query, (path, method)
                if method == "patch":
                    assert set(op["requestBody"]["content"]) == set(PATCH_CONTENT_TYPES)
                    assert "force" in query
                assert s.GVK_EXTENSION in op and "x-kubernetes-action" in op


def test_scale_subresource(member: OpenAPIDocuments) -> None:
    paths = member.v3["apis/apps/v1"].document["paths"]
    scale = paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]
    assert scale["get"][s.GVK_EXTENSION] == {"group": "autoscaling", "kind": "Scale", "version": "v1"}
    assert scale["put"]["operationId"] == "replaceAppsV1NamespacedDeploymentScale"
    assert scale["patch"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "io.k8s.api.autoscaling.v1.Scale")
    assert "scale" in DEPLOYMENTS.subresources


def test_v2_document(member: OpenAPIDocuments) -> None:
    v2 = member.v2
    assert v2["swagger"] == "2.0"
    assert json.loads(member.v2_body) == v2
    definitions = v2["definitions"]
    assert definitions[f"{CORE}.Service"][s.GVK_EXTENSION] == [{"group": "", "kind": "Service", "version": "v1"}]
    assert definitions["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["type"] == "string"
    assert definitions["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["format"] == "int-or-string"
    assert definitions["io.k8s.apimachinery.pkg.api.resource.Quantity"]["type"] == "string"
    assert b'"anyOf"' not in member.v2_body and b'"allOf"' not in member.v2_body
    metadata = definitions[f"{CORE}.Pod"]["properties"]["metadata"]
    assert metadata == {"$ref": f"#/definitions/{META}.ObjectMeta", "description": "Standard object metadata."}
    patch = v2["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert "application/strategic-merge-patch+json" in patch["consumes"]
    assert patch["parameters"][0] == {"name": "body", "in": "body", "required": True,
                                      "schema": {"$ref": f"#/definitions/{META}.Patch"}}
    assert any(p["name"] == "fieldValidation" for p in patch["parameters"])


def test_v2_for_the_federation_has_cluster_definitions() -> None:
    v2 = build_v2_document([SERVICES, CLUSTERS])
    assert "io.kfed.federation.v1beta1.Cluster" in v2["definitions"]
    assert "io.kfed.federation.v1beta1.ClusterList" in v2["definitions"]
    assert "/apis/federation.kfed.io/v1beta1/clusters" in v2["paths"]


def test_unknown_group_version_is_refused() -> None:
    with pytest.raises(ValueError):
        build_v3_document(FEDERATION_RESOURCES, "apps", "v1")
