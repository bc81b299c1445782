"""ServiceStrategy: defaulting, preparing, validation, table and field selectors, as kube-apiserver."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kfed.model.resource import CauseType, Obj
from kfed.model.strategies.core import ServiceStrategy
from kfed.model.validation import validate_object_meta

SERVICE_COLUMNS = [("Name", 0), ("Type", 0), ("Cluster-IP", 0), ("External-IP", 0), ("Port(s)", 0), ("Age", 0),
                   ("Selector", 1)]


def service(spec: dict[str, Any] | None = None, *, name: str = "nginx", **extra: Any) -> Obj:
    obj: Obj = {"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": name, "namespace": "default", "creationTimestamp": "2024-05-01T10:00:00Z"},
                "spec": spec if spec is not None else {"selector": {"run": "nginx"}, "ports": [{"port": 80}]}}
    obj.update(extra)
    return obj


def created(obj: Obj, strategy: ServiceStrategy | None = None) -> Obj:
    """What the API layer does on create before validating: default, then prepare."""
    s = strategy or ServiceStrategy()
    s.default(obj)
    s.prepare_for_create(obj)
    return obj


def errors(obj: Obj, strategy: ServiceStrategy | None = None) -> list[str]:
    s = strategy or ServiceStrategy()
    created(obj, s)
    return [c.render() for c in s.validate(obj)]


def updated(new: Obj, old: Obj, strategy: ServiceStrategy) -> list[str]:
    strategy.default(new)
    strategy.prepare_for_update(new, old)
    return [c.render() for c in strategy.validate(new) + strategy.validate_update(new, old)]


# -- defaulting --------------------------------------------------------------------------------------


def test_cluster_ip_service_defaults_and_no_allocation() -> None:
    obj = created(service())
    assert obj["spec"] == {
        "selector": {"run": "nginx"},
        "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],
        "type": "ClusterIP",
        "sessionAffinity": "None",
        "internalTrafficPolicy": "Cluster",
        "ipFamilyPolicy": "SingleStack",
    }
    assert "clusterIP" not in obj["spec"]  # the federation allocates no cluster IPs


def test_load_balancer_defaults() -> None:
    spec = created(service({"type": "LoadBalancer", "ports": [{"port": 443, "targetPort": "https"}]}))["spec"]
    assert spec["externalTrafficPolicy"] == "Cluster"
    assert spec["allocateLoadBalancerNodePorts"] is True
    assert spec["ports"][0]["targetPort"] == "https"  # a named target port is kept


def test_node_port_gets_external_traffic_policy_but_no_lb_fields() -> None:
    spec = created(service({"type": "NodePort", "ports": [{"port": 80}]}))["spec"]
    assert spec["externalTrafficPolicy"] == "Cluster"
    assert "allocateLoadBalancerNodePorts" not in spec


def test_external_ips_make_a_cluster_ip_service_externally_accessible() -> None:
    spec = created(service({"ports": [{"port": 80}], "externalIPs": ["203.0.113.9"]}))["spec"]
    assert spec["externalTrafficPolicy"] == "Cluster"


def test_target_port_zero_or_empty_defaults_to_port() -> None:
    spec = created(service({"ports": [{"port": 80, "targetPort": 0, "name": "a"},
                                      {"port": 81, "targetPort": "", "name": "b"}]}))["spec"]
    assert [p["targetPort"] for p in spec["ports"]] == [80, 81]


def test_session_affinity_client_ip_default_timeout() -> None:
    spec = created(service({"ports": [{"port": 80}], "sessionAffinity": "ClientIP"}))["spec"]
    assert spec["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 10800}}
    kept = created(service({"ports": [{"port": 80}], "sessionAffinity": "ClientIP",
                            "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}}}))["spec"]
    assert kept["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 60}}
    dropped = created(service({"ports": [{"port": 80}], "sessionAffinity": "None",
                               "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}}}))["spec"]
    assert "sessionAffinityConfig" not in dropped


def test_headless_keeps_none_and_fills_cluster_ips() -> None:
    obj = created(service({"clusterIP": "None", "selector": {"app": "db"}}))
    assert obj["spec"]["clusterIP"] == "None"
    assert obj["spec"]["clusterIPs"] == ["None"]
    assert ServiceStrategy().validate(obj) == []  # a headless service needs no ports


def test_external_name_gets_no_ip_fields() -> None:
    obj = created(service({"type": "ExternalName", "externalName": "db.example.com"}))
    assert "ipFamilyPolicy" not in obj["spec"] and "internalTrafficPolicy" not in obj["spec"]
    assert ServiceStrategy().validate(obj) == []


def test_allocating_cluster_defaults_ip_families() -> None:
    s = ServiceStrategy(allocates_ips=True)
    assert created(service(), s)["spec"]["ipFamilies"] == ["IPv4"]
    v6 = created(service({"ports": [{"port": 80}], "clusterIP": "fd00::10"}), s)
    assert v6["spec"]["ipFamilies"] == ["IPv6"]
    assert "ipFamilies" not in created(service())["spec"]  # the federation leaves families to members


def test_defaulting_is_idempotent() -> None:
    once = created(service({"type": "LoadBalancer", "ports": [{"port": 80}], "sessionAffinity": "ClientIP"}))
    twice = copy.deepcopy(once)
    ServiceStrategy().default(twice)
    assert twice == once


# -- validation ----------------------------------------------------------------------------------------


def test_valid_services_have_no_errors() -> None:
    assert errors(service()) == []
    assert errors(service({"type": "LoadBalancer", "selector": {"run": "nginx"},
                           "ports": [{"name": "http", "port": 80}, {"name": "https", "port": 443, "targetPort": "tls"}],
                           "loadBalancerSourceRanges": ["10.0.0.0/8", " 192.168.0.0/16 "]})) == []
    assert errors(service({"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]})) == []
    assert errors(service({"ports": [{"port": 53, "protocol": "UDP", "name": "dns"},
                                     {"port": 53, "protocol": "TCP", "name": "dns-tcp"}]})) == []


def test_name_must_be_a_dns1035_label() -> None:
    obj = created(service(name="1-nginx"))
    (cause,) = validate_object_meta(obj, namespaced=True)
    assert cause.render() == (
        "metadata.name: Invalid value: \"1-nginx\": a DNS-1035 label must consist of lower case alphanumeric "
        "characters or '-', start with an alphabetic character, and end with an alphanumeric character "
        "(e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")


def test_ports_required_unless_headless_or_external_name() -> None:
    assert errors(service({"selector": {"a": "b"}})) == ["spec.ports: Required value"]
    assert errors(service({"clusterIP": "None"})) == []
    assert errors(service({"type": "ExternalName", "externalName": "x.example.com"})) == []


def test_port_numbers_and_protocols() -> None:
    # port 0 also defaults targetPort to 0, and kube-apiserver reports both
    assert errors(service({"ports": [{"port": 0}]})) == [
        "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
        "spec.ports[0].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive"]
    assert errors(service({"ports": [{"port": 70000}]})) == [
        "spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive",
        "spec.ports[0].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive"]
    assert errors(service({"ports": [{"port": 80, "protocol": "HTTP"}]})) == [
        'spec.ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"']
    assert errors(service({"ports": [{"port": 80, "targetPort": 0}]})) == []  # defaulted to port
    assert errors(service({"ports": [{"port": 80, "targetPort": 99999}]})) == [
        "spec.ports[0].targetPort: Invalid value: 99999: must be between 1 and 65535, inclusive"]


def test_target_port_names_are_iana_service_names() -> None:
    assert errors(service({"ports": [{"port": 80, "targetPort": "web--http"}]})) == [
        'spec.ports[0].targetPort: Invalid value: "web--http": must not contain consecutive hyphens']
    assert errors(service({"ports": [{"port": 80, "targetPort": "8080"}]})) == [
        'spec.ports[0].targetPort: Invalid value: "8080": must contain at least one letter (a-z)']


def test_port_names_required_unique_and_dns_labels() -> None:
    assert errors(service({"ports": [{"port": 80}, {"port": 443}]})) == [
        "spec.ports[0].name: Required value", "spec.ports[1].name: Required value"]
    assert errors(service({"ports": [{"port": 80, "name": "web"}, {"port": 443, "name": "web"}]})) == [
        'spec.ports[1].name: Duplicate value: "web"']
    (msg,) = errors(service({"ports": [{"port": 80, "name": "Web"}]}))
    assert msg.startswith('spec.ports[0].name: Invalid value: "Web": a lowercase RFC 1123 label must consist of')


def test_duplicate_port_and_protocol_prints_like_kube_apiserver() -> None:
    # As `kubectl create svc clusterip two-ports --tcp 80:80,443,443` reports it.
    assert errors(service({"ports": [{"port": 80, "name": "80"}, {"port": 443, "name": "443"},
                                     {"port": 443, "name": "443"}]})) == [
        'spec.ports[2].name: Duplicate value: "443"',
        'spec.ports[2]: Duplicate value: core.ServicePort{Name:"", Protocol:"TCP", AppProtocol:(*string)(nil), '
        'Port:443, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}']


def test_type_must_be_supported() -> None:
    assert errors(service({"ports": [{"port": 80}], "type": "Ingress"})) == [
        'spec.type: Unsupported value: "Ingress": supported values: "ClusterIP", "ExternalName", "LoadBalancer", '
        '"NodePort"']


def test_external_name_rules() -> None:
    assert errors(service({"type": "ExternalName"})) == ["spec.externalName: Required value"]
    assert errors(service({"type": "ExternalName", "externalName": "db.example.com."})) == []
    (msg,) = errors(service({"type": "ExternalName", "externalName": "DB.example.com"}))
    assert msg.startswith('spec.externalName: Invalid value: "DB.example.com": a lowercase RFC 1123 subdomain')
    assert errors(service({"type": "ExternalName", "externalName": "db.example.com", "clusterIP": "10.0.0.1"})) == [
        "spec.clusterIPs: Forbidden: may not be set for ExternalName services"]


def test_headless_is_not_allowed_for_node_port_or_load_balancer() -> None:
    assert errors(service({"type": "LoadBalancer", "clusterIP": "None", "ports": [{"port": 80}]})) == [
        "spec.clusterIPs[0]: Invalid value: \"None\": may not be set to 'None' for LoadBalancer services"]
    assert errors(service({"type": "NodePort", "clusterIP": "None", "ports": [{"port": 80}]})) == [
        "spec.clusterIPs[0]: Invalid value: \"None\": may not be set to 'None' for NodePort services"]


def test_cluster_ip_must_be_an_ip_none_or_empty() -> None:
    assert errors(service({"ports": [{"port": 80}], "clusterIP": "10.96.0.10"})) == []
    assert errors(service({"ports": [{"port": 80}], "clusterIP": "abc"})) == [
        'spec.clusterIPs[0]: Invalid value: "abc": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)']
    assert errors(service({"ports": [{"port": 80}], "clusterIP": "10.0.0.1", "clusterIPs": ["10.0.0.2"]})) == [
        'spec.clusterIPs: Invalid value: []string{"10.0.0.2"}: first value must match `clusterIP`']
    assert errors(service({"ports": [{"port": 80}], "clusterIP": "10.0.0.1",
                           "clusterIPs": ["10.0.0.1", "10.0.0.2"]})) == [
        'spec.clusterIPs: Invalid value: []string{"10.0.0.1", "10.0.0.2"}: may specify no more than one IP for '
        "each IP family"]


def test_load_balancer_source_ranges() -> None:
    assert errors(service({"type": "LoadBalancer", "ports": [{"port": 80}],
                           "loadBalancerSourceRanges": ["10.0.0.0/33"]})) == [
        'spec.LoadBalancerSourceRanges[0]: Invalid value: "10.0.0.0/33": must be a valid CIDR value, '
        "(e.g. 10.9.8.0/24 or 2001:db8::/64)"]
    assert errors(service({"ports": [{"port": 80}], "loadBalancerSourceRanges": ["10.0.0.0/8"]})) == [
        "spec.LoadBalancerSourceRanges: Forbidden: may only be used when `type` is 'LoadBalancer'"]


def test_external_ips() -> None:
    assert errors(service({"ports": [{"port": 80}], "externalIPs": ["not-an-ip"]})) == [
        'spec.externalIPs[0]: Invalid value: "not-an-ip": must be a valid IP address, (e.g. 10.9.8.7 or '
        '2001:db8::ffff)']
    assert errors(service({"ports": [{"port": 80}], "externalIPs": ["127.0.0.5"]})) == [
        'spec.externalIPs[0]: Invalid value: "127.0.0.5": may not be in the loopback range (127.0.0.0/8, ::1/128)']
    lenient = ServiceStrategy(allow_special_external_ips=True)
    assert errors(service({"ports": [{"port": 80}], "externalIPs": ["127.0.0.5"]}), lenient) == []


def test_session_affinity() -> None:
    assert errors(service({"ports": [{"port": 80}], "sessionAffinity": "Sticky"})) == [
        'spec.sessionAffinity: Unsupported value: "Sticky": supported values: "ClientIP", "None"']
    assert errors(service({"ports": [{"port": 80}], "sessionAffinity": "ClientIP",
                           "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 90000}}})) == [
        "spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 90000: must be greater than 0 and "
        "less than 86400"]


def test_selector_labels_are_validated() -> None:
    (msg,) = errors(service({"ports": [{"port": 80}], "selector": {"app": "not ok"}}))
    assert msg.startswith('spec.selector: Invalid value: "not ok": a valid label must be an empty string')


def test_node_ports() -> None:
    assert errors(service({"ports": [{"port": 80, "nodePort": 30080}]})) == [
        "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"]
    assert errors(service({"type": "NodePort", "ports": [{"port": 80, "nodePort": 80}]})) == [
        "spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid "
        "ports is 30000-32767"]
    assert errors(service({"type": "NodePort", "ports": [{"port": 80, "nodePort": 30001, "name": "a"},
                                                         {"port": 81, "nodePort": 30001, "name": "b"}]})) == [
        "spec.ports[1].nodePort: Duplicate value: 30001"]
    wide = ServiceStrategy(node_port_range=(1, 65535))
    assert errors(service({"type": "NodePort", "ports": [{"port": 80, "nodePort": 80}]}), wide) == []


def test_traffic_policies() -> None:
    assert errors(service({"ports": [{"port": 80}], "externalTrafficPolicy": "Local"})) == [
        'spec.externalTrafficPolicy: Invalid value: "Local": may only be set for externally-accessible services']
    assert errors(service({"type": "LoadBalancer", "ports": [{"port": 80}], "externalTrafficPolicy": "Near"})) == [
        'spec.externalTrafficPolicy: Unsupported value: "Near": supported values: "Cluster", "Local"']
    assert errors(service({"ports": [{"port": 80}], "internalTrafficPolicy": "Near"})) == [
        'spec.internalTrafficPolicy: Unsupported value: "Near": supported values: "Cluster", "Local"']
    assert errors(service({"type": "LoadBalancer", "ports": [{"port": 80}], "externalTrafficPolicy": "Local"})) == []
    assert errors(service({"ports": [{"port": 80}], "healthCheckNodePort": 31000})) == [
        "spec.healthCheckNodePort: Invalid value: 31000: may only be set when `type` is 'LoadBalancer' and "
        "`externalTrafficPolicy` is 'Local'"]


def test_fields_only_for_load_balancers() -> None:
    assert errors(service({"ports": [{"port": 80}], "allocateLoadBalancerNodePorts": False})) == [
        "spec.allocateLoadBalancerNodePorts: Forbidden: may only be used when `type` is 'LoadBalancer'"]
    assert errors(service({"ports": [{"port": 80}], "loadBalancerClass": "example.com/lb"})) == [
        "spec.loadBalancerClass: Forbidden: may only be used when `type` is 'LoadBalancer'"]


def test_validation_without_defaulting_reports_what_defaulting_fills() -> None:
    raw = service({"ports": [{"port": 80}]})
    msgs = [c.render() for c in ServiceStrategy().validate(raw)]
    assert msgs == ["spec.ports[0].protocol: Required value", "spec.sessionAffinity: Required value",
                    "spec.type: Required value"]


def test_load_balancer_status_validation() -> None:
    obj = created(service({"type": "LoadBalancer", "ports": [{"port": 80}]}))
    obj["status"] = {"loadBalancer": {"ingress": [{"ip": "1.2.3"}, {"hostname": "10.0.0.1"}, {"ip": "1.2.3.4"}]}}
    msgs = [c.render() for c in ServiceStrategy().validate(obj)]
    assert msgs == [
        'status.loadBalancer.ingress[0].ip: Invalid value: "1.2.3": must be a valid IP address, (e.g. 10.9.8.7 or '
        '2001:db8::ffff)',
        "status.loadBalancer.ingress[0].ipMode: Required value: must be specified when `ip` is set",
        'status.loadBalancer.ingress[1].hostname: Invalid value: "10.0.0.1": must be a DNS name, not an IP address',
        "status.loadBalancer.ingress[2].ipMode: Required value: must be specified when `ip` is set"]


# -- preparing ----------------------------------------------------------------------------------------


def test_create_drops_status_and_generation() -> None:
    obj = service(status={"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}})
    obj["metadata"]["generation"] = 1
    created(obj)
    assert "status" not in obj
    assert "generation" not in obj["metadata"]  # Services have no generation in Kubernetes


def test_update_keeps_old_status_and_never_bumps_generation() -> None:
    s = ServiceStrategy()
    old = created(service())
    old["status"] = {"loadBalancer": {"ingress": [{"ip": "1.2.3.4", "ipMode": "VIP"}]}}
    new = service({"selector": {"run": "nginx"}, "ports": [{"port": 8080}]}, status={"loadBalancer": {}})
    assert updated(new, old, s) == []
    assert new["status"] == old["status"]
    assert s.changes_generation(new, old) is False


def test_status_update_keeps_spec_and_passes_metadata_and_defaults_ip_mode() -> None:
    s = ServiceStrategy()
    old = created(service())
    new = copy.deepcopy(old)
    new["spec"]["type"] = "LoadBalancer"
    new["metadata"]["labels"] = {"shard": "yes"}
    new["status"] = {"loadBalancer": {"ingress": [{"ip": "127.0.0.10"}, {"hostname": "lb.example.com"}]}}
    s.prepare_for_status_update(new, old)
    assert new["spec"] == old["spec"]
    assert new["metadata"]["labels"] == {"shard": "yes"}
    assert new["status"]["loadBalancer"]["ingress"] == [{"ip": "127.0.0.10", "ipMode": "VIP"},
                                                        {"hostname": "lb.example.com"}]
    assert s.validate(new) == []
    assert s.validate_status_update(new, old) == []


def test_status_update_checks_the_status_not_the_stored_spec() -> None:
    """ValidateServiceStatusUpdate: a cloud controller's status write is judged by its status alone."""
    s = ServiceStrategy()
    old = created(service({"type": "LoadBalancer", "ports": [{"port": 80}]}))
    old["spec"]["ports"] = []  # stored before a rule it breaks: not the status writer's business
    new = copy.deepcopy(old)
    new["status"] = {"loadBalancer": {"ingress": [{"ip": "1.2.3", "ipMode": "VIP"}]}}
    s.prepare_for_status_update(new, old)
    assert [c.render() for c in s.validate_status_update(new, old)] == [
        'status.loadBalancer.ingress[0].ip: Invalid value: "1.2.3": must be a valid IP address, (e.g. 10.9.8.7 or '
        '2001:db8::ffff)']
    assert any(c.field == "spec.ports" for c in s.validate(new))  # the full check would have refused it


def test_federation_keeps_cluster_ip_as_given_on_update() -> None:
    s = ServiceStrategy()
    old = created(service({"ports": [{"port": 80}], "clusterIP": "None"}))
    new = service({"ports": [{"port": 80}]})
    assert updated(new, old, s) == []
    assert "clusterIP" not in new["spec"] and "clusterIPs" not in new["spec"]


def test_allocating_cluster_carries_allocated_values_over() -> None:
    s = ServiceStrategy(allocates_ips=True)
    old = created(service({"type": "NodePort", "ports": [{"port": 80, "name": "http"}]}), s)
    old["spec"].update(clusterIP="10.96.0.7", clusterIPs=["10.96.0.7"])
    old["spec"]["ports"][0]["nodePort"] = 31234
    new = service({"type": "NodePort", "ports": [{"port": 80, "name": "http", "targetPort": 8080}]})
    assert updated(new, old, s) == []
    assert new["spec"]["clusterIP"] == "10.96.0.7" and new["spec"]["clusterIPs"] == ["10.96.0.7"]
    assert new["spec"]["ports"][0]["nodePort"] == 31234


def test_allocating_cluster_refuses_changing_a_cluster_ip() -> None:
    s = ServiceStrategy(allocates_ips=True)
    old = created(service({"ports": [{"port": 80}], "clusterIP": "10.96.0.7"}), s)
    new = service({"ports": [{"port": 80}], "clusterIP": "10.96.0.8"})
    assert updated(new, old, s) == [
        'spec.clusterIPs[0]: Invalid value: []string{"10.96.0.8"}: may not change once set']
    # the federation does not allocate, so the user's value may change
    fed = ServiceStrategy()
    changed = service({"ports": [{"port": 80}], "clusterIP": "10.96.0.8", "clusterIPs": ["10.96.0.8"]})
    assert updated(changed, old, fed) == []


def test_allocating_cluster_may_set_an_unset_cluster_ip_once() -> None:
    s = ServiceStrategy(allocates_ips=True)
    old = created(service(), s)
    new = copy.deepcopy(old)
    new["spec"]["clusterIP"] = "10.96.0.9"
    assert updated(new, old, s) == []
    assert new["spec"]["clusterIPs"] == ["10.96.0.9"]


def test_type_change_drops_type_dependent_fields() -> None:
    s = ServiceStrategy(allocates_ips=True)
    old = created(service({"type": "LoadBalancer", "ports": [{"port": 80}]}), s)
    old["spec"]["ports"][0]["nodePort"] = 31000
    new = copy.deepcopy(old)
    new["spec"]["type"] = "ClusterIP"
    assert updated(new, old, s) == []
    assert "nodePort" not in new["spec"]["ports"][0]
    assert "allocateLoadBalancerNodePorts" not in new["spec"]
    assert "externalTrafficPolicy" not in new["spec"]


def test_switch_to_external_name_drops_ip_fields() -> None:
    s = ServiceStrategy(allocates_ips=True)
    old = created(service({"ports": [{"port": 80}], "clusterIP": "10.96.0.7"}), s)
    new = copy.deepcopy(old)
    new["spec"].update(type="ExternalName", externalName="db.example.com")
    assert updated(new, old, s) == []
    for field in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
        assert field not in new["spec"], field


def test_load_balancer_class_may_not_change() -> None:
    s = ServiceStrategy()
    old = created(service({"type": "LoadBalancer", "ports": [{"port": 80}], "loadBalancerClass": "a.io/lb"}))
    new = service({"type": "LoadBalancer", "ports": [{"port": 80}], "loadBalancerClass": "b.io/lb"})
    assert updated(new, old, s) == ['spec.loadBalancerClass: Invalid value: "b.io/lb": may not change once set']


# -- table and field selectors --------------------------------------------------------------------------


def row(obj: Obj) -> list[Any]:
    return ServiceStrategy().table_row(created(obj))


def test_table_columns() -> None:
    cols = ServiceStrategy().table_columns()
    assert [(c.name, c.priority) for c in cols] == SERVICE_COLUMNS
    assert cols[5].type == "date"


def test_table_row_cluster_ip() -> None:
    assert row(service()) == ["nginx", "ClusterIP", "<none>", "<none>", "80/TCP", "2024-05-01T10:00:00Z",
                              "run=nginx"]


def test_table_row_headless_and_allocated() -> None:
    assert row(service({"clusterIP": "None", "ports": [{"port": 5432}]}))[2] == "None"
    assert row(service({"clusterIP": "10.96.0.1", "ports": [{"port": 443}]}))[2] == "10.96.0.1"


def test_table_row_load_balancer_pending_and_ingress() -> None:
    lb = service({"type": "LoadBalancer", "selector": {"b": "2", "a": "1"},
                  "ports": [{"port": 80, "nodePort": 30080}, {"port": 443, "protocol": "TCP", "name": "x"}]})
    cells = row(copy.deepcopy(lb))
    assert cells[3] == "<pending>"
    assert cells[4] == "80:30080/TCP,443/TCP"
    assert cells[6] == "a=1,b=2"
    with_ingress = created(copy.deepcopy(lb))
    with_ingress["status"] = {"loadBalancer": {"ingress": [
        {"ip": "104.199.136.89"}, {"hostname": "lb.example.com"}, {"ip": "104.197.246.190"},
        {"ip": "104.199.136.89"}]}}
    assert ServiceStrategy().table_row(with_ingress)[3] == "104.197.246.190,104.199.136.89,lb.example.com"
    with_ingress["spec"]["externalIPs"] = ["203.0.113.1"]
    assert ServiceStrategy().table_row(with_ingress)[3] == "104.197.246.190,104.199.136.89,lb.example.com,203.0.113.1"


def test_table_row_external_ips_and_external_name() -> None:
    assert row(service({"ports": [{"port": 80}], "externalIPs": ["203.0.113.1", "203.0.113.2"]}))[3] == \
        "203.0.113.1,203.0.113.2"
    cells = row(service({"type": "ExternalName", "externalName": "db.example.com"}))
    assert cells[1:5] == ["ExternalName", "<none>", "db.example.com", "<none>"]
    assert cells[6] == "<none>"


@pytest.mark.parametrize(("spec", "expected"), [
    ({"ports": [{"port": 80}]}, {"spec.clusterIP": "", "spec.type": "ClusterIP"}),
    ({"clusterIP": "None"}, {"spec.clusterIP": "None", "spec.type": "ClusterIP"}),
    ({"type": "LoadBalancer", "ports": [{"port": 80}]}, {"spec.clusterIP": "", "spec.type": "LoadBalancer"}),
])
def test_selectable_fields(spec: dict[str, Any], expected: dict[str, str]) -> None:
    assert ServiceStrategy().selectable_fields(created(service(spec))) == expected


def test_causes_are_typed() -> None:
    s = ServiceStrategy()
    obj = created(service({"ports": [{"port": 80}, {"port": 80}]}))
    types = [c.type for c in s.validate(obj)]
    assert types == [CauseType.REQUIRED, CauseType.REQUIRED, CauseType.DUPLICATE]
