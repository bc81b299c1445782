"""Unknown-field detection, pruning and type checks for fieldValidation."""

from __future__ import annotations

import copy
from typing import Any

from kfed.model.fieldcheck import (
    check_types,
    find_unknown_fields,
    prune_unknown_fields,
    strict_decoding_error,
    unknown_field_warning,
)
from kfed.model.resource import CauseType
from kfed.model.schemas import CLUSTER_SCHEMA, DEPLOYMENT_SCHEMA, POD_SCHEMA, SERVICE_SCHEMA


def service(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "nginx", "namespace": "default", "labels": {"app": "nginx"}},
            "spec": {"ports": [{"port": 80, "targetPort": "http"}], "selector": {"app": "nginx"}, **spec}}


def test_a_valid_service_has_no_unknown_fields() -> None:
    obj = service(type="LoadBalancer")
    obj["status"] = {"loadBalancer": {"ingress": [{"ip": "127.0.0.5"}]}}
    assert find_unknown_fields(obj, SERVICE_SCHEMA) == []
    assert check_types(obj, SERVICE_SCHEMA) == []


def test_unknown_fields_are_reported_with_kube_paths_in_document_order() -> None:
    obj = service(foo=1)
    obj["spec"]["ports"].append({"port": 443, "bogus": True})
    obj["metadata"]["nope"] = "x"
    obj["extra"] = {}
    assert find_unknown_fields(obj, SERVICE_SCHEMA) == [
        "metadata.nope", "spec.ports[1].bogus", "spec.foo", "extra"]


def test_finding_does_not_change_the_object() -> None:
    obj = service(foo=1)
    before = copy.deepcopy(obj)
    find_unknown_fields(obj, SERVICE_SCHEMA)
    assert obj == before


def test_map_keys_are_never_unknown() -> None:
    obj = service()
    obj["metadata"]["annotations"] = {"federation.kfed.io/placement": "a,b", "anything": "goes"}
    assert find_unknown_fields(obj, SERVICE_SCHEMA) == []


def test_preserve_unknown_fields_keeps_free_form_content() -> None:
    obj = service()
    obj["metadata"]["managedFields"] = [{"manager": "kubectl", "operation": "Apply",
                                         "fieldsType": "FieldsV1",
                                         "fieldsV1": {"f:spec": {"f:ports": {"k:{\"port\":80}": {}}}}}]
    assert find_unknown_fields(obj, SERVICE_SCHEMA) == []


def test_nested_pod_template_paths() -> None:
    deploy = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
              "spec": {"selector": {"matchLabels": {"app": "web"}},
                       "template": {"metadata": {"labels": {"app": "web"}},
                                    "spec": {"containers": [
                                        {"name": "web", "image": "nginx",
                                         "ports": [{"containerPort": 80, "conatainerPort": 81}],
                                         "resources": {"limits": {"cpu": "1"}}}]}}}}
    assert find_unknown_fields(deploy, DEPLOYMENT_SCHEMA) == [
        "spec.template.spec.containers[0].ports[0].conatainerPort"]


def test_prune_removes_unknowns_and_reports_them() -> None:
    obj = service(foo=1)
    obj["spec"]["ports"][0]["bogus"] = 2
    assert prune_unknown_fields(obj, SERVICE_SCHEMA) == ["spec.ports[0].bogus", "spec.foo"]
    assert "foo" not in obj["spec"] and "bogus" not in obj["spec"]["ports"][0]
    assert obj["spec"]["ports"][0] == {"port": 80, "targetPort": "http"}
    assert find_unknown_fields(obj, SERVICE_SCHEMA) == []


def test_wrong_shapes_are_not_descended_into() -> None:
    obj = service()
    obj["spec"] = "not an object"
    assert find_unknown_fields(obj, SERVICE_SCHEMA) == []


def test_messages_in_kube_apiserver_form() -> None:
    assert strict_decoding_error(["spec.foo", "spec.ports[0].bogus"]) == (
        'strict decoding error: unknown field "spec.foo", unknown field "spec.ports[0].bogus"')
    assert unknown_field_warning("spec.foo") == 'unknown field "spec.foo"'


def test_type_errors_name_the_field() -> None:
    obj = service()
    obj["spec"]["ports"][0]["port"] = "eighty"
    obj["spec"]["publishNotReadyAddresses"] = "yes"
    obj["metadata"]["labels"]["n"] = 5
    causes = check_types(obj, SERVICE_SCHEMA)
    assert [(c.type, c.field, c.value) for c in causes] == [
        (CauseType.TYPE_INVALID, "metadata.labels[n]", "integer"),
        (CauseType.TYPE_INVALID, "spec.ports[0].port", "string"),
        (CauseType.TYPE_INVALID, "spec.publishNotReadyAddresses", "string"),
    ]
    assert causes[1].message == 'spec.ports[0].port in body must be of type integer: "string"'


def test_int_or_string_accepts_both_and_nothing_else() -> None:
    obj = service()
    obj["spec"]["ports"] = [{"port": 80, "targetPort": 8080}, {"port": 81, "targetPort": "web"},
                            {"port": 82, "targetPort": True}, {"port": 83, "targetPort": 1.5}]
    causes = check_types(obj, SERVICE_SCHEMA)
    assert [(c.field, c.value) for c in causes] == [("spec.ports[2].targetPort", "boolean"),
                                                    ("spec.ports[3].targetPort", "number")]


def test_booleans_floats_and_nulls() -> None:
    obj = service()
    obj["spec"]["ports"][0]["port"] = True
    obj["spec"]["healthCheckNodePort"] = 30000.0
    obj["spec"]["clusterIP"] = None  # null decodes to the zero value
    obj["status"] = None
    fields = [(c.field, c.value) for c in check_types(obj, SERVICE_SCHEMA)]
    assert fields == [("spec.ports[0].port", "boolean"), ("spec.healthCheckNodePort", "number")]


def test_object_and_array_mismatches() -> None:
    obj = service()
    obj["spec"]["ports"] = {"port": 80}
    obj["metadata"]["labels"] = ["a"]
    fields = [(c.field, c.value) for c in check_types(obj, SERVICE_SCHEMA)]
    assert fields == [("metadata.labels", "array"), ("spec.ports", "object")]


def test_quantities() -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"containers": [{"name": "c", "resources": {
               "limits": {"cpu": 1, "memory": "1Gi", "x": 0.5},
               "requests": {"cpu": "lots", "memory": True}}}]}}
    causes = check_types(pod, POD_SCHEMA)
    assert [(c.type, c.field) for c in causes] == [
        (CauseType.INVALID, "spec.containers[0].resources.requests[cpu]"),
        (CauseType.TYPE_INVALID, "spec.containers[0].resources.requests[memory]")]
    assert "quantities must match the regular expression" in causes[0].message


def test_cluster_types() -> None:
    cluster = {"apiVersion": "federation.kfed.io/v1beta1", "kind": "Cluster", "metadata": {"name": "c1"},
               "spec": {"serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": 6443}],
                        "zones": "us-east1-b"}}
    assert [(c.field, c.value) for c in check_types(cluster, CLUSTER_SCHEMA)] == [
        ("spec.serverAddressByClientCIDRs[0].serverAddress", "integer"), ("spec.zones", "string")]
    assert find_unknown_fields(cluster, CLUSTER_SCHEMA) == []
