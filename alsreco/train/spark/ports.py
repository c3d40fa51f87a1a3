"""The fixed ports of a driver attached to a cluster, and the settings that pin them (documented in
docs/cluster.md; Spark moves to the next port, up to 16 tries, if one is taken)."""
from __future__ import annotations

MASTER_PORT = 7077
MASTER_UI_PORT = 8081
WORKER_PORT = 7078
WORKER_UI_PORT = 8082
DRIVER_PORT = 7079
DRIVER_BLOCK_MANAGER_PORT = 7080
BLOCK_MANAGER_PORT = 7081
STATUS_PORT = 8083  # alsreco's job status on the leader


def cluster_spark_settings(java_options: str) -> dict[str, str]:
    """Settings for any driver attached to a cluster (fixed, documented ports)."""
    return {
        "spark.driver.port": str(DRIVER_PORT),
        "spark.driver.blockManager.port": str(DRIVER_BLOCK_MANAGER_PORT),
        "spark.blockManager.port": str(BLOCK_MANAGER_PORT),
        "spark.executor.extraJavaOptions": java_options,
    }
