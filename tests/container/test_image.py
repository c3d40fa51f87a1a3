"""The image itself: entrypoint, metadata, what is (and is not) inside."""
from __future__ import annotations

import json
import subprocess

import pytest

pytestmark = pytest.mark.container


def run(image: str, *args: str, entrypoint: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    cmd = ["docker", "run", "--rm", "--network", "none"]
    if entrypoint is not None:
        cmd += ["--entrypoint", entrypoint]
    return subprocess.run([*cmd, image, *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("args", [[], ["bogus"], ["--train"]], ids=["no-args", "unknown", "dashed"])
def test_usage_and_non_zero_exit_without_a_known_command(image, args):
    r = run(image, *args)
    assert r.returncode != 0
    assert "usage:" in r.stderr and "train" in r.stderr and "serve" in r.stderr
    if args:
        assert args[0] in r.stderr  # names what it did not understand


def test_image_metadata(image):
    info = json.loads(subprocess.run(["docker", "image", "inspect", image], capture_output=True, text=True,
                                     check=True).stdout)[0]
    config = info["Config"]
    env = dict(e.split("=", 1) for e in config["Env"])
    assert config["Labels"]["com.amazonaws.sagemaker.capabilities.accept-bind-to-port"] == "true"
    assert config["Labels"]["com.amazonaws.sagemaker.capabilities.multi-models"] == "true"
    assert "8080/tcp" in config["ExposedPorts"]
    assert env["ALSRECO_SPEC_FILE"] == "/opt/program/als_spec.json"
    assert env["PYTHONUNBUFFERED"] == "1" and env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["JAVA_HOME"]
    assert info["Architecture"] == "amd64" and info["Os"] == "linux"
    assert config["Entrypoint"][0].endswith("tini")


def test_image_contents(image):
    script = r"""
set -e
test ! -e /opt/ml || { echo "/opt/ml is baked into the image"; exit 1; }
command -v train; command -v serve; command -v nginx || test -x /usr/sbin/nginx
"$JAVA_HOME/bin/java" -version 2>&1 | head -1
test -f "$ALSRECO_SPEC_FILE"
python -c 'import json,os; json.load(open(os.environ["ALSRECO_SPEC_FILE"]))'
ldconfig -p | grep -q 'libblas.so.3 ' || { echo "no libblas.so.3"; exit 1; }
for tool in gcc cc g++ make; do if command -v $tool; then echo "build tool left: $tool"; exit 1; fi; done
test -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v '^lock$' |
           grep -v '^partial$')" || { echo "apt lists left"; exit 1; }
test -z "$(find /opt/venv -name '*.pyc' -print -quit)" || { echo "bytecode left"; exit 1; }
test ! -d /root/.cache/pip || { echo "pip cache left"; exit 1; }
echo OK
"""
    r = run(image, "-c", script, entrypoint="bash")
    assert r.returncode == 0, r.stdout + r.stderr
    assert 'version "17' in r.stdout
    assert r.stdout.strip().endswith("OK")


def test_spark_loads_native_blas(image):
    """Spark's netlib must load OpenBLAS through JNI, not fall back to pure Java."""
    code = r"""
import os
os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
from pyspark.sql import SparkSession
s = SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false").getOrCreate()
jvm = s.sparkContext._jvm
print("BLAS=" + jvm.dev.ludovic.netlib.blas.BLAS.getInstance().getClass().getName())
print("LAPACK=" + jvm.dev.ludovic.netlib.lapack.LAPACK.getInstance().getClass().getName())
s.stop()
"""
    r = run(image, "-c", code, entrypoint="python", timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "BLAS=dev.ludovic.netlib.blas.JNIBLAS" in r.stdout, r.stdout + r.stderr[-3000:]
    assert "LAPACK=dev.ludovic.netlib.lapack.JNILAPACK" in r.stdout, r.stdout + r.stderr[-3000:]
    assert "Failed to load implementation from:dev.ludovic.netlib.blas.JNIBLAS" not in r.stderr
