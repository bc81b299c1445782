"""coordination.k8s.io/v1 Lease (leader election of kfed's controllers)."""

from __future__ import annotations

from typing import Any

from kfed.model import validation as v
from kfed.model.resource import FieldCause, Obj, TableColumn
from kfed.model.strategies.base import (
    AGE_COLUMN,
    NAME_COLUMN,
    KindStrategy,
    as_int,
    as_str,
    creation_timestamp,
    name_of,
    spec,
)


class LeaseStrategy(KindStrategy):
    tracks_generation = False

    def validate(self, obj: Obj) -> list[FieldCause]:
        lease = spec(obj)
        causes: list[FieldCause] = []
        duration = as_int(lease.get("leaseDurationSeconds"))
        if duration is not None and duration <= 0:
            causes.append(v.invalid("spec.leaseDurationSeconds", duration, "must be greater than 0"))
        transitions = as_int(lease.get("leaseTransitions"))
        if transitions is not None and transitions < 0:
            causes.append(v.invalid("spec.leaseTransitions", transitions, "must be greater than or equal to 0"))
        return causes

    def table_columns(self) -> list[TableColumn]:
        return [NAME_COLUMN,
                TableColumn("Holder", description="holderIdentity contains the identity of the holder of a "
                                                  "current lease."),
                AGE_COLUMN]

    def table_row(self, obj: Obj) -> list[Any]:
        return [name_of(obj), as_str(spec(obj).get("holderIdentity")), creation_timestamp(obj)]
