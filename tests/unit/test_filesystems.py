"""s3a:// in input_uri: works only with the hadoop-aws jars, so without them it fails at once as a
user error naming the fix - before any JVM starts."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from alsreco.core.errors import UserError
from alsreco.core.settings import Settings
from alsreco.train.spark.filesystems import check_input_uri


def test_file_and_hdfs_uris_need_nothing_extra(tmp_path):
    for uri in ("file:///data/sales.csv", "/data/sales", "hdfs:///data/sales"):
        check_input_uri(uri, Settings(), jars_dir=tmp_path)


def test_s3a_without_the_jars_names_the_fix(tmp_path):
    with pytest.raises(UserError) as err:
        check_input_uri("s3a://bucket/sales/", Settings(), jars_dir=tmp_path)
    msg = str(err.value)
    assert "hadoop-aws-*.jar" in msg and "aws-java-sdk-bundle-*.jar" in msg and "docker/jars/" in msg


def test_s3a_with_the_jars_or_on_an_existing_cluster_is_left_to_spark(tmp_path):
    (tmp_path / "hadoop-aws-3.3.4.jar").touch()
    (tmp_path / "aws-java-sdk-bundle-1.12.262.jar").touch()
    check_input_uri("s3a://bucket/sales/", Settings(), jars_dir=tmp_path)
    check_input_uri("s3a://bucket/sales/", Settings(spark_master="spark://emr-master:7077"), jars_dir=tmp_path / "x")
    check_input_uri("s3a://b/s", Settings(spark_conf={"spark.jars.packages": "org.apache.hadoop:hadoop-aws:3.3.4,"
                                                      "com.amazonaws:aws-java-sdk-bundle:1.12.262"}),
                    jars_dir=tmp_path / "x")


def test_s3_scheme_points_to_s3a(tmp_path):
    with pytest.raises(UserError, match="s3a://bucket/x"):
        check_input_uri("s3://bucket/x", Settings(), jars_dir=tmp_path)


def test_train_with_s3a_input_uri_exits_2_before_spark_starts(tmp_path):
    config = tmp_path / "input" / "config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(json.dumps({"input_uri": "s3a://bucket/sales/"}))
    env = {**os.environ, "SAGEMAKER_BASE_DIR": str(tmp_path)}
    r = subprocess.run([str(Path(sys.executable).parent / "train")], env=env, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 2, r.stderr[-2000:]
    failure = (tmp_path / "output" / "failure").read_text()
    assert failure.startswith("UserError: input_uri 's3a://bucket/sales/' needs the s3a filesystem")
    assert "SparkSession" not in r.stderr and "spark 3." not in r.stderr  # no JVM was started
