"""federation.kfed.io/v1beta1 kinds: Cluster (a member cluster) and DNSRecordSet.

Both are cluster-scoped custom-style kinds that keep a metadata.generation bumped on spec
changes. A Cluster has a status subresource that only the cluster controller writes; a
DNSRecordSet is all spec.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

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
    condition,
    creation_timestamp,
    name_of,
    spec,
    status,
)

# ---------------------------------------------------------------------------------------------
# Cluster


def cluster_server(obj: Obj) -> str:
    """The address kfed reaches a cluster at: the one for all clients (0.0.0.0/0), else the first."""
    entries = [as_dict(e) for e in as_list(spec(obj).get("serverAddressByClientCIDRs"))]
    for entry in entries:
        if entry.get("clientCIDR") in ("0.0.0.0/0", "::/0"):
            return as_str(entry.get("serverAddress"))
    return as_str(entries[0].get("serverAddress")) if entries else ""


def cluster_region(obj: Obj) -> str:
    return as_str(status(obj).get("region")) or as_str(spec(obj).get("region"))


def cluster_zones(obj: Obj) -> list[str]:
    zones = [z for z in as_list(status(obj).get("zones")) if isinstance(z, str)]
    if not zones:
        zones = [z for z in as_list(spec(obj).get("zones")) if isinstance(z, str)]
    if not zones and as_str(spec(obj).get("zone")):
        zones = [as_str(spec(obj).get("zone"))]
    return zones


def _validate_server_address(path: str, value: str) -> list[FieldCause]:
    if not value:
        return [v.required(path)]
    message = "must be a valid URL with scheme http or https and a host (e.g. 'https://10.0.0.1:6443')"
    try:
        parts = urlsplit(value)
        port_ok = parts.port is None or 0 < parts.port < 65536
    except ValueError:
        return [v.invalid(path, value, message)]
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok or parts.query or parts.fragment:
        return [v.invalid(path, value, message)]
    return []


class ClusterStrategy(KindStrategy):
    status_subresource = True
    tracks_generation = True

    def validate(self, obj: Obj) -> list[FieldCause]:
        cluster = spec(obj)
        causes: list[FieldCause] = []
        entries = as_list(cluster.get("serverAddressByClientCIDRs"))
        if not entries:
            causes.append(v.required("spec.serverAddressByClientCIDRs"))
        seen: set[str] = set()
        for i, entry in enumerate(entries):
            entry = as_dict(entry)
            path = f"spec.serverAddressByClientCIDRs[{i}]"
            cidr = as_str(entry.get("clientCIDR"))
            if not cidr:
                causes.append(v.required(f"{path}.clientCIDR"))
            else:
                causes += v.validate_cidr(f"{path}.clientCIDR", cidr)
                if cidr in seen:
                    causes.append(v.duplicate(f"{path}.clientCIDR", cidr))
                seen.add(cidr)
            causes += _validate_server_address(f"{path}.serverAddress", as_str(entry.get("serverAddress")))
        secret_ref = cluster.get("secretRef")
        if secret_ref is not None:
            name = as_str(as_dict(secret_ref).get("name"))
            if not name:
                causes.append(v.required("spec.secretRef.name"))
            else:
                causes += v.validate_dns1123_subdomain("spec.secretRef.name", name)
        # Zones and regions become labels of DNS names (<svc>.<ns>.<fed>.svc.<zone>.<region>.<domain>).
        region = cluster.get("region")
        if isinstance(region, str) and region:
            causes += v.validate_dns1123_label("spec.region", region)
        zone = cluster.get("zone")
        if isinstance(zone, str) and zone:
            causes += v.validate_dns1123_label("spec.zone", zone)
        for i, z in enumerate(as_list(cluster.get("zones"))):
            if isinstance(z, str):
                causes += v.validate_dns1123_label(f"spec.zones[{i}]", z)
        st = status(obj)
        if isinstance(st.get("region"), str) and st["region"]:
            causes += v.validate_dns1123_label("status.region", st["region"])
        for i, z in enumerate(as_list(st.get("zones"))):
            if isinstance(z, str):
                causes += v.validate_dns1123_label(f"status.zones[{i}]", z)
        for i, c in enumerate(as_list(st.get("conditions"))):
            c = as_dict(c)
            if not as_str(c.get("type")):
                causes.append(v.required(f"status.conditions[{i}].type"))
            s = c.get("status")
            if s not in ("True", "False", "Unknown"):
                causes.append(v.not_supported(f"status.conditions[{i}].status", s, ("False", "True", "Unknown")))
        return causes

    def table_columns(self) -> list[TableColumn]:
        return [NAME_COLUMN,
                TableColumn("Ready", description="Whether kfed reaches the cluster and finds it healthy."),
                TableColumn("Region", description="The region the cluster's nodes are in."),
                TableColumn("Zones", description="The zones the cluster's nodes are in."),
                AGE_COLUMN,
                TableColumn("Server", priority=1, description="The address kfed reaches the cluster's API at."),
                TableColumn("Reason", priority=1, description="Why the cluster is or is not ready.")]

    def table_row(self, obj: Obj) -> list[Any]:
        ready = condition(obj, "Ready")
        ready_cell = as_str(ready.get("status")) if ready and ready.get("status") in ("True", "False") else "Unknown"
        return [name_of(obj), ready_cell, cluster_region(obj) or "<none>", ",".join(cluster_zones(obj)) or "<none>",
                creation_timestamp(obj), cluster_server(obj) or "<none>",
                as_str(ready.get("reason")) if ready and ready.get("reason") else "<none>"]

    def selectable_fields(self, obj: Obj) -> dict[str, str]:
        ready = condition(obj, "Ready")
        return {"status.ready": as_str(ready.get("status")) if ready else "Unknown"}


# ---------------------------------------------------------------------------------------------
# DNSRecordSet


RECORD_TYPES = ("A", "AAAA", "CAA", "CNAME", "MX", "NS", "PTR", "SRV", "TXT")
MAX_TTL = 2147483647
DEFAULT_TTL = 180  # the federation's default DNS TTL
_HOST_TYPES = ("CNAME", "NS", "PTR")


def _fqdn_errors(path: str, name: str) -> list[FieldCause]:
    """A fully qualified name: DNS labels ending with '.' (a leading '*' label and '_' allowed)."""
    if not name:
        return [v.required(path)]
    if not name.endswith("."):
        return [v.invalid(path, name, "must be a fully qualified domain name ending in '.'")]
    if name == ".":
        return []
    body = name[:-1]
    if len(body) > v.DNS1123_SUBDOMAIN_MAX:
        return [v.invalid(path, name, v.max_len_error(v.DNS1123_SUBDOMAIN_MAX))]
    labels = body.split(".")
    for i, label in enumerate(labels):
        plain = label.lstrip("_")
        if (label == "*" and i == 0) or (plain and not v.is_dns1123_label(plain.lower())):
            continue
        return [v.invalid(path, name, f"label {label!r} is not a valid DNS label (1-63 of [a-z0-9-_], "
                                      "starting and ending alphanumeric)")]
    return []


def _in_zone(name: str, zone: str) -> bool:
    name, zone = name.lower(), zone.lower()
    return zone == "." or name == zone or name.endswith("." + zone)


def _host_target_errors(path: str, target: str) -> list[FieldCause]:
    return _fqdn_errors(path, target)


def _validate_record_data(rtype: str, path: str, data: list[Any]) -> list[FieldCause]:
    causes: list[FieldCause] = []
    if not data:
        return [v.required(path, "must hold at least one value")]
    if rtype == "CNAME" and len(data) != 1:
        causes.append(v.invalid(path, v.go_string_slice([str(d) for d in data]), "a CNAME record set must hold exactly one target"))
    for i, item in enumerate(data):
        ipath = f"{path}[{i}]"
        if not isinstance(item, str):
            continue
        if rtype == "A":
            causes += v.validate_ipv4(ipath, item)
        elif rtype == "AAAA":
            causes += v.validate_ipv6(ipath, item)
        elif rtype in _HOST_TYPES:
            causes += _host_target_errors(ipath, item)
        elif rtype == "MX":
            parts = item.split()
            if len(parts) != 2 or not parts[0].isdigit() or int(parts[0]) > 65535:
                causes.append(v.invalid(ipath, item, "must be '<preference> <exchange>', e.g. '10 mail.example.com.'"))
            else:
                causes += _host_target_errors(ipath, parts[1])
        elif rtype == "SRV":
            parts = item.split()
            if len(parts) != 4 or not all(p.isdigit() and int(p) <= 65535 for p in parts[:3]):
                causes.append(v.invalid(ipath, item, "must be '<priority> <weight> <port> <target>', "
                                                     "e.g. '10 5 443 www.example.com.'"))
            else:
                causes += _host_target_errors(ipath, parts[3])
        elif rtype == "CAA":
            parts = item.split(maxsplit=2)
            if len(parts) != 3 or not parts[0].isdigit() or int(parts[0]) > 255:
                causes.append(v.invalid(ipath, item, "must be '<flags> <tag> <value>', e.g. '0 issue \"ca.example.net\"'"))
        elif rtype == "TXT" and not item:
            causes.append(v.invalid(ipath, item, "must not be empty"))
    return causes


def _record_key(name: str, rtype: str) -> v.GoValue:
    """%#v of a list-map key, as kube-apiserver prints a duplicate element of a keyed list."""
    # json.dumps quotes the ASCII of DNS names and types as Go's %q does.
    return v.GoValue(f"map[string]interface {{}}{{\"name\":{json.dumps(name)}, \"type\":{json.dumps(rtype)}}}",
                     {"name": name, "type": rtype})


class DNSRecordSetStrategy(KindStrategy):
    """DNS records in one zone: spec.zone, spec.records[{name, type, ttl, data}], keyed by (name, type)."""

    status_subresource = False
    tracks_generation = True

    def default(self, obj: Obj) -> None:
        for record in as_list(spec(obj).get("records")):
            if isinstance(record, dict) and record.get("ttl") is None:
                record["ttl"] = DEFAULT_TTL

    def validate(self, obj: Obj) -> list[FieldCause]:
        rs = spec(obj)
        causes: list[FieldCause] = []
        zone = as_str(rs.get("zone"))
        zone_errs = _fqdn_errors("spec.zone", zone)
        causes += zone_errs
        records = as_list(rs.get("records"))
        if not records:
            causes.append(v.required("spec.records"))
        seen: set[tuple[str, str]] = set()
        types_at: dict[str, list[str]] = {}  # lowercased name -> its types, in order
        for i, record in enumerate(records):
            record = as_dict(record)
            path = f"spec.records[{i}]"
            name = as_str(record.get("name"))
            name_errs = _fqdn_errors(f"{path}.name", name)
            causes += name_errs
            if not zone_errs and not name_errs and not _in_zone(name, zone):
                causes.append(v.invalid(f"{path}.name", name, f"must be inside zone {zone!r}"))
            rtype = record.get("type")
            if not rtype:
                causes.append(v.required(f"{path}.type"))
            elif rtype not in RECORD_TYPES:
                causes.append(v.not_supported(f"{path}.type", rtype, RECORD_TYPES))
            elif (name.lower(), rtype) in seen:
                causes.append(v.duplicate(path, _record_key(name, rtype)))
            if isinstance(rtype, str) and name:
                seen.add((name.lower(), rtype))
                types = types_at.setdefault(name.lower(), [])
                if rtype not in types:
                    types.append(rtype)
            ttl = as_int(record.get("ttl"))
            if ttl is not None and not 0 <= ttl <= MAX_TTL:
                causes.append(v.invalid(f"{path}.ttl", ttl, v.inclusive_range_error(0, MAX_TTL)))
            if rtype in RECORD_TYPES:
                causes += _validate_record_data(str(rtype), f"{path}.data", as_list(record.get("data")))
        for name, types in types_at.items():
            if "CNAME" in types and len(types) > 1:
                causes.append(v.invalid("spec.records", v.go_string_slice(sorted(types)),
                                        f"a CNAME may not share its name ({name}) with other record types"))
        return causes

    def table_columns(self) -> list[TableColumn]:
        return [NAME_COLUMN,
                TableColumn("Zone", description="The zone the records are in."),
                TableColumn("Names", type="integer", description="How many DNS names the object holds records at."),
                TableColumn("Records", type="integer", description="How many record sets (name and type) it holds."),
                AGE_COLUMN]

    def table_row(self, obj: Obj) -> list[Any]:
        names: set[str] = set()
        count = 0
        for record in as_list(spec(obj).get("records")):
            count += 1
            names.add(as_str(as_dict(record).get("name")).lower())
        return [name_of(obj), as_str(spec(obj).get("zone")), len(names), count, creation_timestamp(obj)]

    def selectable_fields(self, obj: Obj) -> dict[str, str]:
        return {"spec.zone": as_str(spec(obj).get("zone"))}
