"""Processes for the benchmarks: a process tree and its memory from /proc (RSS, PSS by smaps_rollup), a
sampler of a tree's peak memory, and running a command tracked that way (its children die with it)."""
from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Mapping

PAGE = os.sysconf("SC_PAGE_SIZE")
MB = 1024 * 1024


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def parent_pid(pid: int) -> int | None:
    """The parent of `pid` (None once it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2:].split()[1])


def _children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and (ppid := parent_pid(int(entry.name))) is not None:
            kids.setdefault(ppid, []).append(int(entry.name))
    return kids


def process_tree(root: int) -> list[int]:
    """`root` and all its descendants (root first)."""
    kids = _children_map()
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(kids.get(pid, ()))
    return out


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def rss_bytes(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def smaps_rollup(pid: int) -> dict[str, int]:
    """Rss / Pss / Shared / Private bytes of one process (/proc/PID/smaps_rollup)."""
    out: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[1].isdigit() and parts[0].endswith(":"):
                out[parts[0][:-1]] = int(parts[1]) * 1024
    except OSError:
        pass
    return out


class TreeSampler:
    """Samples the RSS of a process and all its descendants every `interval` seconds;
    keeps the peak of the total and of the JVM (`java`) and Python parts."""

    def __init__(self, pid: int, interval: float = 0.2):
        self.pid, self.interval = pid, interval
        self.peak_total = self.peak_java = self.peak_python = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def __enter__(self) -> "TreeSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            total = java = python = 0
            for pid in process_tree(self.pid):
                rss = rss_bytes(pid)
                total += rss
                comm = _comm(pid)
                if comm == "java":
                    java += rss
                elif comm.startswith("python") or comm in ("train", "serve"):
                    python += rss
            if total:
                self.samples += 1
            self.peak_total = max(self.peak_total, total)
            self.peak_java = max(self.peak_java, java)
            self.peak_python = max(self.peak_python, python)
            self._stop.wait(self.interval)

    def as_dict(self) -> dict[str, Any]:
        return {"peak_rss_mb": round(self.peak_total / MB, 1), "peak_jvm_rss_mb": round(self.peak_java / MB, 1),
                "peak_python_rss_mb": round(self.peak_python / MB, 1), "rss_samples": self.samples}


def die_with_parent() -> None:
    """preexec_fn: SIGTERM this child when the benchmark process dies (Linux), so an interrupted
    benchmark leaves no `train`, JVM or `serve` behind."""
    import ctypes
    import signal
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def run_tracked(cmd: list[str], env: Mapping[str, str] | None = None, log_path: Path | None = None,
                timeout: float = 7200, cwd: Path | None = None) -> dict[str, Any]:
    """Run `cmd` to completion; wall time, exit code, peak tree RSS, load before/after."""
    full_env = {**os.environ, **(env or {})}
    load_before = loadavg()
    started_epoch = time.time()
    log_path = Path(log_path) if log_path else None
    fh = open(log_path, "wb") if log_path else subprocess.DEVNULL
    started = time.monotonic()
    try:
        proc = subprocess.Popen(cmd, env=full_env, stdout=fh, stderr=subprocess.STDOUT, cwd=cwd,
                                preexec_fn=die_with_parent)
        with TreeSampler(proc.pid) as sampler:
            try:
                code = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                for pid in reversed(process_tree(proc.pid)):
                    try:
                        os.kill(pid, 9)
                    except ProcessLookupError:
                        pass
                code = proc.wait()
        wall = time.monotonic() - started
    finally:
        if log_path:
            fh.close()
    return {"wall_seconds": round(wall, 2), "exit_code": code, "started_epoch": started_epoch, **sampler.as_dict(),
            "loadavg_before": load_before, "loadavg_after": loadavg()}
