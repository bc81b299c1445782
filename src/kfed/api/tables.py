"""Server-side Table output (meta.k8s.io/v1 Table), as `kubectl get` asks for it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kfed.api.codec import parse_time
from kfed.model.resource import Obj, ResourceType


def human_duration(seconds: float) -> str:
    """kubectl's short ages: 45s, 9m, 3h12m, 5d, 2y."""
    s = int(seconds)
    if s < 0:
        s = 0
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rem = s % 60
        return f"{minutes}m{rem}s" if rem else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        rem = (s % 3600) // 60
        return f"{hours}h{rem}m" if rem else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        rem = hours % 24
        return f"{days}d{rem}h" if rem else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    years = days // 365
    if days < 365 * 8:
        rem = days % 365
        return f"{years}y{rem}d" if rem else f"{years}y"
    return f"{years}y"


def _age(value: Any, now: datetime) -> str:
    if not value:
        return "<unknown>"
    try:
        return human_duration((now - parse_time(str(value))).total_seconds())
    except ValueError:
        return "<invalid>"


def partial_metadata(obj: Obj) -> Obj:
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata", {})}


def table_for(rt: ResourceType, objs: list[Obj], *, include_object: str = "Metadata",
              headers: bool = True, list_meta: Obj | None = None, table_version: str = "v1") -> Obj:
    columns = rt.strategy.table_columns()
    now = datetime.now(UTC)
    rows = []
    for obj in objs:
        cells = rt.strategy.table_row(obj)
        rendered = [(_age(c, now) if col.type == "date" else c) for col, c in zip(columns, cells, strict=False)]
        row: Obj = {"cells": rendered}
        if include_object == "Object":
            row["object"] = obj
        elif include_object != "None":
            row["object"] = partial_metadata(obj)
        rows.append(row)
    table: Obj = {
        "kind": "Table",
        "apiVersion": f"meta.k8s.io/{table_version}",
        "metadata": list_meta or {},
        "columnDefinitions": [c.to_dict() for c in columns] if headers else None,
        "rows": rows,
    }
    if not headers:
        table["columnDefinitions"] = []
    return table
