"""The leader (hosts[0]): master + worker + status endpoint, and the driver's Spark settings."""
from __future__ import annotations

import logging
import time
from http.server import ThreadingHTTPServer
from typing import Any

from ...core.errors import AlgorithmError
from ..spark import resources
from ..spark.ports import (
    MASTER_PORT,
    MASTER_UI_PORT,
    STATUS_PORT,
    cluster_spark_settings,
)
from ..spark.session import JAVA_OPTIONS
from .config import ResourceConfig
from .daemons import Daemon, start_master, start_worker
from .network import (
    alive_workers,
    interface_address,
    master_state,
    missing_workers,
    resolve,
)
from .sizing import LEADER_EXECUTOR_MIN_BYTES, driver_conf, leader_runs_executor, worker_resources
from .status import FAILED, RUNNING, STARTING, SUCCEEDED, WAITING, Status, serve_status

log = logging.getLogger(__name__)
ACK_WAIT = 30.0  # the leader waits this long for workers to read the final state
POLL = 1.0


class Leader:
    """Master + worker (`sizing.leader_runs_executor`) + status endpoint on hosts[0]; sets the driver's
    Spark settings."""

    def __init__(self, rc: ResourceConfig, deadline_s: float, spark_home: str = "", daemon_memory: str = "512m"):
        self.rc = rc
        self.deadline_s = deadline_s
        self.spark_home = spark_home
        self.daemon_memory = daemon_memory
        self.status = Status()
        self.daemons: list[Daemon] = []
        self.server: ThreadingHTTPServer | None = None
        self.addresses: dict[str, str] = {}
        self.worker_hosts = rc.hosts  # the hosts whose workers the job waits for

    def start(self) -> dict[str, str]:
        """Form the cluster; return the driver's Spark settings (master included)."""
        deadline = time.monotonic() + self.deadline_s
        bind_ip = interface_address(self.rc.network_interface_name)
        self.addresses[self.rc.leader] = resolve(self.rc.leader, deadline)
        self.server = serve_status(self.status, bind_ip or "0.0.0.0")
        self.daemons.append(start_master(self.rc.leader, bind_ip, self.spark_home, self.daemon_memory))
        memory = resources.memory_limit_bytes()
        if leader_runs_executor(memory):
            cores, memory_mb = worker_resources(resources.cpu_count(), memory, leader=True)
            self.daemons.append(start_worker(self.rc.leader, f"spark://{self.rc.leader}:{MASTER_PORT}", bind_ip,
                                             cores, memory_mb, self.spark_home, self.daemon_memory))
        else:
            self.worker_hosts = tuple(h for h in self.rc.hosts if h != self.rc.leader)
            log.info("the leader's host runs no executor: its %d MiB (under %d MiB) go to the driver",
                     memory >> 20, LEADER_EXECUTOR_MIN_BYTES >> 20)
        state = self.wait_for_workers(deadline)
        conf = {**cluster_spark_settings(JAVA_OPTIONS),
                **driver_conf(self.rc, state, bind_ip, resources.memory_limit_bytes())}
        self.status.set(RUNNING)
        log.info("cluster of %d hosts ready: %s", len(self.rc.hosts),
                 ", ".join(f"{w['host']} ({w['cores']} cores, {w['memory']} MiB)" for w in alive_workers(state)))
        return conf

    def wait_for_workers(self, deadline: float) -> dict[str, Any]:
        last_error = "the master's web UI has not answered yet"
        missing = list(self.worker_hosts)
        next_log = 0.0
        while True:
            for d in self.daemons:
                if not d.alive():
                    raise AlgorithmError(f"the Spark {d.name} on the leader {self.rc.leader} exited with code "
                                         f"{d.proc.returncode} while the cluster was forming (see its log above)")
            try:
                state = master_state(self.rc.leader)
                if self.status.snapshot()["state"] == STARTING:
                    self.status.set(WAITING)  # the master answers: workers may register now
                missing = missing_workers(state, self.worker_hosts, self.addresses)
                if not missing:
                    return state
                last_error = f"no worker registered yet from {missing}"
            except (OSError, ValueError) as exc:
                last_error = f"master web UI: {exc}"
            if time.monotonic() >= deadline:
                raise AlgorithmError(
                    f"the Spark cluster did not form within {self.deadline_s:.0f} s: {last_error}. Every host "
                    f"of {list(self.rc.hosts)} must run this image and reach {self.rc.leader} on ports "
                    f"{MASTER_PORT}, {MASTER_UI_PORT}, {STATUS_PORT} (ALSRECO_CLUSTER_TIMEOUT sets the deadline)")
            if time.monotonic() >= next_log:
                log.info("waiting for Spark workers: %s", last_error)
                next_log = time.monotonic() + 10
            time.sleep(POLL)

    def finish(self, ok: bool, reason: str = "") -> None:
        """Announce the final state, wait (bounded) for live workers to read it, stop everything."""
        self.status.set(SUCCEEDED if ok else FAILED, reason)
        try:
            others = [h for h in self.rc.hosts if h != self.rc.leader]
            end = time.monotonic() + ACK_WAIT
            while others and time.monotonic() < end:
                with self.status.lock:
                    pending = [h for h in others if h not in self.status.acknowledged]
                if not pending:
                    break
                try:  # a worker that is gone will never read it
                    alive = {w.get("host") for w in alive_workers(master_state(self.rc.leader))}
                except (OSError, ValueError):
                    alive = set()
                if not any(h in alive or self.addresses.get(h) in alive for h in pending):
                    break
                time.sleep(0.5)
        finally:
            self.close()

    def close(self) -> None:
        for d in reversed(self.daemons):
            d.stop()
        self.daemons.clear()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
