"""A non-leader host: a Spark worker for the leader's master until the leader is done."""
from __future__ import annotations

import logging
import time
from typing import Any

from ...core.errors import AlgorithmError
from ..spark import resources
from ..spark.ports import MASTER_PORT, STATUS_PORT
from .config import ResourceConfig
from .daemons import start_worker
from .network import get_json, interface_address, resolve
from .sizing import worker_resources
from .status import FAILED, FINAL, STARTING

log = logging.getLogger(__name__)
LOST_LEADER_GRACE = 60.0  # a worker gives up after the leader is silent this long
LEADER_EXIT_WAIT = 120.0  # after success, how long to wait for the leader to shut down
POLL = 1.0


def run_worker(rc: ResourceConfig, deadline_s: float, spark_home: str = "", daemon_memory: str = "512m") -> None:
    """A non-leader host: a Spark worker for the leader's master until the leader is done.

    Done means gone: after the leader reports success this host keeps following its status
    endpoint until it stops answering (the leader has stopped Spark and is exiting), so that
    the platform, which ends a job when its first host exits, never stops the leader early."""
    deadline = time.monotonic() + deadline_s
    bind_ip = interface_address(rc.network_interface_name)
    resolve(rc.current_host, deadline)
    resolve(rc.leader, deadline)
    status_url = f"http://{rc.leader}:{STATUS_PORT}/?host={rc.current_host}"
    # The leader's status endpoint is up before its master: wait until the master answers (bounded).
    state = _wait_status(rc, status_url, deadline)
    while state["state"] == STARTING:
        if time.monotonic() >= deadline:
            raise AlgorithmError(f"the Spark master on the leader {rc.leader} did not start before the deadline")
        time.sleep(POLL)
        state = _wait_status(rc, status_url, deadline)
    cores, memory_mb = worker_resources(resources.cpu_count(), resources.memory_limit_bytes())
    worker = start_worker(rc.current_host, f"spark://{rc.leader}:{MASTER_PORT}", bind_ip, cores, memory_mb,
                          spark_home, daemon_memory)
    try:
        silent_since: float | None = None
        while state["state"] not in FINAL:
            time.sleep(POLL)
            if not worker.alive():
                raise AlgorithmError(f"the Spark worker on {rc.current_host} exited with code "
                                     f"{worker.proc.returncode} (see its log above)")
            try:
                state = get_json(status_url)
                silent_since = None
            except (OSError, ValueError) as exc:
                silent_since = silent_since or time.monotonic()
                if time.monotonic() - silent_since > LOST_LEADER_GRACE:
                    raise AlgorithmError(
                        f"lost the leader {rc.leader}: its status endpoint (port {STATUS_PORT}) has not answered "
                        f"for {LOST_LEADER_GRACE:.0f} s while the job was {state['state']} ({exc})") from None
    finally:
        worker.stop()
    if state["state"] == FAILED:
        raise AlgorithmError(f"the leader {rc.leader} failed: {state.get('reason') or 'no reason given'}")
    _wait_until_gone(status_url)
    log.info("the leader %s finished the job; worker %s done", rc.leader, rc.current_host)


def _wait_until_gone(url: str, limit_s: float = LEADER_EXIT_WAIT) -> None:
    """Follow the leader's status endpoint until it stops answering (bounded)."""
    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        try:
            get_json(url, timeout_s=2.0)
        except (OSError, ValueError):
            return
        time.sleep(0.2)
    log.warning("the leader still answers %.0f s after reporting success; exiting anyway", limit_s)


def _wait_status(rc: ResourceConfig, url: str, deadline: float) -> dict[str, Any]:
    next_log = 0.0
    while True:
        try:
            return get_json(url)
        except (OSError, ValueError) as exc:
            if time.monotonic() >= deadline:
                raise AlgorithmError(f"the leader {rc.leader} did not answer on port {STATUS_PORT} before the "
                                     f"deadline ({exc}); is it running this image?") from None
            if time.monotonic() >= next_log:
                log.info("waiting for the leader %s: %s", rc.leader, exc)
                next_log = time.monotonic() + 10
            time.sleep(POLL)
