"""The service controller's pure rules: conforming shards, adoption, and shard health."""

from __future__ import annotations

from kfed.controllers import shards as S

FED = {
    "apiVersion": "v1", "kind": "Service",
    "metadata": {"name": "nginx", "namespace": "default", "labels": {"run": "nginx"},
                 "annotations": {"team": "edge", S.SHARDS_ANNOTATION: "[]"}, "uid": "fed-uid",
                 "resourceVersion": "7"},
    "spec": {"type": "LoadBalancer", "selector": {"run": "nginx"}, "sessionAffinity": "None",
             "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 80}]},
}


def member(**spec_overrides: object) -> dict:
    spec = {"type": "LoadBalancer", "selector": {"run": "nginx"}, "sessionAffinity": "None",
            "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"], "ipFamilies": ["IPv4"],
            "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 80, "nodePort": 31000}],
            "externalTrafficPolicy": "Cluster"}
    spec.update(spec_overrides)
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "nginx", "namespace": "default", "uid": "m-uid", "resourceVersion": "3",
                         "labels": {"run": "nginx", S.MANAGED_LABEL: "myfed"},
                         "annotations": {"team": "edge", S.ORIGIN_ANNOTATION: "created"}},
            "spec": spec, "status": {"loadBalancer": {"ingress": [{"ip": "127.100.0.1"}]}}}


def test_new_shard_has_no_allocations_and_private_annotations_stay_home() -> None:
    d = S.desired_member_service(FED, "myfed", None)
    assert d["metadata"]["labels"] == {"run": "nginx", S.MANAGED_LABEL: "myfed"}
    assert S.SHARDS_ANNOTATION not in d["metadata"]["annotations"]
    assert d["metadata"]["annotations"][S.ORIGIN_ANNOTATION] == "created"
    assert "clusterIP" not in d["spec"] and "nodePort" not in d["spec"]["ports"][0]
    assert "uid" not in d["metadata"] and "resourceVersion" not in d["metadata"]


def test_member_allocations_are_kept_and_a_conforming_shard_needs_no_write() -> None:
    current = member()
    d = S.desired_member_service(FED, "myfed", current)
    assert d["spec"]["clusterIP"] == "10.96.0.10"
    assert d["spec"]["ports"][0]["nodePort"] == 31000
    assert d["metadata"]["resourceVersion"] == "3"
    assert S.conforms(current, d)


def test_drift_is_reverted() -> None:
    current = member(selector={"run": "other"}, externalIPs=["1.2.3.4"])
    d = S.desired_member_service(FED, "myfed", current)
    assert not S.conforms(current, d)
    assert d["spec"]["selector"] == {"run": "nginx"}
    assert "externalIPs" not in d["spec"], "a field the federation does not set is removed"
    current = member()
    current["metadata"]["labels"]["extra"] = "x"
    assert not S.conforms(current, S.desired_member_service(FED, "myfed", current))


def test_adopting_a_foreign_service_marks_it_adopted() -> None:
    foreign = member(selector={"app": "legacy"})
    foreign["metadata"]["labels"] = {"app": "legacy"}
    foreign["metadata"]["annotations"] = {}
    d = S.desired_member_service(FED, "myfed", foreign)
    assert d["metadata"]["annotations"][S.ORIGIN_ANNOTATION] == "adopted"
    assert d["metadata"]["labels"][S.MANAGED_LABEL] == "myfed"
    assert d["spec"]["clusterIP"] == "10.96.0.10", "adoption keeps the member's allocations"


def test_placement_annotation_narrows_clusters() -> None:
    fed = {"metadata": {"annotations": {S.PLACEMENT_ANNOTATION: "b, c,zz"}}}
    assert S.placement(fed, ["a", "b", "c"]) == ["b", "c"]
    fed = {"metadata": {"annotations": {S.PLACEMENT_ANNOTATION: '{"clusters": ["a"]}'}}}
    assert S.placement(fed, ["a", "b"]) == ["a"]
    assert S.placement({"metadata": {}}, ["b", "a"]) == ["a", "b"]


def slice_(ready: list[tuple[str, str, bool]]) -> dict:
    return {"endpoints": [{"addresses": [ip], "zone": zone, "conditions": {"ready": ok}} for ip, zone, ok in ready]}


def test_shard_health() -> None:
    svc = member()
    sh = S.shard_status("c1", cluster_ready=True, cluster_reason="", region="r", cluster_zones=["z1"],
                        member_service=svc, slices=[slice_([("10.0.0.1", "z1", True), ("10.0.0.2", "z2", False)])])
    assert sh.healthy and sh.readyEndpoints == 1 and sh.zones == ["z1"] and sh.addresses == ["127.100.0.1"]
    sh = S.shard_status("c1", cluster_ready=True, cluster_reason="", region="r", cluster_zones=["z1"],
                        member_service=svc, slices=[slice_([("10.0.0.1", "z1", False)])])
    assert not sh.healthy and sh.reason == "NoReadyEndpoints"
    sh = S.shard_status("c1", cluster_ready=False, cluster_reason="ClusterNotReachable", region="r",
                        cluster_zones=["z1"], member_service=svc, slices=[])
    assert not sh.healthy and sh.reason == "ClusterNotReachable"
    no_lb = member()
    no_lb["status"] = {}
    sh = S.shard_status("c1", cluster_ready=True, cluster_reason="", region="r", cluster_zones=["z1"],
                        member_service=no_lb, slices=[slice_([("10.0.0.1", "z1", True)])])
    assert sh.reason == "NoExternalAddress"
    sh = S.shard_status("c1", cluster_ready=True, cluster_reason="", region="r", cluster_zones=["z1"],
                        member_service=svc, slices=[slice_([("10.0.0.1", "z1", True)])],
                        write_error="Forbidden: 403")
    assert not sh.healthy and sh.reason.startswith("Forbidden")


def test_shards_round_trip_and_ingress_union() -> None:
    a = S.Shard("a", "r1", ["z1"], ["127.0.0.2", "127.0.0.10"], [], 2, True, "Healthy")
    b = S.Shard("b", "r1", [], ["127.0.0.3"], ["x.elb.test"], 0, False, "NoReadyEndpoints")
    text = S.encode_shards([b, a])
    assert [s.cluster for s in S.decode_shards(text)] == ["a", "b"]
    assert S.federated_ingress([a, b]) == [{"ip": "127.0.0.2", "ipMode": "VIP"}, {"ip": "127.0.0.3", "ipMode": "VIP"},
                                           {"ip": "127.0.0.10", "ipMode": "VIP"}, {"hostname": "x.elb.test"}]
    assert S.decode_shards("not json") == []


def test_desired_shares_nothing_it_changes_with_the_federated_or_member_service() -> None:
    import copy

    fed, current = copy.deepcopy(FED), member(type="ClusterIP")
    fed["spec"]["type"] = "ClusterIP"
    before_fed, before_current = copy.deepcopy(fed), copy.deepcopy(current)
    d = S.desired_member_service(fed, "myfed", current)
    assert "nodePort" not in d["spec"]["ports"][0], "ClusterIP drops the member's node port"
    d["spec"]["ports"][0]["port"] = 81
    d["spec"]["clusterIPs"].append("10.96.0.11")
    assert fed == before_fed and current == before_current, "building and changing the desired object left both inputs as they were"


def test_ports_compare_with_api_server_defaults() -> None:
    current = member()
    d = S.desired_member_service(FED, "myfed", current)
    d["spec"]["ports"] = [{"name": "http", "port": 80, "nodePort": 31000}]  # protocol and targetPort defaulted
    assert S.conforms(current, d)
    d["spec"]["ports"] = [{"name": "http", "port": 80, "targetPort": 8080, "nodePort": 31000}]
    assert not S.conforms(current, d)
    assert current["spec"]["ports"][0] == {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 80,
                                           "nodePort": 31000}, "comparing changed nothing"


def test_shard_to_dict_is_every_field_in_order() -> None:
    from dataclasses import asdict, fields

    shard = S.Shard("c1", "r1", ["z1"], ["127.0.0.1"], ["lb.example"], 2, True, "Healthy")
    assert shard.to_dict() == asdict(shard)
    assert list(shard.to_dict()) == [f.name for f in fields(S.Shard)]
    shard.to_dict()["zones"].append("z2")
    assert shard.zones == ["z1"]
