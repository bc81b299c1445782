"""kfed.model.validation against kube-apiserver's own messages and field paths."""

from __future__ import annotations

import pytest

from kfed.model import validation as v
from kfed.model.resource import CauseType

DNS1035_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
               "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', "
               "regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")
DNS1123_LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
                     "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
                     "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
DNS1123_SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
                         "or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex "
                         "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")


def rendered(causes: list) -> list[str]:
    return [c.render() for c in causes]


# -- DNS names ----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["a", "abc", "a-b", "0", "123-abc", "a" * 63])
def test_dns1123_label_accepts(value: str) -> None:
    assert v.is_dns1123_label(value) == []


@pytest.mark.parametrize("value", ["", "-a", "a-", "A", "a_b", "a b", "abc\n"])
def test_dns1123_label_rejects_with_kube_message(value: str) -> None:
    assert v.is_dns1123_label(value) == [DNS1123_LABEL_MSG]


def test_dns1123_label_with_dots_and_length() -> None:
    assert v.is_dns1123_label("a.b") == ["must not contain dots"]
    assert v.is_dns1123_label("a" * 64) == ["must be no more than 63 characters"]


def test_dns1123_subdomain() -> None:
    assert v.is_dns1123_subdomain("example.com") == []
    assert v.is_dns1123_subdomain("a." * 126 + "a") == []
    assert v.is_dns1123_subdomain("Example.com") == [DNS1123_SUBDOMAIN_MSG]
    assert v.is_dns1123_subdomain("a..b") == [DNS1123_SUBDOMAIN_MSG]
    assert v.is_dns1123_subdomain("a" * 254) == ["must be no more than 253 characters"]
    assert v.is_dns1123_subdomain("-" * 254) == ["must be no more than 253 characters", DNS1123_SUBDOMAIN_MSG]


def test_dns1035_label_message_is_kube_apiservers() -> None:
    assert v.is_dns1035_label("my-svc") == []
    assert v.is_dns1035_label("1abc") == [DNS1035_MSG]
    assert v.is_dns1035_label("my.svc") == [DNS1035_MSG]
    assert v.is_dns1035_label("a" * 64) == ["must be no more than 63 characters"]


def test_generate_name_prefix_may_end_in_dash() -> None:
    assert v.name_is_dns_subdomain("web-", True) == []
    assert v.name_is_dns_subdomain("web-", False) == [DNS1123_SUBDOMAIN_MSG]
    assert v.name_is_dns1035_label("svc-", True) == []


def test_fully_qualified_domain_name() -> None:
    assert v.is_fully_qualified_domain_name("p", "db.example.com.") == []
    assert rendered(v.is_fully_qualified_domain_name("p", "localhost")) == [
        'p: Invalid value: "localhost": should be a domain with at least two segments separated by dots']
    assert rendered(v.is_fully_qualified_domain_name("p", "")) == ["p: Required value"]


# -- qualified names, label values, config keys -------------------------------------------------


@pytest.mark.parametrize("value", ["app", "example.com/app", "k8s.io/Name_1.x", "a" * 63])
def test_qualified_name_accepts(value: str) -> None:
    assert v.is_qualified_name(value) == []


def test_qualified_name_messages() -> None:
    assert v.is_qualified_name("/app") == ["prefix part must be non-empty"]
    assert v.is_qualified_name("Example.com/app") == ["prefix part " + DNS1123_SUBDOMAIN_MSG]
    assert v.is_qualified_name("a" * 64) == ["name part must be no more than 63 characters"]
    assert v.is_qualified_name("-app") == [
        "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
        "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
        "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"]
    assert v.is_qualified_name("a/b/c")[0].startswith("a qualified name must consist of")
    assert v.is_qualified_name("a/b/c")[0].endswith("with an optional DNS subdomain prefix and '/' "
                                                    "(e.g. 'example.com/MyName')")


def test_label_value() -> None:
    assert v.is_label_value("") == []
    assert v.is_label_value("v1.2_3-x") == []
    assert v.is_label_value("a" * 64) == ["must be no more than 63 characters"]
    assert v.is_label_value("bad value") == [
        "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
        "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used "
        "for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"]


def test_config_map_key() -> None:
    assert v.is_config_map_key("tls.crt") == []
    assert v.is_config_map_key("..data") == ["must not start with '..'"]
    assert v.is_config_map_key("..") == ["must not be '..'"]
    assert v.is_config_map_key("a/b")[0].startswith("a valid config key must consist of alphanumeric characters")


# -- ports ----------------------------------------------------------------------------------------


def test_port_numbers() -> None:
    assert v.is_valid_port_num(1) == [] and v.is_valid_port_num(65535) == []
    assert v.is_valid_port_num(0) == ["must be between 1 and 65535, inclusive"]
    assert v.is_valid_port_num(65536) == ["must be between 1 and 65535, inclusive"]


@pytest.mark.parametrize("name", ["http", "h2c", "my-port", "a" * 15])
def test_iana_port_names_accept(name: str) -> None:
    assert v.is_valid_port_name(name) == []


def test_iana_port_names_reject() -> None:
    assert v.is_valid_port_name("a" * 16) == ["must be no more than 15 characters"]
    assert v.is_valid_port_name("80") == ["must contain at least one letter (a-z)"]
    assert v.is_valid_port_name("Http") == ["must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"]
    assert v.is_valid_port_name("a--b") == ["must not contain consecutive hyphens"]
    assert v.is_valid_port_name("-ab") == ["must not begin or end with a hyphen"]


def test_port_num_or_name() -> None:
    assert v.validate_port_num_or_name("p", 8080) == []
    assert v.validate_port_num_or_name("p", "http") == []
    assert rendered(v.validate_port_num_or_name("p", 0)) == ["p: Invalid value: 0: must be between 1 and 65535, inclusive"]
    # a JSON string is a port name, even when it holds digits
    assert rendered(v.validate_port_num_or_name("p", "8080")) == [
        'p: Invalid value: "8080": must contain at least one letter (a-z)']


# -- IPs and CIDRs --------------------------------------------------------------------------------


def test_ip_addresses_parse_like_go() -> None:
    assert v.validate_ip("p", "10.0.0.1") == []
    assert v.validate_ip("p", "2001:db8::1") == []
    assert v.validate_ip("p", "010.000.000.001") == []  # ParseIPSloppy accepts leading zeros
    assert v.validate_ip("p", "::ffff:10.0.0.1") == []
    for bad in ("10.0.0", "10.0.0.256", "abc", "", " 10.0.0.1", "fe80::1%eth0", "10.0.0.1/32"):
        assert rendered(v.validate_ip("p", bad)) == [
            f'p: Invalid value: "{bad}": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)']


def test_ip_families() -> None:
    assert v.validate_ipv4("p", "1.2.3.4") == []
    assert rendered(v.validate_ipv4("p", "::1")) == ['p: Invalid value: "::1": must be a valid IPv4 address']
    assert v.validate_ipv6("p", "::1") == []
    assert rendered(v.validate_ipv6("p", "1.2.3.4")) == ['p: Invalid value: "1.2.3.4": must be a valid IPv6 address']


def test_cidrs() -> None:
    for good in ("10.0.0.0/8", "0.0.0.0/0", "10.1.2.3/24", "2001:db8::/64", "::/0"):
        assert v.validate_cidr("p", good) == [], good
    for bad in ("10.0.0.0", "10.0.0.0/33", "10.0.0.0/x", "2001:db8::/129", "/8"):
        assert rendered(v.validate_cidr("p", bad)) == [
            f'p: Invalid value: "{bad}": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)'], bad


def test_non_special_ips() -> None:
    assert v.validate_non_special_ip("p", "203.0.113.7") == []
    assert rendered(v.validate_non_special_ip("p", "127.0.0.1")) == [
        'p: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)']
    assert rendered(v.validate_non_special_ip("p", "0.0.0.0")) == [
        'p: Invalid value: "0.0.0.0": may not be unspecified (0.0.0.0)']
    assert rendered(v.validate_non_special_ip("p", "169.254.1.1")) == [
        'p: Invalid value: "169.254.1.1": may not be in the link-local range (169.254.0.0/16, fe80::/10)']
    assert rendered(v.validate_non_special_ip("p", "224.0.0.5")) == [
        'p: Invalid value: "224.0.0.5": may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)']


# -- labels, annotations, finalizers, owner references --------------------------------------------


def test_labels_report_the_map_path() -> None:
    causes = v.validate_labels({"app": "web", "bad key!": "x", "ok": "bad value"}, "metadata.labels")
    assert [c.field for c in causes] == ["metadata.labels", "metadata.labels"]
    assert causes[0].value == "bad key!" and causes[1].value == "bad value"


def test_annotation_keys_ignore_case_and_total_size() -> None:
    assert v.validate_annotations({"Example.COM/Key": "x"}, "metadata.annotations") == []
    big = {"a": "x" * (256 * 1024)}
    assert rendered(v.validate_annotations(big, "metadata.annotations")) == [
        "metadata.annotations: Too long: must have at most 262144 bytes"]
    assert v.validate_annotations({"a": "x" * (256 * 1024 - 1)}, "metadata.annotations") == []


def test_finalizers() -> None:
    assert v.validate_finalizers(["kubernetes", "example.com/cleanup"], "metadata.finalizers") == []
    assert rendered(v.validate_finalizers(["cleanup"], "metadata.finalizers")) == [
        'metadata.finalizers: Invalid value: "cleanup": name is neither a standard finalizer name nor is it '
        "fully qualified"]
    assert v.validate_finalizers(["cleanup"], "metadata.finalizers", builtin=False) == []
    both = v.validate_finalizers(["orphan", "foregroundDeletion"], "metadata.finalizers")
    assert rendered(both) == ['metadata.finalizers: Invalid value: []string{"orphan", "foregroundDeletion"}: '
                              "finalizer orphan and foregroundDeletion cannot be both set"]


def test_owner_references() -> None:
    good = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "1", "controller": True}]
    assert v.validate_owner_references(good, "metadata.ownerReferences") == []
    bad = [{"apiVersion": "", "kind": "", "name": "", "uid": ""}]
    assert [c.field for c in v.validate_owner_references(bad, "metadata.ownerReferences")] == [
        "metadata.ownerReferences.apiVersion", "metadata.ownerReferences.kind",
        "metadata.ownerReferences.name", "metadata.ownerReferences.uid"]
    two = good + [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs2", "uid": "2", "controller": True}]
    (cause,) = v.validate_owner_references(two, "metadata.ownerReferences")
    assert cause.message.endswith("Found \"true\" in references for ReplicaSet/rs and ReplicaSet/rs2")


def test_label_selector_validation_and_matching() -> None:
    sel = {"matchLabels": {"app": "web"},
           "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]},
                                {"key": "canary", "operator": "DoesNotExist"}]}
    assert v.validate_label_selector(sel, "spec.selector") == []
    assert v.label_selector_matches(sel, {"app": "web", "tier": "a"})
    assert not v.label_selector_matches(sel, {"app": "web", "tier": "c"})
    assert not v.label_selector_matches(sel, {"app": "web", "tier": "a", "canary": "1"})
    bad = {"matchExpressions": [{"key": "k", "operator": "In"}, {"key": "k", "operator": "Exists", "values": ["x"]},
                                {"key": "k", "operator": "Near"}]}
    assert rendered(v.validate_label_selector(bad, "spec.selector")) == [
        "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
        "spec.selector.matchExpressions[1].values: Forbidden: may not be specified when `operator` is 'Exists' or "
        "'DoesNotExist'",
        'spec.selector.matchExpressions[2].operator: Invalid value: "Near": not a valid selector operator']


# -- ObjectMeta -------------------------------------------------------------------------------------


def svc(**meta: object) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": dict(meta)}


def test_object_meta_name_rules_follow_the_kind() -> None:
    assert v.validate_object_meta(svc(name="web", namespace="default"), namespaced=True) == []
    assert rendered(v.validate_object_meta(svc(name="1web", namespace="default"), namespaced=True)) == [
        f'metadata.name: Invalid value: "1web": {DNS1035_MSG}']
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "1web.example", "namespace": "default"}}
    assert v.validate_object_meta(cm, namespaced=True) == []
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a.b"}}
    assert rendered(v.validate_object_meta(ns, namespaced=False)) == [
        'metadata.name: Invalid value: "a.b": must not contain dots']


def test_object_meta_required_and_scope() -> None:
    assert rendered(v.validate_object_meta(svc(namespace="default"), namespaced=True)) == [
        "metadata.name: Required value: name or generateName is required"]
    assert rendered(v.validate_object_meta(svc(name="web"), namespaced=True)) == ["metadata.namespace: Required value"]
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "namespace": "default"}}
    assert rendered(v.validate_object_meta(node, namespaced=False)) == [
        "metadata.namespace: Forbidden: not allowed on this type"]
    bad_ns = v.validate_object_meta(svc(name="web", namespace="Default"), namespaced=True)
    assert [(c.field, c.value) for c in bad_ns] == [("metadata.namespace", "Default")]


def test_object_meta_generate_name_and_metadata_parts() -> None:
    obj = svc(name="web-abcde", generateName="Web-", namespace="default", labels={"a": "b c"},
              annotations={"bad key": "v"}, finalizers=["mine"], generation=-1)
    fields = [(c.type, c.field) for c in v.validate_object_meta(obj, namespaced=True)]
    assert fields == [(CauseType.INVALID, "metadata.generateName"), (CauseType.INVALID, "metadata.generation"),
                      (CauseType.INVALID, "metadata.labels"), (CauseType.INVALID, "metadata.annotations"),
                      (CauseType.INVALID, "metadata.finalizers")]


def test_federation_kinds_may_use_unqualified_finalizers() -> None:
    cluster = {"apiVersion": "federation.kfed.io/v1beta1", "kind": "Cluster",
               "metadata": {"name": "c1", "finalizers": ["cleanup"]}}
    assert v.validate_object_meta(cluster, namespaced=False) == []


def test_object_meta_update_immutables() -> None:
    old = svc(name="web", namespace="default", uid="u1", creationTimestamp="2024-01-01T00:00:00Z")
    new = svc(name="web", namespace="default", uid="u2", creationTimestamp="2024-02-01T00:00:00Z")
    assert rendered(v.validate_object_meta(new, namespaced=True, old=old)) == [
        'metadata.uid: Invalid value: "u2": field is immutable',
        'metadata.creationTimestamp: Invalid value: "2024-02-01T00:00:00Z": field is immutable']
    same = svc(name="web", namespace="default", uid="u1", creationTimestamp="2024-01-01T00:00:00Z")
    assert v.validate_object_meta(same, namespaced=True, old=old) == []


def test_no_new_finalizers_while_deleting() -> None:
    old = svc(name="web", namespace="default", deletionTimestamp="2024-01-01T00:00:00Z", finalizers=["a.io/x"])
    new = svc(name="web", namespace="default", deletionTimestamp="2024-01-01T00:00:00Z",
              finalizers=["a.io/x", "a.io/y"])
    assert rendered(v.validate_object_meta_update(new["metadata"], old["metadata"])) == [
        'metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new '
        'finalizers []string{"a.io/y"}']


def test_go_values_print_like_fmt() -> None:
    assert str(v.go_string_map({"b": "2", "a": "1"})) == 'map[string]string{"a":"1", "b":"2"}'
    assert str(v.go_string_map(None)) == "map[string]string(nil)"
    assert str(v.go_label_selector({})) == ("v1.LabelSelector{MatchLabels:map[string]string(nil), "
                                            "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}")
    cause = v.invalid("spec.template.metadata.labels", v.go_string_map({"app": "x"}), "m")
    assert cause.render() == 'spec.template.metadata.labels: Invalid value: map[string]string{"app":"x"}: m'


def test_not_supported_lists_values_quoted() -> None:
    cause = v.not_supported("spec.type", "Foo", ("ClusterIP", "ExternalName"))
    assert cause.render() == 'spec.type: Unsupported value: "Foo": supported values: "ClusterIP", "ExternalName"'
