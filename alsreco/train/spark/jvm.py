"""Killing Spark's JVM (and any child still starting) from any thread: SIGTERM and failure paths."""
from __future__ import annotations

import os
import signal
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


def _active_jvm():
    """The process (Popen) of the active SparkContext's JVM, if pyspark is loaded and launched one."""
    import sys

    pyspark = sys.modules.get("pyspark")
    gateway = getattr(getattr(pyspark, "SparkContext", None), "_gateway", None) if pyspark else None
    return getattr(gateway, "proc", None)


def kill_active_jvm() -> None:
    """Kill the JVM of the active SparkContext, if any (safe from any thread)."""
    proc = _active_jvm()
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


def jvm_exit_code() -> int | None:
    """How the active SparkContext's JVM ended (negative: killed by that signal), None while it runs
    (or when there is none)."""
    proc = _active_jvm()
    return None if proc is None else proc.poll()


def jvm_died(code: int) -> str:
    """The reason to report when the JVM ended under us: py4j then only says that some name "does
    not exist in the JVM" or that the connection was refused, which tells nobody anything."""
    from .resources import MIB, memory_limit_bytes

    if code in (-signal.SIGKILL, 128 + signal.SIGKILL):
        return (f"the Spark JVM was killed (SIGKILL) while training, most likely by the kernel's out-of-memory "
                f"killer: this host's memory limit is {memory_limit_bytes() // MIB} MiB. Train on an instance "
                "with more memory, on several instances (instance_count 2 or more: the data and the fit spread "
                "over them), or on fewer purchase lines")
    return f"the Spark JVM ended with exit code {code} while training (its log is on stderr above)"


def describe_error(exc: BaseException, limit: int = 900) -> str:
    """A person's one-line reason for a failure, taken while the JVM is still alive: for a Java
    exception the root cause's class and message (e.g. "IllegalArgumentException: requirement failed:
    Ratings MUST NOT be Infinity"), never a call into a JVM that is already gone; if the JVM itself
    has ended (e.g. killed for memory), that."""
    code = jvm_exit_code()
    if code is not None:
        return f"{jvm_died(code)} ({type(exc).__name__}: {exc})"[:limit]
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
