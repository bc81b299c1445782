"""Cluster, DNSRecordSet, Lease and EndpointSlice strategies."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kfed.model.resource import Obj, Strategy
from kfed.model.strategies.coordination import LeaseStrategy
from kfed.model.strategies.discovery import EndpointSliceStrategy
from kfed.model.strategies.federation import ClusterStrategy, DNSRecordSetStrategy

TS = "2024-05-01T10:00:00Z"


def fed(kind: str, spec: dict[str, Any], **extra: Any) -> Obj:
    return {"apiVersion": "federation.kfed.io/v1beta1", "kind": kind,
            "metadata": {"name": "c1", "creationTimestamp": TS, "generation": 1}, "spec": spec, **extra}


def create(strategy: Strategy, o: Obj) -> list[str]:
    strategy.default(o)
    strategy.prepare_for_create(o)
    return [c.render() for c in strategy.validate(o)]


# -- Cluster ----------------------------------------------------------------------------------------


def cluster(**spec: Any) -> Obj:
    base: dict[str, Any] = {"serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                                           "serverAddress": "https://127.0.0.1:6443"}],
                            "secretRef": {"name": "c1-kubeconfig"}}
    base.update(spec)
    return fed("Cluster", base)


def test_cluster_valid_and_status_dropped_on_create() -> None:
    c = cluster(region="us-central1", zones=["us-central1-a"])
    c["status"] = {"conditions": [{"type": "Ready", "status": "True"}]}
    assert create(ClusterStrategy(), c) == []
    assert "status" not in c and c["metadata"]["generation"] == 1


def test_cluster_validation() -> None:
    c = cluster(serverAddressByClientCIDRs=[{"clientCIDR": "10.0.0.0/33", "serverAddress": "ftp://x"},
                                            {"serverAddress": ""}],
                secretRef={}, region="US_Central")
    msgs = create(ClusterStrategy(), c)
    assert msgs[:4] == [
        'spec.serverAddressByClientCIDRs[0].clientCIDR: Invalid value: "10.0.0.0/33": must be a valid CIDR value, '
        "(e.g. 10.9.8.0/24 or 2001:db8::/64)",
        'spec.serverAddressByClientCIDRs[0].serverAddress: Invalid value: "ftp://x": must be a valid URL with scheme '
        "http or https and a host (e.g. 'https://10.0.0.1:6443')",
        "spec.serverAddressByClientCIDRs[1].clientCIDR: Required value",
        "spec.serverAddressByClientCIDRs[1].serverAddress: Required value"]
    assert msgs[4] == "spec.secretRef.name: Required value"
    assert msgs[5].startswith('spec.region: Invalid value: "US_Central": a lowercase RFC 1123 label')
    assert create(ClusterStrategy(), cluster(serverAddressByClientCIDRs=[])) == [
        "spec.serverAddressByClientCIDRs: Required value"]


def test_cluster_table() -> None:
    s = ClusterStrategy()
    assert [(c.name, c.priority) for c in s.table_columns()] == [
        ("Name", 0), ("Ready", 0), ("Region", 0), ("Zones", 0), ("Age", 0), ("Server", 1), ("Reason", 1)]
    c = cluster()
    c["status"] = {"conditions": [{"type": "Offline", "status": "False"},
                                  {"type": "Ready", "status": "False", "reason": "ClusterNotReachable"}],
                   "region": "europe-west1", "zones": ["europe-west1-b", "europe-west1-c"]}
    assert s.table_row(c) == ["c1", "False", "europe-west1", "europe-west1-b,europe-west1-c", TS,
                              "https://127.0.0.1:6443", "ClusterNotReachable"]
    fresh = cluster(region="us-east1", zone="us-east1-b",
                    serverAddressByClientCIDRs=[{"clientCIDR": "10.0.0.0/8", "serverAddress": "https://10.0.0.1"},
                                                {"clientCIDR": "0.0.0.0/0", "serverAddress": "https://1.2.3.4"}])
    assert s.table_row(fresh) == ["c1", "Unknown", "us-east1", "us-east1-b", TS, "https://1.2.3.4", "<none>"]


def test_cluster_generation_and_status_update() -> None:
    s = ClusterStrategy()
    old = cluster()
    create(s, old)
    new = copy.deepcopy(old)
    new["spec"]["region"] = "r1"
    assert s.changes_generation(new, old)
    status_only = copy.deepcopy(old)
    status_only["status"] = {"conditions": [{"type": "Ready", "status": "True"}]}
    status_only["spec"]["region"] = "ignored"
    s.prepare_for_status_update(status_only, old)
    assert status_only["spec"] == old["spec"] and status_only["status"]["conditions"][0]["status"] == "True"
    assert not s.changes_generation(status_only, old)


# -- DNSRecordSet ----------------------------------------------------------------------------------------


def record_set(*records: dict[str, Any], name: str = "nginx.default.fed.svc.example.com.",
               zone: str = "example.com.") -> Obj:
    """Records at `name` unless a record names its own."""
    return fed("DNSRecordSet", {"zone": zone, "records": [{"name": name, **r} for r in records]})


def test_record_set_valid_and_ttl_default() -> None:
    rs = record_set({"type": "A", "data": ["104.197.246.190", "130.211.57.243"]},
                    {"type": "AAAA", "ttl": 60, "data": ["2001:db8::1"]},
                    {"type": "TXT", "data": ['"heritage=kfed"']},
                    {"name": "nginx.default.fed.svc.us-central1-f.example.com.", "type": "CNAME",
                     "data": ["nginx.default.fed.svc.example.com."]})
    assert create(DNSRecordSetStrategy(), rs) == []
    assert [r["ttl"] for r in rs["spec"]["records"]] == [180, 60, 180, 180]
    other = record_set({"type": "MX", "data": ["10 mail.example.com."]},
                       {"type": "SRV", "data": ["10 5 443 www.example.com."]},
                       {"type": "CAA", "data": ['0 issue "letsencrypt.org"']}, name="_sip._tcp.example.com.")
    assert create(DNSRecordSetStrategy(), other) == []


def test_record_set_names() -> None:
    assert create(DNSRecordSetStrategy(), record_set({"type": "A", "data": ["1.2.3.4"]}, name="www.example.com")) == [
        "spec.records[0].name: Invalid value: \"www.example.com\": must be a fully qualified domain name ending in '.'"]
    assert create(DNSRecordSetStrategy(), record_set({"type": "A", "data": ["1.2.3.4"]}, name="www.other.org.")) == [
        "spec.records[0].name: Invalid value: \"www.other.org.\": must be inside zone 'example.com.'"]
    assert create(DNSRecordSetStrategy(), record_set({"type": "A", "data": ["1.2.3.4"]},
                                                     name="*.example.com.")) == []
    assert create(DNSRecordSetStrategy(), fed("DNSRecordSet", {"zone": "example.com.", "records": [
        {"type": "A", "data": ["1.2.3.4"]}]})) == ["spec.records[0].name: Required value"]
    assert create(DNSRecordSetStrategy(), fed("DNSRecordSet", {"zone": "example.com."})) == [
        "spec.records: Required value"]


def test_record_set_records() -> None:
    rs = record_set({"type": "A", "data": ["2001:db8::1"]}, {"type": "AAAA", "data": ["1.2.3.4"]},
                    {"type": "SPF", "data": ["x"]}, {"type": "A", "ttl": -1, "data": ["1.2.3.4"]},
                    {"name": "NGINX.default.fed.svc.example.com.", "type": "A", "data": ["1.2.3.4"]},
                    {"name": "other.example.com.", "type": "A", "data": ["1.2.3.4"]})
    assert create(DNSRecordSetStrategy(), rs) == [
        'spec.records[0].data[0]: Invalid value: "2001:db8::1": must be a valid IPv4 address',
        'spec.records[1].data[0]: Invalid value: "1.2.3.4": must be a valid IPv6 address',
        'spec.records[2].type: Unsupported value: "SPF": supported values: "A", "AAAA", "CAA", "CNAME", "MX", "NS", '
        '"PTR", "SRV", "TXT"',
        'spec.records[3]: Duplicate value: map[string]interface {}{"name":"nginx.default.fed.svc.example.com.", '
        '"type":"A"}',
        "spec.records[3].ttl: Invalid value: -1: must be between 0 and 2147483647, inclusive",
        'spec.records[4]: Duplicate value: map[string]interface {}{"name":"NGINX.default.fed.svc.example.com.", '
        '"type":"A"}']


def test_record_set_cname() -> None:
    two = record_set({"type": "CNAME", "data": ["a.example.com.", "b.example.com."]})
    assert create(DNSRecordSetStrategy(), two) == [
        'spec.records[0].data: Invalid value: []string{"a.example.com.", "b.example.com."}: a CNAME record set '
        "must hold exactly one target"]
    assert create(DNSRecordSetStrategy(), record_set({"type": "CNAME", "data": ["a.example.com."]})) == []
    mixed = record_set({"type": "CNAME", "data": ["a.example.com."]}, {"type": "A", "data": ["1.2.3.4"]},
                       {"name": "a.example.com.", "type": "A", "data": ["1.2.3.4"]})
    assert create(DNSRecordSetStrategy(), mixed) == [
        'spec.records: Invalid value: []string{"A", "CNAME"}: a CNAME may not share its name '
        "(nginx.default.fed.svc.example.com.) with other record types"]


def test_record_set_table() -> None:
    s = DNSRecordSetStrategy()
    rs = record_set({"type": "A", "data": ["1.2.3.4"]}, {"type": "TXT", "data": ["x"]},
                    {"name": "b.example.com.", "type": "A", "data": ["1.2.3.4"]})
    assert [(c.name, c.type, c.priority) for c in s.table_columns()] == [
        ("Name", "string", 0), ("Zone", "string", 0), ("Names", "integer", 0), ("Records", "integer", 0),
        ("Age", "date", 0)]
    assert s.table_row(rs) == ["c1", "example.com.", 2, 3, TS]
    assert s.selectable_fields(rs) == {"spec.zone": "example.com."}


# -- Lease --------------------------------------------------------------------------------------------------


def test_lease() -> None:
    s = LeaseStrategy()
    lease: Obj = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
             "metadata": {"name": "kfed-controller-manager", "namespace": "federation-system",
                          "creationTimestamp": TS, "generation": 1},
             "spec": {"holderIdentity": "host-1_abc", "leaseDurationSeconds": 15, "leaseTransitions": 0}}
    assert create(s, lease) == []
    assert "generation" not in lease["metadata"]
    assert s.table_row(lease) == ["kfed-controller-manager", "host-1_abc", TS]
    assert [c.name for c in s.table_columns()] == ["Name", "Holder", "Age"]
    lease["spec"].update(leaseDurationSeconds=0, leaseTransitions=-1)
    assert [c.render() for c in s.validate(lease)] == [
        "spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0",
        "spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0"]


# -- EndpointSlice --------------------------------------------------------------------------------------------


def slice_(address_type: str | None = "IPv4", n: int = 2, **extra: Any) -> Obj:
    obj: Obj = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                "metadata": {"name": "nginx-abc", "namespace": "default", "creationTimestamp": TS, "generation": 1},
                "endpoints": [{"addresses": [f"10.1.0.{i}"], "conditions": {"ready": True}, "zone": "z1"}
                              for i in range(1, n + 1)],
                "ports": [{"name": "http", "port": 80}], **extra}
    if address_type is not None:
        obj["addressType"] = address_type
    return obj


def test_endpoint_slice_defaults_and_table() -> None:
    s = EndpointSliceStrategy()
    es = slice_(n=5)
    assert create(s, es) == []
    assert es["ports"] == [{"name": "http", "port": 80, "protocol": "TCP"}]
    assert [c.name for c in s.table_columns()] == ["Name", "AddressType", "Ports", "Endpoints", "Age"]
    assert s.table_row(es) == ["nginx-abc", "IPv4", "80", "10.1.0.1,10.1.0.2,10.1.0.3 + 2 more...", TS]
    empty = slice_(n=0, ports=[])
    assert s.table_row(empty)[2:4] == ["<unset>", "<unset>"]


def test_endpoint_slice_validation() -> None:
    s = EndpointSliceStrategy()
    assert create(s, slice_(None)) == ["addressType: Required value"]
    bad = slice_()
    bad["endpoints"].append({"addresses": []})
    bad["endpoints"].append({"addresses": ["fd00::1"]})
    assert create(s, bad) == [
        "endpoints[2].addresses: Required value: must contain at least 1 address",
        'endpoints[3].addresses[0]: Invalid value: "fd00::1": must be a valid IPv4 address']
    fqdn = slice_("FQDN")
    fqdn["endpoints"] = [{"addresses": ["db.example.com"]}]
    assert create(s, fqdn) == []
    loop = slice_()
    loop["endpoints"] = [{"addresses": ["127.0.0.1"]}]
    assert create(s, loop) == [
        'endpoints[0].addresses[0]: Invalid value: "127.0.0.1": may not be in the loopback range '
        "(127.0.0.0/8, ::1/128)"]
    assert create(EndpointSliceStrategy(allow_special_ips=True), slice_()) == []


def test_endpoint_slice_update() -> None:
    s = EndpointSliceStrategy()
    old = slice_()
    create(s, old)
    new = copy.deepcopy(old)
    new["addressType"] = "IPv6"
    assert [c.render() for c in s.validate_update(new, old)] == [
        'addressType: Invalid value: "IPv6": field is immutable']
    moved = copy.deepcopy(old)
    moved["endpoints"][0]["conditions"]["ready"] = False
    assert s.changes_generation(moved, old)
    relabelled = copy.deepcopy(old)
    relabelled["metadata"]["labels"] = {"a": "b"}
    assert not s.changes_generation(relabelled, old)


@pytest.mark.parametrize("strategy", [ClusterStrategy(), DNSRecordSetStrategy()])
def test_federation_kinds_track_generation(strategy: Strategy) -> None:
    a, b = fed("X", {"a": 1}), fed("X", {"a": 2})
    assert strategy.changes_generation(a, b)
