"""Class-data sharing for the driver JVM: the ~14,600 classes a training job loads, mapped from one
archive instead of being found, read and verified jar by jar at every start.

Most of a small training job is JVM warm-up: on the bundled sample (2 cores) the archive takes
`train` from ~21 s to ~15 s (session start 4.5 -> 2.4 s, the first DataFrame 3.1 -> 1.4 s, the
ALS fit's class loading about 2.5 s). The archive is built once per installation by
`python -m alsreco.train.warmup` (the Docker build and `make venv` run it): a small training job
records the classes it loads, then `java -Xshare:dump` writes them, for that classpath and that
JVM, to `archive_path`. Used only if present; a JVM whose classpath or version does not match the
archive ignores it silently (it is then only a missed speed-up: `in_use` tells).
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

from ...core.errors import AlgorithmError
from ...core.settings import Settings

ARCHIVE_NAME = "alsreco-spark-classes.jsa"
OFF = "off"
DUMP_TIMEOUT = 600


def archive_path(settings: Settings) -> Path | None:
    """Where the archive is (or goes): ALSRECO_SPARK_CDS, else beside the pyspark package; None = off."""
    if settings.spark_cds.lower() == OFF:
        return None
    if settings.spark_cds:
        return Path(settings.spark_cds)
    import pyspark
    return Path(pyspark.__file__).parent / ARCHIVE_NAME


def java_options(settings: Settings) -> str:
    """The driver JVM option that maps the archive ('' when there is none to use)."""
    path = archive_path(settings)
    if path is None or not path.is_file() or any(ch.isspace() for ch in str(path)):
        return ""  # (Spark splits extraJavaOptions on whitespace)
    return f" -XX:SharedArchiveFile={path}"


def in_use(spark) -> bool:
    """Did this driver JVM map the archive? ("sharing" in java.vm.info)"""
    return "sharing" in str(spark.sparkContext._jvm.System.getProperty("java.vm.info"))


def status(spark, settings: Settings) -> str:
    """For the log: whether the driver maps the archive, and if not, how to get one."""
    if in_use(spark):
        return "in use"
    path = archive_path(settings)
    if path is None:
        return "off"
    return "none (build it: python -m alsreco.train.warmup)" if not path.is_file() else \
        f"{path} does not match this JVM or classpath (rebuild it: python -m alsreco.train.warmup)"


def dump(java: str, classpath: str, class_list: Path, archive: Path) -> Path:
    """Write the archive of `class_list` for `classpath` (staged, then renamed into place)."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    staged = archive.with_name(f".{archive.name}.{os.getpid()}.tmp")
    cmd = [java, "-Xshare:dump", "-XX:+UseParallelGC", f"-XX:SharedClassListFile={class_list}",
           f"-XX:SharedArchiveFile={staged}", "-Xlog:cds=error", "-cp", classpath]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=DUMP_TIMEOUT)
        if done.returncode != 0 or not staged.is_file():
            tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
            raise AlgorithmError(f"java -Xshare:dump exited {done.returncode}: {' / '.join(tail)}")
        os.replace(staged, archive)
    finally:
        staged.unlink(missing_ok=True)
    return archive
