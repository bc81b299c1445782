"""The schema DSL builds the OpenAPI v3 shapes kube-openapi publishes."""

from __future__ import annotations

import json

import pytest

from kfed.model import schema as s


def test_scalars_carry_type_format_and_description() -> None:
    assert s.string("a name") == {"type": "string", "description": "a name"}
    assert s.string("p", enum=("TCP", "UDP")) == {"type": "string", "enum": ["TCP", "UDP"],
                                                   "description": "p"}
    assert s.int32("n") == {"type": "integer", "format": "int32", "description": "n"}
    assert s.int64("n", minimum=0)["minimum"] == 0
    assert s.boolean("b") == {"type": "boolean", "description": "b"}
    assert s.number("x") == {"type": "number", "format": "double", "description": "x"}
    assert s.byte_string("d")["format"] == "byte"


def test_every_builder_requires_a_description() -> None:
    with pytest.raises(ValueError):
        s.string("")
    with pytest.raises(ValueError):
        s.obj("", {})


def test_int_or_string_is_the_structural_form_and_named() -> None:
    schema = s.int_or_string("target port")
    assert schema[s.INT_OR_STRING] is True
    assert schema["anyOf"] == [{"type": "integer"}, {"type": "string"}]
    assert "type" not in schema
    assert s.type_name(schema) == "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
    assert s.is_int_or_string(schema)


def test_quantity_and_times() -> None:
    q = s.quantity("cpu")
    assert s.is_quantity(q) and s.type_name(q) == "io.k8s.apimachinery.pkg.api.resource.Quantity"
    t = s.date_time("when")
    assert t["type"] == "string" and t["format"] == "date-time"
    assert s.type_name(t) == "io.k8s.apimachinery.pkg.apis.meta.v1.Time"
    assert s.type_name(s.micro_time("when")) == "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime"


def test_object_with_required_fields_and_map_type() -> None:
    o = s.obj("ref", {"name": s.string("n")}, required=("name",), map_type=s.MapType.ATOMIC)
    assert o["type"] == "object"
    assert o["required"] == ["name"]
    assert o[s.MAP_TYPE] == "atomic"
    with pytest.raises(ValueError):
        s.obj("bad", {"a": s.string("a")}, required=("b",))


def test_maps_and_free_form() -> None:
    labels = s.string_map("labels", map_type=s.MapType.GRANULAR)
    assert labels["additionalProperties"] == {"type": "string"}
    assert labels[s.MAP_TYPE] == "granular"
    assert s.free_form("raw")[s.PRESERVE_UNKNOWN] is True


def test_keyed_list_sets_list_map_and_strategic_merge_extensions() -> None:
    ports = s.keyed_list(s.obj("port", {"port": s.int32("p"), "protocol": s.string("x")}), "ports",
                         keys=("port", "protocol"))
    assert ports["type"] == "array"
    assert ports[s.LIST_TYPE] == "map"
    assert ports[s.LIST_MAP_KEYS] == ["port", "protocol"]
    assert ports[s.PATCH_MERGE_KEY] == "port"
    assert ports[s.PATCH_STRATEGY] == "merge"


def test_list_type_rules() -> None:
    assert s.strings("f", list_type=s.ListType.SET, patch_strategy=s.PatchStrategy.MERGE) == {
        "type": "array", "items": {"type": "string"}, "description": "f",
        s.LIST_TYPE: "set", s.PATCH_STRATEGY: "merge"}
    assert s.atomic_list(s.string("x"), "xs")[s.LIST_TYPE] == "atomic"
    with pytest.raises(ValueError):
        s.array(s.string("x"), "xs", map_keys=("name",))
    with pytest.raises(ValueError):
        s.array(s.string("x"), "xs", list_type=s.ListType.MAP)


def test_doc_keeps_the_type_and_its_own_description() -> None:
    base = s.named("io.example.v1.Thing", s.obj("A thing.", {"a": s.string("a")}))
    field = s.doc(base, "The thing this field holds.")
    assert field["description"] == "The thing this field holds."
    assert base["description"] == "A thing."
    assert s.type_name(field) == "io.example.v1.Thing"
    assert field[s.TYPE_MARKER]["description"] == "A thing."


def test_gvk_extension_is_a_list_like_kube_openapi() -> None:
    tagged = s.with_gvk(s.obj("k", {}), "apps", "v1", "Deployment")
    assert s.gvk_of(tagged) == [{"group": "apps", "kind": "Deployment", "version": "v1"}]


@pytest.mark.parametrize(("group", "version", "kind", "name"), [
    ("", "v1", "Service", "io.k8s.api.core.v1.Service"),
    ("apps", "v1", "Deployment", "io.k8s.api.apps.v1.Deployment"),
    ("autoscaling", "v1", "Scale", "io.k8s.api.autoscaling.v1.Scale"),
    ("coordination.k8s.io", "v1", "Lease", "io.k8s.api.coordination.v1.Lease"),
    ("discovery.k8s.io", "v1", "EndpointSlice", "io.k8s.api.discovery.v1.EndpointSlice"),
    ("federation.kfed.io", "v1beta1", "Cluster", "io.kfed.federation.v1beta1.Cluster"),
])
def test_definition_names_follow_kubernetes(group: str, version: str, kind: str, name: str) -> None:
    assert s.definition_name(group, version, kind) == name


def test_walk_names_paths_through_lists_and_maps() -> None:
    schema = s.obj("root", {
        "spec": s.obj("spec", {"ports": s.atomic_list(s.obj("p", {"port": s.int32("n")}), "ps")}),
        "labels": s.string_map("l"),
    })
    paths = [p for p, _ in s.walk(schema)]
    assert paths == ["", "spec", "spec.ports", "spec.ports[]", "spec.ports[].port", "labels", "labels{}"]
    json.dumps(schema)  # plain JSON data
