"""How much each host offers to executors, and the leader's driver settings."""
from __future__ import annotations

from typing import Any, Mapping

from ...core.errors import AlgorithmError
from ..spark.ports import MASTER_PORT
from .config import ResourceConfig
from .network import alive_workers

WORKER_MEMORY_FRACTION = 0.45    # each host offers this much memory to its executor
LEADER_DRIVER_FRACTION = 0.35    # the leader's driver (data loading, factors) gets this


def worker_resources(cores: int, memory_bytes: int) -> tuple[int, int]:
    """(cores, MiB) a host's worker offers to executors."""
    return max(1, cores), max(512, int(memory_bytes * WORKER_MEMORY_FRACTION / (1024 * 1024)))


def driver_conf(rc: ResourceConfig, state: Mapping[str, Any], bind_address: str | None,
                memory_bytes: int) -> dict[str, str]:
    """Spark settings for the leader's driver, from the registered workers (one executor each)."""
    workers = alive_workers(state)
    if not workers:
        raise AlgorithmError("no Spark worker is registered with the leader's master")
    cores = min(int(w["cores"]) for w in workers)
    memory_mb = min(int(w["memory"]) for w in workers)
    total = cores * len(workers)
    return {
        "spark.master": f"spark://{rc.leader}:{MASTER_PORT}",
        "spark.driver.host": rc.leader,
        "spark.driver.bindAddress": bind_address or "0.0.0.0",
        "spark.driver.memory": f"{max(1024, int(memory_bytes * LEADER_DRIVER_FRACTION / (1024 * 1024)))}m",
        "spark.executor.cores": str(cores),
        "spark.executor.memory": f"{memory_mb}m",
        "spark.cores.max": str(total),
        "spark.default.parallelism": str(max(2, total)),
        "spark.sql.shuffle.partitions": str(max(2, total)),
        # Start the job only once every executor is there (bounded): tasks spread over all hosts.
        "spark.scheduler.minRegisteredResourcesRatio": "1.0",
        "spark.scheduler.maxRegisteredResourcesWaitingTime": "120s",
    }
