"""coordination.k8s.io/v1 Lease (leader election)."""

from __future__ import annotations

from kfed.model.schema import int32, micro_time, named, obj, string
from kfed.model.schemas.meta import kind_schema

LEASE_SCHEMA = kind_schema(
    "coordination.k8s.io", "v1", "Lease",
    "A Lease: a lock with an expiry, held by one party at a time; used for leader election.",
    spec=named("io.k8s.api.coordination.v1.LeaseSpec", obj("The state of the lock.", {
        "holderIdentity": string("Who holds the lease now."),
        "leaseDurationSeconds": int32("Seconds others wait after the last renewal before taking "
                                      "the lease over."),
        "acquireTime": micro_time("When the current holder took the lease."),
        "renewTime": micro_time("When the current holder last renewed the lease."),
        "leaseTransitions": int32("How many times the lease changed hands."),
        "strategy": string("How a coordinated election picks the next holder."),
        "preferredHolder": string("Who should hold the lease next, in coordinated elections."),
    })),
)
