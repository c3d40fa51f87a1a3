"""How much each host offers to executors, and the leader's driver settings.

The leader's host runs the driver JVM, the Python driver and the master besides its own worker's
executor, so it offers its executor less than a host that only runs a worker, and none below
LEADER_EXECUTOR_MIN_BYTES; executors are sized from the smallest offer (standalone Spark gives every
executor of a job the same memory). Measured by `make bench-scale` (40M lines, 15M ratings, two
`--memory 3g` hosts), resident memory on the leader's host once the ratings were collected: master
181 MB + worker 172 MB + driver JVM 830 MB (heap 768m) + Python driver 470-620 MB + executor JVM
1,231 MB (heap 921m): over 3 GB, and the kernel killed the executor. Without an executor there the
same leader needs ~1.7 GB.
"""
from __future__ import annotations

from typing import Any, Mapping

from ...core.errors import AlgorithmError
from ..spark.ports import MASTER_PORT
from .config import ResourceConfig
from .network import alive_workers

WORKER_MEMORY_FRACTION = 0.45    # a host that only runs a worker offers this much to its executor
LEADER_WORKER_FRACTION = 0.30    # the leader's worker: the driver shares its host
LEADER_DRIVER_FRACTION = 0.25    # the leader's driver JVM heap (the Python driver needs room too)
MIN_EXECUTOR_MB = 512
LEADER_EXECUTOR_MIN_BYTES = 6 << 30  # a smaller leader's host runs no executor: it holds the driver

MIN_DRIVER_MB = 512
# Memory the heap sizes do not bound: Netty's direct buffers (kept on the heap instead) and glibc's
# per-thread malloc arenas (two per process on executors; the image sets the same for its processes).
MALLOC_ARENA_MAX = "2"


def leader_runs_executor(memory_bytes: int) -> bool:
    return memory_bytes >= LEADER_EXECUTOR_MIN_BYTES


def worker_resources(cores: int, memory_bytes: int, leader: bool = False) -> tuple[int, int]:
    """(cores, MiB) a host's worker offers to executors (less on the leader's host)."""
    fraction = LEADER_WORKER_FRACTION if leader else WORKER_MEMORY_FRACTION
    return max(1, cores), max(MIN_EXECUTOR_MB, int(memory_bytes * fraction / (1024 * 1024)))


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
        "spark.driver.memory": f"{max(MIN_DRIVER_MB, int(memory_bytes * LEADER_DRIVER_FRACTION / (1024 * 1024)))}m",
        "spark.executor.cores": str(cores),
        "spark.executor.memory": f"{memory_mb}m",
        "spark.executorEnv.MALLOC_ARENA_MAX": MALLOC_ARENA_MAX,
        "spark.shuffle.io.preferDirectBufs": "false",
        "spark.network.io.preferDirectBufs": "false",
        "spark.cores.max": str(total),
        "spark.default.parallelism": str(max(2, total)),
        "spark.sql.shuffle.partitions": str(max(2, total)),
        # Start the job only once every executor is there (bounded): tasks spread over all hosts.
        "spark.scheduler.minRegisteredResourcesRatio": "1.0",
        "spark.scheduler.maxRegisteredResourcesWaitingTime": "120s",
    }
