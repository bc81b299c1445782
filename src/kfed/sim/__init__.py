"""Simulated member clusters for tests and demos: the API machinery plus a tiny kubelet,
endpoints, workload and load-balancer controllers, and fault injection.

    async with SimFleet(seed_layout(), data_dir=tmp, kubeconfig=tmp / "kubeconfig") as fleet:
        await fleet.fault("us-central1-f", "down")
        await fleet.make_unready("us-central1-a", zone="us-central1-a")
"""

from kfed.sim.cluster import SimCluster, SimOptions
from kfed.sim.faults import Fault
from kfed.sim.fleet import SimFleet
from kfed.sim.layout import ClusterSpec, parse_cluster, seed_layout
from kfed.sim.threaded import FleetThread

__all__ = ["ClusterSpec", "Fault", "FleetThread", "SimCluster", "SimFleet", "SimOptions", "parse_cluster",
           "seed_layout"]
