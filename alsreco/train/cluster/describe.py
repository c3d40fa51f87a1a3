"""What took part in a fit: the master and every executor, for `metadata.json`."""
from __future__ import annotations

from typing import Any


def describe(session) -> dict[str, Any]:
    """The cluster that ran the application: master, and every executor (dead ones too)
    with its host, cores and completed tasks, from the driver's status store."""
    sc = session.sparkContext
    info: dict[str, Any] = {"master": sc.master, "application_id": sc.applicationId,
                            "default_parallelism": sc.defaultParallelism}
    try:
        summaries = sc._jsc.sc().statusStore().executorList(False)  # noqa: SLF001 - status store via py4j
        executors = []
        for i in range(summaries.size()):
            e = summaries.apply(i)
            if e.id() == "driver" and not sc.master.startswith("local"):
                continue
            host = e.hostPort().rsplit(":", 1)[0] if ":" in e.hostPort() else e.hostPort()
            executors.append({"id": e.id(), "host": host, "cores": int(e.totalCores()),
                              "completed_tasks": int(e.completedTasks()), "failed_tasks": int(e.failedTasks()),
                              "active": bool(e.isActive())})
        info["executors"] = executors
        info["hosts"] = sorted({e["host"] for e in executors})
        info["cores"] = sum(e["cores"] for e in executors)
    except Exception as exc:  # noqa: BLE001 - metadata only; never fail a fit over it
        info["executors_error"] = f"{type(exc).__name__}: {exc}"
    return info
