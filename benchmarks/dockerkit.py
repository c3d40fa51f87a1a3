"""Docker helpers shared by the container test tier (tests/container/) and the benchmarks (benchmarks/scale.py).

Everything goes through the `docker` CLI. Names are unique per run (`unique`), so two runs on one
engine never clobber each other's images, containers or networks; `Hosts` removes what it made.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from . import common, procs

MB = 1024 * 1024


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def docker(*args: str, check: bool = True, timeout: float = 300, **kw) -> subprocess.CompletedProcess:
    r = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} exited {r.returncode}:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return r


def engine_problem() -> str | None:
    """Why no Docker engine can be used here, or None when one answers."""
    cli = shutil.which("docker")
    if cli is None:
        return "no docker CLI on PATH"
    try:
        r = subprocess.run([cli, "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return "`docker info` timed out"
    if r.returncode != 0 or not r.stdout.strip():
        first = (r.stderr.strip().splitlines() or ["no output"])[-1]
        return f"the Docker engine is not reachable ({first[:160]})"
    return None


def build_image(tag: str, context: Path, log: Path, timeout: float = 1800) -> float:
    """`docker build -t tag context`, output to `log`; seconds taken. Raises with the log's tail."""
    started = time.monotonic()
    with Path(log).open("w") as out:
        r = subprocess.run(["docker", "build", "-t", tag, str(context)], stdout=out, stderr=subprocess.STDOUT,
                           timeout=timeout)
    elapsed = time.monotonic() - started
    if r.returncode != 0:
        tail = "\n".join(Path(log).read_text(errors="replace").splitlines()[-40:])
        raise RuntimeError(f"docker build failed (exit {r.returncode}) after {elapsed:.0f}s:\n{tail}")
    return elapsed


def remove_image(tag: str) -> None:
    """This run's tag only; the layers stay cached."""
    subprocess.run(["docker", "rmi", tag], capture_output=True, timeout=120)


@contextlib.contextmanager
def bench_image(prefix: str, log: Path) -> Iterator[str]:
    """The image a benchmark runs: `ALSRECO_BENCH_IMAGE` as is, else this checkout built under a per-run tag
    (removed afterwards; the layers stay cached)."""
    given = os.environ.get("ALSRECO_BENCH_IMAGE") or ""
    tag = given or f"alsreco:{unique(prefix)}"
    if not given:
        build_image(tag, common.REPO, log)
    try:
        yield tag
    finally:
        if not given:
            remove_image(tag)


def stop_container(name: str, grace: int) -> tuple[float, dict, str]:
    """`docker stop -t grace` (SIGTERM, SIGKILL after `grace` s): seconds it took, the final
    container state and its logs."""
    started = time.monotonic()
    subprocess.run(["docker", "stop", "-t", str(grace), name], check=True, capture_output=True, timeout=grace + 30)
    elapsed = time.monotonic() - started
    state = json.loads(docker("inspect", name).stdout)[0]["State"]
    logs = docker("logs", name, check=False)
    return elapsed, state, logs.stdout + logs.stderr


def give_back(base: Path, image_name: str) -> None:
    """Files written by the container belong to root; hand them back to a non-root user."""
    if os.getuid() == 0 or not base.exists():
        return
    subprocess.run(["docker", "run", "--rm", "--entrypoint", "chown", "-v", f"{base}:/opt/ml", image_name,
                    "-R", f"{os.getuid()}:{os.getgid()}", "/opt/ml"], capture_output=True, timeout=120)


class Hosts:
    """SageMaker's training hosts: one container per host (`algo-1`, `algo-2`, ...) on a network of
    its own, each with its own /opt/ml (`bases[host]`) and a resourceconfig.json naming all of
    them. Container and network names are unique; the hosts still see each other as algo-N
    (hostname + network alias). `mounts` are extra `-v` specs given to every host."""

    def __init__(self, image: str, bases: Mapping[str, Path], *, prefix: str = "alsreco-test",
                 env: Mapping[str, str] | None = None, memory: str | None = None, memory_swap: str | None = None,
                 mounts: Sequence[str] = (), command: Sequence[str] = ("train",)):
        run = uuid.uuid4().hex[:8]
        self.image, self.bases, self.hosts = image, dict(bases), tuple(sorted(bases))
        self.net = f"{prefix}-{run}"
        self.names = {h: f"{prefix}-{h}-{run}" for h in self.hosts}
        self.ids: dict[str, str] = {}
        self.started: dict[str, float] = {}
        self._options = [x for k, v in (env or {}).items() for x in ("-e", f"{k}={v}")]
        self._options += (["--memory", memory] if memory else []) + (["--memory-swap", memory_swap] if memory_swap
                                                                      else [])
        self._options += [x for m in mounts for x in ("-v", m)]
        self._command = list(command)
        self._network = False

    def start(self) -> "Hosts":
        docker("network", "create", self.net)
        self._network = True
        for h in self.hosts:
            config = self.bases[h] / "input" / "config"
            config.mkdir(parents=True, exist_ok=True)
            (config / "resourceconfig.json").write_text(json.dumps(
                {"current_host": h, "hosts": list(self.hosts), "network_interface_name": "eth0"}))
            self.started[h] = time.time()
            self.ids[h] = docker("run", "-d", "--name", self.names[h], "--hostname", h, "--network", self.net,
                                 "--network-alias", h, *self._options, "-v", f"{self.bases[h]}:/opt/ml", self.image,
                                 *self._command).stdout.strip()
        return self

    def running(self, h: str) -> bool:
        return docker("inspect", "-f", "{{.State.Running}}", self.names[h], check=False).stdout.strip() == "true"

    def wait(self, h: str, timeout: float = 900) -> int:
        return int(docker("wait", self.names[h], timeout=timeout).stdout.strip())

    def state(self, h: str) -> dict[str, Any]:
        r = docker("inspect", self.names[h], check=False)
        return json.loads(r.stdout)[0]["State"] if r.returncode == 0 else {}

    def logs(self, h: str) -> str:
        r = docker("logs", self.names[h], check=False)
        return r.stdout + r.stderr

    def close(self) -> None:
        for name in self.names.values():
            docker("rm", "-f", name, check=False, timeout=120)
        if self._network:
            docker("network", "rm", self.net, check=False, timeout=120)
            self._network = False


# ----------------------------------------------------------------------------- memory
_V1, _V2 = "memory.max_usage_in_bytes", "memory.peak"


def _cgroup_dir(container_id: str) -> Path | None:
    """The container's memory cgroup as the host sees it (cgroup v1 or v2, cgroupfs or systemd driver)."""
    for d in (f"/sys/fs/cgroup/memory/docker/{container_id}", f"/sys/fs/cgroup/memory/system.slice/docker-"
              f"{container_id}.scope", f"/sys/fs/cgroup/system.slice/docker-{container_id}.scope",
              f"/sys/fs/cgroup/docker/{container_id}"):
        if Path(d, "memory.stat").is_file():
            return Path(d)
    return None


def _parse(files: Mapping[str, str]) -> dict[str, int]:
    """usage / kernel peak / working set (usage - inactive file cache, what `docker stats` shows) / anon,
    and how often the limit was hit, from the cgroup's files (v1 or v2 names)."""
    stat = {k: int(v) for k, v in (ln.split() for ln in files.get("memory.stat", "").splitlines() if ln.strip())}
    v1 = _V1 in files
    usage = int(files.get("memory.usage_in_bytes" if v1 else "memory.current", "0") or 0)
    inactive = stat.get("total_inactive_file" if v1 else "inactive_file", 0)
    hits = (int(files.get("memory.failcnt", "0") or 0) if v1 else
            int(dict(ln.split() for ln in files.get("memory.events", "").splitlines() if ln.strip()).get("max", 0)))
    return {"usage": usage, "peak": int(files.get(_V1 if v1 else _V2, "0") or 0),
            "working_set": max(0, usage - inactive), "anon": stat.get("total_rss" if v1 else "anon", 0),
            "limit_hits": hits}


# Which process of an alsreco container is which (first match of its command line).
_ROLES = (("executor JVM", "CoarseGrainedExecutorBackend"), ("driver JVM", "SparkSubmit"),
          ("master JVM", "deploy.master.Master"), ("worker JVM", "deploy.worker.Worker"),
          ("Python workers", "pyspark.daemon"), ("Python workers", "pyspark/worker"),
          ("Python driver", "train"))


def role_of(cmdline: str) -> str:
    return next((role for role, mark in _ROLES if mark in cmdline), "other")


def process_rss(cgroup: Path) -> dict[str, int]:
    """Resident memory (bytes) of the cgroup's processes, summed by `role_of` (host /proc)."""
    out: dict[str, int] = {}
    listing = cgroup / "cgroup.procs"
    for pid in listing.read_text().split() if listing.is_file() else ():
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # exited between the listing and the read
        role = role_of(cmd)
        out[role] = out.get(role, 0) + procs.rss_bytes(int(pid))
    return out


_NAMES = ("memory.stat", _V1, "memory.usage_in_bytes", "memory.failcnt", _V2, "memory.current", "memory.events")
_EXEC = ("for f in " + " ".join(_NAMES) + "; do for d in /sys/fs/cgroup/memory /sys/fs/cgroup; do "
         "[ -f $d/$f ] && { echo \"== $f\"; cat $d/$f; break; }; done; done")


class MemorySampler:
    """Peak memory of one running container, from its memory cgroup, every `interval` s until stopped.

    Read from the host's /sys/fs/cgroup when the engine runs here (no cost to the container), else
    with `docker exec <name> cat` of the container's own cgroup files. `peak_mb` is the kernel's own
    high-water mark (memory.max_usage_in_bytes / memory.peak: page cache included, so it reaches the
    limit whenever files are read); `peak_working_set_mb` and `peak_anon_mb` are sampled maxima of
    usage minus inactive file cache (`docker stats`' figure) and of anonymous memory (the processes'
    own); `limit_hits` counts allocations that met the limit (memory.failcnt / memory.events max)."""

    def __init__(self, name: str, container_id: str, interval: float = 1.0):
        self.name, self.interval = name, interval
        self.dir = _cgroup_dir(container_id)
        self.source = f"host cgroup {self.dir}" if self.dir else "docker exec cat /sys/fs/cgroup/..."
        self.peaks = {"usage": 0, "peak": 0, "working_set": 0, "anon": 0, "limit_hits": 0}
        self.samples = 0
        self.roles: dict[str, int] = {}  # peak RSS by process role (host /proc; empty without it)
        self.at_peak: dict[str, int] = {}  # RSS by role in the sample with the highest anonymous memory
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"mem-{name}", daemon=True)

    def _read(self) -> dict[str, str]:
        if self.dir is not None:
            return {f: (self.dir / f).read_text() for f in _NAMES if (self.dir / f).is_file()}
        r = docker("exec", self.name, "sh", "-c", _EXEC, check=False, timeout=20)
        out: dict[str, str] = {}
        for chunk in r.stdout.split("== ")[1:]:
            head, _, body = chunk.partition("\n")
            out[head.strip()] = body
        return out

    def now(self) -> dict[str, float]:
        """One reading, in MB: usage, working set (usage minus inactive file cache) and anonymous memory."""
        got = _parse(self._read())
        return {k: round(got.get(k, 0) / MB, 1) for k in ("usage", "working_set", "anon")}

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                now = _parse(self._read())
            except (OSError, ValueError, subprocess.SubprocessError):
                now = {}  # the container (or its cgroup) is gone
            if now.get("usage"):
                self.samples += 1
                if self.dir is not None:
                    self._roles(now.get("anon", 0) >= self.peaks["anon"])
                self.peaks = {k: max(v, now.get(k, 0)) for k, v in self.peaks.items()}
            self._stop.wait(self.interval)

    def _roles(self, new_peak: bool) -> None:
        try:
            by_role = process_rss(self.dir)
        except OSError:
            return
        self.roles = {r: max(self.roles.get(r, 0), v) for r, v in {**self.roles, **by_role}.items()}
        if new_peak and by_role:
            self.at_peak = by_role

    def start(self) -> "MemorySampler":
        self._thread.start()
        return self

    def stop(self) -> dict[str, Any]:
        self._stop.set()
        self._thread.join()
        p = self.peaks
        return {"peak_mb": round(p["peak"] / MB, 1), "peak_working_set_mb": round(p["working_set"] / MB, 1),
                "peak_anon_mb": round(p["anon"] / MB, 1), "limit_hits": p["limit_hits"], "samples": self.samples,
                "source": self.source,
                "process_peak_rss_mb": {r: round(v / MB) for r, v in sorted(self.roles.items())},
                "rss_at_anon_peak_mb": {r: round(v / MB) for r, v in sorted(self.at_peak.items())}}
