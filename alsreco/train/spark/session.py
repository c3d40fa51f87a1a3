"""A SparkSession sized to the container before the JVM starts.

Driver memory comes from the cgroup limit (or /proc/meminfo), all cores are used, scratch
space goes under /tmp, logs are quiet, and a checkpoint directory keeps long ALS runs from
overflowing the stack (`/opt/ml/checkpoints` when SageMaker provides it).
"""
from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile

from ...core.paths import Paths
from ...core.settings import Settings
from . import cds
from .jvm import kill_jvm
from .ports import cluster_spark_settings
from .resources import MIB, cpu_count, memory_limit_bytes

log = logging.getLogger(__name__)
DRIVER_MEMORY_FRACTION = 0.6
# ... but at least this much is left to the Python driver and the JVM's own off-heap memory. Measured
# by `make bench-scale` on one 3 GB host (40M lines, 15M ratings): a 1,843m heap made a 2.3 GB JVM
# beside an 863 MB Python driver, and the kernel killed the JVM.
DRIVER_RESERVE_BYTES = 1792 * MIB
SMALL_DATA_RATINGS = 2_000_000
# A large thread stack: without a shared checkpoint directory (on a cluster) ALS lineage grows
# with every iteration and task (de)serialisation recurses through all of it. NIO keeps a direct
# buffer per thread as large as the largest socket write unless capped (off-heap, outside -Xmx).
JAVA_OPTIONS = "-XX:+UseParallelGC -Xss32m -Dlog4j2.level=warn -Djdk.nio.maxCachedBufferSize=262144"


def driver_heap_mb(memory_bytes: int) -> int:
    """The one-host driver's heap: DRIVER_MEMORY_FRACTION of the memory, at most all but
    DRIVER_RESERVE_BYTES (small hosts), at least 1 GiB."""
    return max(1024, int(min(memory_bytes * DRIVER_MEMORY_FRACTION, memory_bytes - DRIVER_RESERVE_BYTES) / MIB))


def session_config(paths: Paths, settings: Settings, ratings: int | None = None) -> dict[str, str]:
    """The Spark configuration for this machine (testable without a JVM).

    `ratings` (the number of customer x product pairs) tunes the JVM: below
    `SMALL_DATA_RATINGS` a training job is dominated by JIT warm-up, so the driver runs the
    quick C1 compiler only (measured: the sample trains in ~20 s instead of ~33 s).
    """
    cores = cpu_count()
    driver_memory = settings.driver_memory or f"{driver_heap_mb(memory_limit_bytes())}m"
    scratch = tempfile.mkdtemp(prefix="alsreco-spark-", dir=settings.tmpdir)
    master = settings.spark_master or f"local[{cores}]"
    small = ratings is not None and ratings < SMALL_DATA_RATINGS
    conf = {
        "spark.master": master,
        "spark.app.name": "alsreco-train",
        "spark.driver.memory": driver_memory,
        "spark.local.dir": scratch,
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": str(max(2, cores)),
        "spark.default.parallelism": str(max(2, cores)),
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        # the Spark data path (inputs/spark_read.py): timestamps are UTC, unparseable dates null
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.legacy.timeParserPolicy": "CORRECTED",
        "spark.sql.adaptive.enabled": "false",
        "spark.serializer": "org.apache.spark.serializer.KryoSerializer",
        "spark.driver.extraJavaOptions": JAVA_OPTIONS
        + (" -XX:TieredStopAtLevel=1" if small and master.startswith("local") else "")
        + cds.java_options(settings),
        "spark.sql.warehouse.dir": os.path.join(scratch, "warehouse"),
    }
    if not master.startswith("local"):
        # Attached to a cluster: parallelism follows the executors' cores (Spark's default),
        # not this machine's, and the driver listens on fixed, documented ports.
        del conf["spark.sql.shuffle.partitions"], conf["spark.default.parallelism"]
        conf.update(cluster_spark_settings(JAVA_OPTIONS))
    else:  # one host: bind to loopback, no interface guessing
        conf["spark.driver.host"] = conf["spark.driver.bindAddress"] = settings.spark_local_ip or "127.0.0.1"
    conf.update(settings.spark_conf)  # ALSRECO_SPARK_CONF, or the multi-host leader's settings
    return conf


def checkpoint_dir(paths: Paths, scratch: str) -> str:
    if paths.checkpoints_dir.is_dir():
        return str(paths.checkpoints_dir / "spark")
    return os.path.join(scratch, "checkpoints")


def start(paths: Paths, settings: Settings, ratings: int | None = None):
    """Start (or attach to) Spark and return the session."""
    from pyspark.sql import SparkSession

    config = session_config(paths, settings, ratings)
    builder = SparkSession.builder
    for key, value in config.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.alsreco_scratch = config["spark.local.dir"]  # known without asking the JVM (see stop)
    spark.sparkContext.setLogLevel("ERROR")
    if config["spark.master"].startswith("local"):
        # Python UDFs (date formats Spark cannot parse natively) run in this interpreter, not in
        # whichever python3 is first on PATH (pyspark only reads PYSPARK_PYTHON from the environment)
        spark.sparkContext.pythonExec = sys.executable
        spark.sparkContext.setCheckpointDir(checkpoint_dir(paths, config["spark.local.dir"]))
    elif settings.checkpoint_dir:  # on a cluster only a shared (hdfs://, s3a://) dir works
        spark.sparkContext.setCheckpointDir(settings.checkpoint_dir)
    log.info("spark %s: master=%s driver.memory=%s class-data archive: %s", spark.version, config["spark.master"],
             config["spark.driver.memory"], cds.status(spark, settings))
    return spark


def stop(spark, force: bool = False) -> None:
    """Stop Spark and remove its scratch directory.

    `force` (after a failure or SIGTERM, when the JVM may be mid-job and the py4j connection
    interrupted) kills the JVM instead of asking it to shut down.
    """
    if spark is None:
        return
    sc = spark.sparkContext
    # The scratch dir this process created, remembered in Python: after a failure the JVM may be
    # dead, and asking it would fail - and leave the scratch behind.
    scratch = getattr(spark, "alsreco_scratch", "") or ("" if force else sc.getConf().get("spark.local.dir", ""))
    try:
        if force:
            kill_jvm(sc)
        else:
            spark.stop()
    finally:
        if scratch and os.path.basename(scratch).startswith("alsreco-spark-"):
            shutil.rmtree(scratch, ignore_errors=True)


