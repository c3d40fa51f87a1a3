"""Killing Spark's JVM (and any child still starting) from any thread: SIGTERM and failure paths."""
from __future__ import annotations

import os
from pathlib import Path

from .resources import _read


def kill_children() -> None:
    """SIGKILL every child process of this one: covers a JVM still being launched (pyspark
    keeps its handle only once the gateway is up) and Spark daemons started by `train`."""
    import signal as _signal

    task_dir = Path(f"/proc/{os.getpid()}/task")
    pids: set[int] = set()
    for children in task_dir.glob("*/children"):
        pids.update(int(p) for p in (_read(str(children)) or "").split())
    for pid in pids:
        try:
            os.kill(pid, _signal.SIGKILL)
        except OSError:
            pass


def kill_active_jvm() -> None:
    """Kill the JVM of the active SparkContext, if any (safe from any thread)."""
    import sys

    pyspark = sys.modules.get("pyspark")
    gateway = getattr(getattr(pyspark, "SparkContext", None), "_gateway", None) if pyspark else None
    proc = getattr(gateway, "proc", None)
    if proc is not None and proc.poll() is None:
        proc.kill()


def kill_jvm(sc) -> None:
    proc = getattr(getattr(sc, "_gateway", None), "proc", None)
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except Exception:  # noqa: BLE001 - TimeoutExpired: escalate
        proc.kill()
        proc.wait(timeout=10)
    from pyspark import SparkContext
    SparkContext._gateway = None  # type: ignore[attr-defined]
    SparkContext._jvm = None  # type: ignore[attr-defined]
    SparkContext._active_spark_context = None  # type: ignore[attr-defined]
