"""discovery.k8s.io/v1 EndpointSlice (served by simulated member clusters, read by kfed)."""

from __future__ import annotations

from typing import Any

from kfed.model import validation as v
from kfed.model.resource import FieldCause, Obj, TableColumn
from kfed.model.strategies.base import (
    AGE_COLUMN,
    NAME_COLUMN,
    KindStrategy,
    as_dict,
    as_int,
    as_list,
    as_str,
    creation_timestamp,
    name_of,
    with_more,
)

ADDRESS_TYPES = ("FQDN", "IPv4", "IPv6")
PROTOCOLS = ("SCTP", "TCP", "UDP")
MAX_ENDPOINTS = 1000
MAX_PORTS = 20000
MAX_ADDRESSES = 100


class EndpointSliceStrategy(KindStrategy):
    tracks_generation = True  # kube-apiserver keeps a generation on EndpointSlices

    def __init__(self, *, allow_special_ips: bool = False) -> None:
        # kube-apiserver refuses loopback and link-local endpoint IPs; simulations may allow them.
        self.allow_special_ips = allow_special_ips

    def default(self, obj: Obj) -> None:
        for port in as_list(obj.get("ports")):
            if isinstance(port, dict):
                port.setdefault("name", "")
                if not port.get("protocol"):
                    port["protocol"] = "TCP"
        for endpoint in as_list(obj.get("endpoints")):
            if isinstance(endpoint, dict):
                conditions = endpoint.get("conditions")
                if conditions is None:
                    endpoint["conditions"] = {}

    def changes_generation(self, new: Obj, old: Obj) -> bool:
        keys = ("addressType", "endpoints", "ports")
        return any(new.get(k) != old.get(k) for k in keys)

    def validate(self, obj: Obj) -> list[FieldCause]:
        causes: list[FieldCause] = []
        address_type = obj.get("addressType")
        if not address_type:
            causes.append(v.required("addressType"))
        elif address_type not in ADDRESS_TYPES:
            causes.append(v.not_supported("addressType", address_type, ADDRESS_TYPES))
        endpoints = as_list(obj.get("endpoints"))
        if len(endpoints) > MAX_ENDPOINTS:
            causes.append(v.too_many("endpoints", len(endpoints), MAX_ENDPOINTS))
        for i, endpoint in enumerate(endpoints):
            endpoint = as_dict(endpoint)
            epath = f"endpoints[{i}]"
            addresses = as_list(endpoint.get("addresses"))
            if not addresses:
                causes.append(v.required(f"{epath}.addresses", "must contain at least 1 address"))
            elif len(addresses) > MAX_ADDRESSES:
                causes.append(v.too_many(f"{epath}.addresses", len(addresses), MAX_ADDRESSES))
            for j, address in enumerate(addresses):
                if not isinstance(address, str):
                    continue
                apath = f"{epath}.addresses[{j}]"
                if address_type == "IPv4":
                    errs = v.validate_ipv4(apath, address)
                    causes += errs or ([] if self.allow_special_ips else v.validate_non_special_ip(apath, address))
                elif address_type == "IPv6":
                    errs = v.validate_ipv6(apath, address)
                    causes += errs or ([] if self.allow_special_ips else v.validate_non_special_ip(apath, address))
                elif address_type == "FQDN":
                    causes += v.is_fully_qualified_domain_name(apath, address)
            hostname = endpoint.get("hostname")
            if isinstance(hostname, str):
                causes += v.validate_dns1123_label(f"{epath}.hostname", hostname)
            node_name = endpoint.get("nodeName")
            if isinstance(node_name, str) and node_name:
                causes += [v.invalid(f"{epath}.nodeName", node_name, m) for m in v.is_dns1123_subdomain(node_name)]
            zone = endpoint.get("zone")
            if isinstance(zone, str) and zone:
                causes += [v.invalid(f"{epath}.zone", zone, m) for m in v.is_label_value(zone)]
        ports = as_list(obj.get("ports"))
        if len(ports) > MAX_PORTS:
            causes.append(v.too_many("ports", len(ports), MAX_PORTS))
        names: set[str] = set()
        for i, port in enumerate(ports):
            port = as_dict(port)
            ppath = f"ports[{i}]"
            name = as_str(port.get("name"))
            if name:
                causes += v.validate_dns1123_label(f"{ppath}.name", name)
            if name in names:
                causes.append(v.duplicate(f"{ppath}.name", name))
            names.add(name)
            protocol = port.get("protocol")
            if protocol is None or protocol == "":
                causes.append(v.required(f"{ppath}.protocol"))
            elif protocol not in PROTOCOLS:
                causes.append(v.not_supported(f"{ppath}.protocol", protocol, PROTOCOLS))
            number = as_int(port.get("port"))
            if number is not None:
                causes += [v.invalid(f"{ppath}.port", number, m) for m in _port_range_errors(number)]
            app_protocol = port.get("appProtocol")
            if isinstance(app_protocol, str):
                causes += v.validate_qualified_name(f"{ppath}.appProtocol", app_protocol)
        return causes

    def validate_update(self, new: Obj, old: Obj) -> list[FieldCause]:
        if old.get("addressType") != new.get("addressType"):
            return [v.invalid("addressType", new.get("addressType"), v.FIELD_IMMUTABLE)]
        return []

    def table_columns(self) -> list[TableColumn]:
        return [NAME_COLUMN,
                TableColumn("AddressType", description="addressType specifies the type of address carried by "
                                                       "this EndpointSlice."),
                TableColumn("Ports", description="ports specifies the list of network ports exposed by each "
                                                 "endpoint in this slice."),
                TableColumn("Endpoints", description="endpoints is a list of unique endpoints in this slice."),
                AGE_COLUMN]

    def table_row(self, obj: Obj) -> list[Any]:
        ports = []
        for port in as_list(obj.get("ports")):
            port = as_dict(port)
            number, name = as_int(port.get("port")), port.get("name")
            ports.append(str(number) if number is not None else (str(name) if isinstance(name, str) else "*"))
        addresses = [a for e in as_list(obj.get("endpoints")) for a in as_list(as_dict(e).get("addresses"))
                     if isinstance(a, str)]
        return [name_of(obj), as_str(obj.get("addressType")), with_more(ports, len(ports)),
                with_more(addresses, len(addresses)), creation_timestamp(obj)]


def _port_range_errors(port: int) -> list[str]:
    # EndpointSlice ports may be 0 (meaning "all ports") in validation; only range matters.
    return [] if 0 <= port <= 65535 else [v.inclusive_range_error(1, 65535)]
