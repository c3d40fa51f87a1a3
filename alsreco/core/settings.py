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
MULTI_MODEL = "SAGEMAKER_MULTI_MODEL"  # SageMaker multi-model endpoints (what its own containers read)
ENDPOINT_TYPE = "ALSRECO_ENDPOINT_TYPE"  # realtime | serverless | async
MAX_RESPONSE_MB = "ALSRECO_MAX_RESPONSE_MB"
MODEL_MEMORY_FRACTION = "ALSRECO_MODEL_MEMORY_FRACTION"
MODEL_MEMORY_MB = "ALSRECO_MODEL_MEMORY_MB"
BLAS_THREADS = "ALSRECO_BLAS_THREADS"
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
ENDPOINT_TYPES = ("realtime", "serverless", "async")
# The largest answer InvokeEndpoint passes back (MB = MiB): 6 MB real-time, 4 MB serverless; async
# inference writes the answer to S3 (no limit here, streamed like batch transform).
RESPONSE_MB = {"realtime": 6.0, "serverless": 4.0, "async": 0.0}
ASYNC_TIMEOUT = 900  # InvokeEndpointAsync's default InvocationTimeoutSeconds (at most 3600)
DEFAULT_MODEL_MEMORY_FRACTION = 0.7


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
    # endpoint kinds (docs/deploy.md)
    endpoint_type: str = "realtime"  # realtime | serverless | async (ALSRECO_ENDPOINT_TYPE)
    max_response_mb: float | None = None  # None: the endpoint type's limit (6 / 4 MB, async none); 0 = none
    multi_model: bool = False  # SAGEMAKER_MULTI_MODEL=true: the multi-model endpoint contract (serve/models)
    model_memory_fraction: float = DEFAULT_MODEL_MEMORY_FRACTION  # of the container's memory, for models
    model_memory_mb: int = 0  # the models' memory budget in MB; 0 = model_memory_fraction of the container's
    blas_threads: int = 1  # OpenBLAS threads per serving worker (the workers are the parallelism)
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
        kind = get(ENDPOINT_TYPE).lower() or "realtime"
        if kind not in ENDPOINT_TYPES:
            raise UserError(f"{ENDPOINT_TYPE}={get(ENDPOINT_TYPE)!r} must be one of {', '.join(ENDPOINT_TYPES)}")
        bulk = _batch(env) or kind == "async"  # long answers, streamed: threads keep the heartbeat going
        threads = _int(env, SERVER_THREADS, BATCH_THREADS if bulk else 1, 1)
        # serverless: one worker, as SageMaker recommends (one invocation at a time per container)
        workers = 1 if kind == "serverless" and not _batch(env) else default_workers(threads)
        return cls(
            base_dir=Path(get(BASE_DIR) or DEFAULT_BASE_DIR),
            port=_int(env, BIND_TO_PORT, 8080, 1),
            workers=_int(env, SERVER_WORKERS, workers, 1),
            timeout=_int(env, SERVER_TIMEOUT, ASYNC_TIMEOUT if kind == "async" else 60, 1),
            threads=threads,
            max_payload_mb=max(MIN_PAYLOAD_MB, _int(env, MAX_PAYLOAD_IN_MB, MIN_PAYLOAD_MB, 1)),
            batch=_batch(env),
            endpoint_type=kind,
            max_response_mb=_number(env, MAX_RESPONSE_MB, 0.0) if get(MAX_RESPONSE_MB) else None,
            multi_model=_flag(env, MULTI_MODEL),
            model_memory_fraction=_fraction(env, MODEL_MEMORY_FRACTION, DEFAULT_MODEL_MEMORY_FRACTION),
            model_memory_mb=_int(env, MODEL_MEMORY_MB, 0, 0),
            blas_threads=_int(env, BLAS_THREADS, 1, 1),
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

    @property
    def bulk(self) -> bool:
        """Batch transform or async inference: no per-request customer cap (the payload size bounds a
        request) and answers streamed in bounded chunks. Real-time answers are one body."""
        return self.batch or self.endpoint_type == "async"

    @property
    def max_response_bytes(self) -> int:
        """The largest answer to a request (0 = no limit): the endpoint type's (6 MB real-time, 4 MB
        serverless, none for async inference and batch transform) unless ALSRECO_MAX_RESPONSE_MB says."""
        if self.batch:
            return 0
        mb = RESPONSE_MB[self.endpoint_type] if self.max_response_mb is None else self.max_response_mb
        return int(mb * 1024 * 1024)


def default_workers(threads: int, cpus: int | None = None) -> int:
    """Sync workers: CPUs + 1 -- a big request occupies a whole worker, so single-customer requests
    need a spare one, while more processes than that only add context switches (measured on 2 cores
    with 2, 3 and 5 workers, benchmarks/RESULTS.md). Threaded workers: one per CPU."""
    cpus = cpus or os.cpu_count() or 1
    return cpus + 1 if threads == 1 else cpus


def _batch(env: Mapping[str, str]) -> bool:
    return _flag(env, BATCH)


def _flag(env: Mapping[str, str], name: str) -> bool:
    """true / 1 / yes in any case (SageMaker sets e.g. SAGEMAKER_BATCH=True)."""
    return (env.get(name) or "").strip().lower() in ("true", "1", "yes")


def _number(env: Mapping[str, str], name: str, lo: float) -> float:
    raw = (env.get(name) or "").strip()
    try:
        value = float(raw)
    except ValueError:
        raise UserError(f"{name}={raw!r} is not a number") from None
    if not value >= lo or value == float("inf"):
        raise UserError(f"{name}={raw!r} must be a finite number, at least {lo:g}")
    return value


def _fraction(env: Mapping[str, str], name: str, default: float) -> float:
    if not (env.get(name) or "").strip():
        return default
    value = _number(env, name, 0.0)
    if not 0 < value <= 1:
        raise UserError(f"{name}={value:g} must be a fraction in (0, 1]")
    return value


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
