"""Which URI schemes `input_uri` can use here, checked before Spark starts.

Spark reads file://, hdfs:// (with a reachable namenode) out of the box. s3a:// needs the
hadoop-aws jar and the AWS SDK bundle matching the bundled Hadoop (3.3.4 for Spark 3.5), which
neither pyspark's wheel nor this image ship (no package registry these builds reach has them):
add them at build time (`docker/jars/`, see the README) or train on a cluster that has them.
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from ...core.errors import UserError
from ...core.settings import Settings

S3_SCHEMES = ("s3a", "s3", "s3n")
HADOOP_AWS_JARS = ("hadoop-aws-*.jar", "aws-java-sdk-bundle-*.jar")
FIX = ("put hadoop-aws-3.3.4.jar and aws-java-sdk-bundle-1.12.262.jar in docker/jars/ and rebuild the image "
       "(docs/operations.md, Limits: input_uri with s3a), attach to a cluster that has them (spark_master, e.g. EMR), "
       "or give SageMaker the S3 prefix as the training channel instead (it copies the data in)")


def spark_jars_dir() -> Path:
    import pyspark
    return Path(pyspark.__file__).parent / "jars"


def check_input_uri(uri: str, settings: Settings, jars_dir: Path | None = None) -> None:
    """UserError at once (no JVM) when `uri` needs jars this installation lacks."""
    scheme = (urlparse(uri).scheme or "file").lower()
    if scheme not in S3_SCHEMES:
        return
    if scheme != "s3a":
        raise UserError(f"input_uri {uri!r}: Spark reads S3 through the s3a:// scheme; use "
                        f"s3a://{uri.split('://', 1)[-1]}")
    if settings.spark_master and not settings.spark_master.startswith("local"):
        return  # an existing cluster (EMR ships hadoop-aws): its classpath decides
    jars_dir = spark_jars_dir() if jars_dir is None else jars_dir
    extra = " ".join(settings.spark_conf.get(k, "") for k in ("spark.jars", "spark.jars.packages"))
    missing = [p for p in HADOOP_AWS_JARS if not any(jars_dir.glob(p)) and p.split("-*")[0] not in extra]
    if missing:
        raise UserError(f"input_uri {uri!r} needs the s3a filesystem, but {', '.join(missing)} "
                        f"{'is' if len(missing) == 1 else 'are'} not in {jars_dir}: {FIX}")
