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


def describe_error(exc: BaseException, limit: int = 900) -> str:
    """A person's one-line reason for a failure, taken while the JVM is still alive: for a Java
    exception the root cause's class and message (e.g. "IllegalArgumentException: requirement failed:
    Ratings MUST NOT be Infinity"), never a call into a JVM that is already gone."""
    java = getattr(exc, "java_exception", None)
    if java is None:
        return f"{type(exc).__name__}: {exc}"[:limit]
    try:
        chain = [java]
        while chain[-1].getCause() is not None and len(chain) < 20:
            chain.append(chain[-1].getCause())
        parts = []
        for e in (chain[0], chain[-1]) if len(chain) > 1 else (chain[0],):
            name = e.getClass().getSimpleName()
            msg = (e.getMessage() or "").splitlines()[0] if e.getMessage() else ""
            parts.append(f"{name}: {msg}" if msg else name)
        return ("Spark failed: " + " <- caused by ".join(dict.fromkeys(parts)))[:limit]
    except Exception:  # noqa: BLE001 - the JVM is gone or the bridge broke: say what we know
        return f"Spark failed ({type(exc).__name__}; the JVM could not be asked for details)"[:limit]
