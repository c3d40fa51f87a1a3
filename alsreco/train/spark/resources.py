"""What this container may use: memory limit (cgroup v2/v1 or physical) and cores (affinity, quota)."""
from __future__ import annotations

import os
from pathlib import Path

MIB = 1024 * 1024


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def memory_limit_bytes() -> int:
    """The container's memory limit: cgroup v2, cgroup v1, else physical memory."""
    total = None
    meminfo = _read("/proc/meminfo") or ""
    for line in meminfo.splitlines():
        if line.startswith("MemTotal:"):
            total = int(line.split()[1]) * 1024
    limits = []
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        value = _read(path)
        if value and value.isdigit():
            limits.append(int(value))
    candidates = [v for v in limits + [total] if v]
    return min(candidates) if candidates else 4096 * MIB


def cpu_count() -> int:
    """Cores this process may use: affinity mask and cgroup v2 CPU quota."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - non-Linux
        cores = os.cpu_count() or 1
    quota = _read("/sys/fs/cgroup/cpu.max")
    if quota and not quota.startswith("max"):
        q, period = (int(x) for x in quota.split()[:2])
        cores = max(1, min(cores, q // period))
    return cores
