"""Every environment variable alsreco reads, in one snapshot taken at a process's entry point.

`Settings.from_env()` is called once by `train`, `serve` and the gunicorn runner; everything
below them receives the object (or the values it needs) as an argument, so no module reads
`os.environ` on its own and tests pass a `Settings` instead of patching the environment.
Variable names are constants here, as SageMaker's training toolkit does.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

from .errors import UserError

# --- names ------------------------------------------------------------------------------
BASE_DIR = "SAGEMAKER_BASE_DIR"
BIND_TO_PORT = "SAGEMAKER_BIND_TO_PORT"
MAX_PAYLOAD_IN_MB = "SAGEMAKER_MAX_PAYLOAD_IN_MB"
BATCH = "SAGEMAKER_BATCH"
SERVER_WORKERS = "MODEL_SERVER_WORKERS"
SERVER_TIMEOUT = "MODEL_SERVER_TIMEOUT"
SERVER_THREADS = "MODEL_SERVER_THREADS"
SPEC_FILE = "ALSRECO_SPEC_FILE"
DRIVER_MEMORY = "ALSRECO_DRIVER_MEMORY"
SPARK_CONF = "ALSRECO_SPARK_CONF"
SPARK_CDS = "ALSRECO_SPARK_CDS"
PANDAS_MAX_MB = "ALSRECO_PANDAS_MAX_MB"
CHECKPOINT_DIR = "ALSRECO_CHECKPOINT_DIR"
CLUSTER_TIMEOUT = "ALSRECO_CLUSTER_TIMEOUT"
SPARK_MASTER = "SPARK_MASTER"
SPARK_HOME = "SPARK_HOME"
SPARK_LOCAL_IP = "SPARK_LOCAL_IP"
SPARK_DAEMON_MEMORY = "SPARK_DAEMON_MEMORY"
TMPDIR = "TMPDIR"

DEFAULT_BASE_DIR = "/opt/ml"
MIN_PAYLOAD_MB = 6
DEFAULT_CLUSTER_TIMEOUT = 300.0
BATCH_THREADS = 4  # gthread workers in batch transform: the heartbeat goes on while a response streams


@dataclass(frozen=True)
class Settings:
    base_dir: Path = Path(DEFAULT_BASE_DIR)
    # serve
    port: int = 8080
    workers: int = 1
    timeout: int = 60  # seconds a worker may spend on one request
    max_payload_mb: int = MIN_PAYLOAD_MB
    batch: bool = False  # SageMaker batch transform (SAGEMAKER_BATCH=true)
    threads: int = 1  # threads per gunicorn worker: 1 = sync workers; batch transform: 4 (gthread)
    # SIGTERM budget inside SageMaker's 30 s: nginx stops accepting and lets in-flight requests
    # finish for `drain_seconds`, then gunicorn gets `graceful_timeout`; `serve` exits by `stop_seconds`.
    drain_seconds: int = 25
    graceful_timeout: int = 2
    stop_seconds: int = 28
    # train
    spec_file: Path | None = None  # None = the source tree's als_spec.json
    driver_memory: str = ""  # "" = sized from the container
    spark_master: str = ""  # "" = local[cores] (or the job's own cluster)
    spark_conf: Mapping[str, str] = field(default_factory=dict)  # extra Spark settings
    spark_cds: str = ""  # the driver JVM's class-data archive: "" = beside pyspark, "off" = none
    pandas_max_mb: int = -1  # inputs up to this size are read with pandas on one host; -1 = by memory
    checkpoint_dir: str = ""
    cluster_timeout: float = DEFAULT_CLUSTER_TIMEOUT
    spark_home: str = ""
    spark_local_ip: str = ""
    spark_daemon_memory: str = "512m"
    tmpdir: str = "/tmp"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        """Parse the environment; a malformed value is a UserError naming the variable."""
        env = os.environ if environ is None else environ
        get = lambda name: (env.get(name) or "").strip()  # noqa: E731
        threads = _int(env, SERVER_THREADS, BATCH_THREADS if _batch(env) else 1, 1)
        return cls(
            base_dir=Path(get(BASE_DIR) or DEFAULT_BASE_DIR),
            port=_int(env, BIND_TO_PORT, 8080, 1),
            workers=_int(env, SERVER_WORKERS, default_workers(threads), 1),
            timeout=_int(env, SERVER_TIMEOUT, 60, 1),
            threads=threads,
            max_payload_mb=max(MIN_PAYLOAD_MB, _int(env, MAX_PAYLOAD_IN_MB, MIN_PAYLOAD_MB, 1)),
            batch=_batch(env),
            spec_file=Path(get(SPEC_FILE)) if get(SPEC_FILE) else None,
            driver_memory=get(DRIVER_MEMORY),
            spark_master=get(SPARK_MASTER),
            spark_conf=_spark_conf(get(SPARK_CONF)),
            spark_cds=get(SPARK_CDS),
            pandas_max_mb=_int(env, PANDAS_MAX_MB, -1, 0),
            checkpoint_dir=get(CHECKPOINT_DIR),
            cluster_timeout=_seconds(env, CLUSTER_TIMEOUT, DEFAULT_CLUSTER_TIMEOUT),
            spark_home=get(SPARK_HOME),
            spark_local_ip=get(SPARK_LOCAL_IP),
            spark_daemon_memory=get(SPARK_DAEMON_MEMORY) or "512m",
            tmpdir=get(TMPDIR) or "/tmp",
        )

    @classmethod
    def base_only(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        """Defaults but for the base directory: where to write a failure when the rest is malformed."""
        env = os.environ if environ is None else environ
        return cls(base_dir=Path((env.get(BASE_DIR) or "").strip() or DEFAULT_BASE_DIR))

    def with_(self, **changes: Any) -> "Settings":
        return replace(self, **changes)

    @property
    def max_body_bytes(self) -> int:
        return self.max_payload_mb * 1024 * 1024


def default_workers(threads: int, cpus: int | None = None) -> int:
    """Sync workers: CPUs + 1 -- a big request occupies a whole worker, so single-customer requests
    need a spare one, while more processes than that only add context switches (measured on 2 cores
    with 2, 3 and 5 workers, benchmarks/RESULTS.md). Threaded workers: one per CPU."""
    cpus = cpus or os.cpu_count() or 1
    return cpus + 1 if threads == 1 else cpus


def _batch(env: Mapping[str, str]) -> bool:
    return (env.get(BATCH) or "").strip().lower() in ("true", "1", "yes")


def _int(env: Mapping[str, str], name: str, default: int, lo: int) -> int:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = int(float(raw))
    except ValueError:
        raise UserError(f"{name}={raw!r} is not a number") from None
    if value < lo:
        raise UserError(f"{name}={raw!r} must be at least {lo}")
    return value


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        return max(1.0, float(raw))
    except ValueError:
        raise UserError(f"{name} must be a number of seconds, got {raw!r}") from None


def _spark_conf(raw: str) -> dict[str, str]:
    if not raw:
        return {}
    try:
        conf = json.loads(raw)
    except ValueError as exc:
        raise UserError(f"{SPARK_CONF} is not a JSON object: {exc}") from None
    if not isinstance(conf, dict):
        raise UserError(f"{SPARK_CONF} must be a JSON object of Spark settings")
    return {str(k): str(v) for k, v in conf.items()}
