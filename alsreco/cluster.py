"""Multi-instance training: the hosts of a SageMaker job form one Spark standalone cluster.

SageMaker runs `train` on every host of a job with `InstanceCount > 1`, each with the same
`/opt/ml` layout and a `/opt/ml/input/config/resourceconfig.json`:

    {"current_host": "algo-2", "hosts": ["algo-1", "algo-2"], "network_interface_name": "eth0"}

Roles (hosts sorted; `hosts[0]` leads):

- leader: starts a Spark master and a worker, serves a tiny job-status endpoint, waits until
  every other host's worker has registered (deadline `ALSRECO_CLUSTER_TIMEOUT`, default 300 s),
  then runs the normal training path as the driver against `spark://<leader>:7077`, with one
  executor per host sized from the smallest registered worker. It alone writes the model and
  `/opt/ml/output/data`.
- worker (every other host): resolves the leader (DNS retried until the deadline), starts a
  Spark worker pointed at the leader's master and follows the leader's status endpoint. It
  writes nothing to `/opt/ml/model` or `/opt/ml/output/data` and exits 0 once the leader
  reports success, non-zero (with `/opt/ml/output/failure`) if the leader reports a failure or
  stops answering for `LOST_LEADER_GRACE` seconds before reporting anything final.
- single: no `resourceconfig.json`, or one host: today's local mode, untouched.

Why a status endpoint and not the master's JSON: when a driver JVM dies (killed, OOM) the
standalone master records its application as FINISHED, exactly like a clean `spark.stop()`, and
the application ends before the leader writes the model. A success the leader announces itself,
after the model is written, is the only unambiguous signal. The leader then waits (at most
`ACK_WAIT` s) until every worker still alive has read the final state, so workers do not have to
guess from a vanished master.

Fixed ports (open between the hosts; SageMaker's VPC needs no change, hosts of one job can talk):

| port | what |
|---|---|
| 7077 | Spark master (RPC) |
| 8081 | Spark master web UI / JSON (`/json/`) |
| 7078 | Spark worker (RPC) |
| 8082 | Spark worker web UI |
| 7079 | driver RPC (`spark.driver.port`) |
| 7080 | driver block manager (`spark.driver.blockManager.port`) |
| 7081 | executor block managers (`spark.blockManager.port`) |
| 8083 | alsreco job status (leader, HTTP JSON) |

(Spark moves to the next port, up to 16 tries, if one is taken.)
"""
from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import parse_qs, urlparse

from . import channels, hyperparameters
from .errors import AlgorithmError, SigtermInterrupt, Terminated, UserError
from .paths import Paths, read_json_object

log = logging.getLogger(__name__)

MASTER_PORT = 7077
MASTER_UI_PORT = 8081
WORKER_PORT = 7078
WORKER_UI_PORT = 8082
DRIVER_PORT = 7079
DRIVER_BLOCK_MANAGER_PORT = 7080
BLOCK_MANAGER_PORT = 7081
STATUS_PORT = 8083

DEFAULT_TIMEOUT = 300.0          # DNS, leader reachable, all workers registered
LOST_LEADER_GRACE = 60.0         # a worker gives up after the leader is silent this long
ACK_WAIT = 30.0                  # the leader waits this long for workers to read the final state
POLL = 1.0
WORKER_MEMORY_FRACTION = 0.45    # each host offers this much memory to its executor
LEADER_DRIVER_FRACTION = 0.35    # the leader's driver (data loading in pandas, factors) gets this

# Job states served by the leader.
STARTING, WAITING, RUNNING, SUCCEEDED, FAILED = "starting", "waiting_for_workers", "running", "succeeded", "failed"
FINAL = (SUCCEEDED, FAILED)


# --- configuration -----------------------------------------------------------------------

@dataclass(frozen=True)
class ResourceConfig:
    current_host: str
    hosts: tuple[str, ...]
    network_interface_name: str | None = None

    @property
    def leader(self) -> str:
        return self.hosts[0]

    @property
    def is_leader(self) -> bool:
        return self.current_host == self.leader

    @property
    def multi_host(self) -> bool:
        return len(self.hosts) > 1


def load_resource_config(paths: Paths) -> ResourceConfig | None:
    """`resourceconfig.json`, validated; None when absent (not a SageMaker training host)."""
    path = paths.resourceconfig_file
    raw = read_json_object(path)
    if raw is None:
        return None
    hosts = raw.get("hosts")
    current = raw.get("current_host")
    if not isinstance(hosts, list) or not hosts or not all(isinstance(h, str) and h for h in hosts):
        raise UserError(f"{path}: 'hosts' must be a non-empty list of host names, got {hosts!r}")
    if not isinstance(current, str) or current not in hosts:
        raise UserError(f"{path}: 'current_host' ({current!r}) must be one of 'hosts' {hosts}")
    iface = raw.get("network_interface_name")
    return ResourceConfig(current, tuple(sorted(set(hosts))), iface if isinstance(iface, str) and iface else None)


def check_input_distribution(paths: Paths) -> None:
    """Every host must see all the data: the driver reads it locally on the leader."""
    config = channels.input_data_config(paths)
    sharded = sorted(name for name, ch in config.items()
                     if isinstance(ch, dict) and str(ch.get("S3DistributionType", "")).lower() == "shardedbys3key")
    if sharded:
        raise UserError(
            f"channel(s) {sharded} use S3DistributionType=ShardedByS3Key: with more than one instance each host "
            f"then holds only a part of the data, but the leader reads the whole training set; "
            f"use S3DistributionType=FullyReplicated (distribution='FullyReplicated' in the SDK's TrainingInput) "
            f"or train on one instance")


def timeout(environ: Mapping[str, str] | None = None) -> float:
    env = os.environ if environ is None else environ
    try:
        return max(1.0, float(env.get("ALSRECO_CLUSTER_TIMEOUT") or DEFAULT_TIMEOUT))
    except ValueError:
        raise UserError(f"ALSRECO_CLUSTER_TIMEOUT must be a number of seconds, got "
                        f"{env.get('ALSRECO_CLUSTER_TIMEOUT')!r}") from None


# --- network -----------------------------------------------------------------------------

def resolve(host: str, deadline: float, sleep: Callable[[float], None] = time.sleep,
            lookup: Callable[[str], str] = socket.gethostbyname) -> str:
    """The host's IPv4 address, retrying DNS until `deadline` (a time.monotonic() value)."""
    delay = 0.5
    while True:
        try:
            return lookup(host)
        except OSError as exc:
            if time.monotonic() >= deadline:
                raise AlgorithmError(f"host name {host!r} did not resolve before the deadline: {exc}") from None
            log.info("waiting for DNS of %s (%s)", host, exc)
            sleep(delay)
            delay = min(delay * 2, 5.0)


def interface_address(name: str | None) -> str | None:
    """IPv4 address of a network interface (SIOCGIFADDR), None if unknown."""
    if not name:
        return None
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            packed = fcntl.ioctl(s.fileno(), 0x8915, struct.pack("256s", name[:15].encode()))
        return socket.inet_ntoa(packed[20:24])
    except OSError:
        log.warning("network interface %s has no IPv4 address; binding by host name", name)
        return None


def get_json(url: str, timeout_s: float = 3.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout_s) as resp:  # noqa: S310 - cluster-internal http
        return json.loads(resp.read().decode())


def master_state(host: str, port: int = MASTER_UI_PORT) -> dict[str, Any]:
    return get_json(f"http://{host}:{port}/json/")


def alive_workers(state: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [w for w in state.get("workers", []) if w.get("state") == "ALIVE"]


def missing_workers(state: Mapping[str, Any], hosts: tuple[str, ...], addresses: Mapping[str, str]) -> list[str]:
    """Hosts without an ALIVE worker in the master's state (workers register by name or IP)."""
    seen = {w.get("host") for w in alive_workers(state)}
    return [h for h in hosts if h not in seen and addresses.get(h) not in seen]


# --- sizing ------------------------------------------------------------------------------

def worker_resources(cores: int, memory_bytes: int) -> tuple[int, int]:
    """(cores, MiB) a host's worker offers to executors."""
    return max(1, cores), max(512, int(memory_bytes * WORKER_MEMORY_FRACTION / (1024 * 1024)))


def driver_conf(rc: ResourceConfig, state: Mapping[str, Any], bind_address: str | None,
                memory_bytes: int) -> dict[str, str]:
    """Spark settings for the leader's driver, from the registered workers (one executor each)."""
    workers = alive_workers(state)
    if not workers:
        raise AlgorithmError("no Spark worker is registered with the leader's master")
    cores = min(int(w["cores"]) for w in workers)
    memory_mb = min(int(w["memory"]) for w in workers)
    total = cores * len(workers)
    return {
        "spark.master": f"spark://{rc.leader}:{MASTER_PORT}",
        "spark.driver.host": rc.leader,
        "spark.driver.bindAddress": bind_address or "0.0.0.0",
        "spark.driver.memory": f"{max(1024, int(memory_bytes * LEADER_DRIVER_FRACTION / (1024 * 1024)))}m",
        "spark.executor.cores": str(cores),
        "spark.executor.memory": f"{memory_mb}m",
        "spark.cores.max": str(total),
        "spark.default.parallelism": str(max(2, total)),
        "spark.sql.shuffle.partitions": str(max(2, total)),
        # Start the job only once every executor is there (bounded): tasks spread over all hosts.
        "spark.scheduler.minRegisteredResourcesRatio": "1.0",
        "spark.scheduler.maxRegisteredResourcesWaitingTime": "120s",
    }


def cluster_spark_settings(java_options: str) -> dict[str, str]:
    """Settings for any driver attached to a cluster (fixed, documented ports)."""
    return {
        "spark.driver.port": str(DRIVER_PORT),
        "spark.driver.blockManager.port": str(DRIVER_BLOCK_MANAGER_PORT),
        "spark.blockManager.port": str(BLOCK_MANAGER_PORT),
        "spark.executor.extraJavaOptions": java_options,
    }


def extra_conf(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """`ALSRECO_SPARK_CONF`: a JSON object of Spark settings layered over the defaults."""
    env = os.environ if environ is None else environ
    raw = env.get("ALSRECO_SPARK_CONF")
    if not raw:
        return {}
    try:
        conf = json.loads(raw)
    except ValueError as exc:
        raise UserError(f"ALSRECO_SPARK_CONF is not a JSON object: {exc}") from None
    if not isinstance(conf, dict):
        raise UserError("ALSRECO_SPARK_CONF must be a JSON object of Spark settings")
    return {str(k): str(v) for k, v in conf.items()}


# --- what took part ----------------------------------------------------------------------

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


# --- Spark daemons -----------------------------------------------------------------------

def spark_home() -> str:
    import pyspark
    return os.environ.get("SPARK_HOME") or os.path.dirname(pyspark.__file__)


class Daemon:
    """A Spark master or worker in the foreground (spark-class), output to our stderr."""

    def __init__(self, name: str, args: list[str], env: Mapping[str, str]):
        self.name = name
        home = spark_home()
        full = {**os.environ, "SPARK_HOME": home, "SPARK_DAEMON_MEMORY": os.environ.get("SPARK_DAEMON_MEMORY", "512m"),
                "SPARK_DAEMON_JAVA_OPTS": "-Dlog4j2.level=warn", "SPARK_NO_DAEMONIZE": "1", **env}
        cmd = [os.path.join(home, "bin", "spark-class"), *args]
        log.info("starting Spark %s: %s", name, " ".join(args))
        self.proc = subprocess.Popen(cmd, env=full, stdin=subprocess.DEVNULL, stdout=sys.stderr,
                                     stderr=sys.stderr, start_new_session=True)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout_s: float = 15.0) -> None:
        if self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, 15)
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, 9)
            self.proc.wait(timeout=10)
        except ProcessLookupError:
            pass


def start_master(host: str, bind_ip: str | None) -> Daemon:
    env = {"SPARK_LOCAL_IP": bind_ip} if bind_ip else {}
    return Daemon("master", ["org.apache.spark.deploy.master.Master", "--host", host, "--port", str(MASTER_PORT),
                             "--webui-port", str(MASTER_UI_PORT)], env)


def start_worker(host: str, master_url: str, bind_ip: str | None, cores: int, memory_mb: int) -> Daemon:
    work = tempfile.mkdtemp(prefix="alsreco-worker-")
    env = {"SPARK_WORKER_DIR": work, "SPARK_LOCAL_DIRS": work, "PYSPARK_PYTHON": sys.executable,
           **({"SPARK_LOCAL_IP": bind_ip} if bind_ip else {})}
    return Daemon("worker", ["org.apache.spark.deploy.worker.Worker", "--host", host, "--port", str(WORKER_PORT),
                             "--webui-port", str(WORKER_UI_PORT), "--cores", str(cores), "--memory",
                             f"{memory_mb}M", "--work-dir", work, master_url], env)


# --- the leader's status endpoint --------------------------------------------------------

@dataclass
class Status:
    state: str = STARTING
    reason: str = ""
    acknowledged: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {"state": self.state, "reason": self.reason}

    def set(self, state: str, reason: str = "") -> None:
        with self.lock:
            self.state, self.reason = state, reason


def serve_status(status: Status, bind: str, port: int = STATUS_PORT) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            snap = status.snapshot()
            host = (parse_qs(urlparse(self.path).query).get("host") or [""])[0]
            if host and snap["state"] in FINAL:
                with status.lock:
                    status.acknowledged.add(host)
            body = json.dumps(snap).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # quiet
            pass

    server = ThreadingHTTPServer((bind, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="alsreco-status", daemon=True).start()
    return server


# --- roles -------------------------------------------------------------------------------

class Leader:
    """Master + worker + status endpoint on hosts[0]; sets the driver's Spark settings."""

    def __init__(self, rc: ResourceConfig, deadline_s: float):
        self.rc = rc
        self.deadline_s = deadline_s
        self.status = Status()
        self.daemons: list[Daemon] = []
        self.server: ThreadingHTTPServer | None = None
        self.addresses: dict[str, str] = {}
        self.env_before: dict[str, str | None] = {}

    def start(self) -> None:
        from . import spark as spark_mod

        deadline = time.monotonic() + self.deadline_s
        bind_ip = interface_address(self.rc.network_interface_name)
        self.addresses[self.rc.leader] = resolve(self.rc.leader, deadline)
        self.server = serve_status(self.status, bind_ip or "0.0.0.0")
        self.daemons.append(start_master(self.rc.leader, bind_ip))
        cores, memory_mb = worker_resources(spark_mod.cpu_count(), spark_mod.memory_limit_bytes())
        self.daemons.append(start_worker(self.rc.leader, f"spark://{self.rc.leader}:{MASTER_PORT}", bind_ip,
                                         cores, memory_mb))
        state = self.wait_for_workers(deadline)
        conf = {**cluster_spark_settings(spark_mod.JAVA_OPTIONS),
                **driver_conf(self.rc, state, bind_ip, spark_mod.memory_limit_bytes())}
        self._setenv("SPARK_MASTER", conf.pop("spark.master"))
        self._setenv("ALSRECO_SPARK_CONF", json.dumps({**conf, **extra_conf()}))
        if bind_ip:
            self._setenv("SPARK_LOCAL_IP", bind_ip)
        self.status.set(RUNNING)
        log.info("cluster of %d hosts ready: %s", len(self.rc.hosts),
                 ", ".join(f"{w['host']} ({w['cores']} cores, {w['memory']} MiB)" for w in alive_workers(state)))

    def _setenv(self, key: str, value: str) -> None:
        self.env_before.setdefault(key, os.environ.get(key))
        os.environ[key] = value

    def wait_for_workers(self, deadline: float) -> dict[str, Any]:
        last_error = "the master's web UI has not answered yet"
        missing = list(self.rc.hosts)
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
                missing = missing_workers(state, self.rc.hosts, self.addresses)
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
        for key, value in self.env_before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self.env_before.clear()


def run_worker(rc: ResourceConfig, deadline_s: float) -> None:
    """A non-leader host: a Spark worker for the leader's master until the leader is done."""
    from . import spark as spark_mod

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
    cores, memory_mb = worker_resources(spark_mod.cpu_count(), spark_mod.memory_limit_bytes())
    worker = start_worker(rc.current_host, f"spark://{rc.leader}:{MASTER_PORT}", bind_ip, cores, memory_mb)
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
    log.info("the leader %s finished the job; worker %s done", rc.leader, rc.current_host)


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


def run_role(paths: Paths, run: Callable[[Paths], Any]) -> Any:
    """Dispatch on resourceconfig.json: single host -> `run(paths)` exactly as before."""
    rc = load_resource_config(paths)
    if rc is None or not rc.multi_host:
        master = hyperparameters.load(paths)["spark_master"]
        if master:  # the hyperparameter wins over SPARK_MASTER
            os.environ["SPARK_MASTER"] = master
        return run(paths)
    check_input_distribution(paths)
    deadline_s = timeout()
    log.info("multi-instance job: %s is %s of %s", rc.current_host, "the leader" if rc.is_leader else "a worker",
             list(rc.hosts))
    if not rc.is_leader:
        return run_worker(rc, deadline_s)
    leader = Leader(rc, deadline_s)
    try:
        leader.start()
        result = run(paths)
    except BaseException as exc:
        if isinstance(exc, (Terminated, SigtermInterrupt, KeyboardInterrupt)):  # every host is being stopped: no waiting
            leader.close()
            raise
        reason = str(exc) or type(exc).__name__
        try:
            leader.finish(False, f"{getattr(exc, 'kind', type(exc).__name__)}: {reason}"[:512])
        except BaseException:  # noqa: BLE001 - the original error matters more
            leader.close()
        raise
    leader.finish(True)
    return result
