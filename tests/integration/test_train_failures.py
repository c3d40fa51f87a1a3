"""Failures after Spark has started still reach output/failure in words, with the Java cause; a
full output volume does not lose the reason; failed and stopped runs leave no scratch behind."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from alsreco.core.errors import AlgorithmError
from alsreco.core.paths import Paths
from alsreco.train import main as train

from ..conftest import SAMPLE_CSV, make_opt_ml

pytestmark = pytest.mark.integration
BIN = Path(sys.executable).parent
SAMPLE_HEAD = "".join(SAMPLE_CSV.read_text().splitlines(keepends=True)[:4000])


def test_a_failure_inside_spark_writes_the_java_cause(tmp_path):
    paths = make_opt_ml(tmp_path / "ml", files={"sales.csv": SAMPLE_HEAD},
                        hyperparameters={"eval_days": 0, "max_itter": 2})
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    # collecting the factors to the driver fails inside Spark: the JVM must be asked before it is killed
    env = {**os.environ, "SAGEMAKER_BASE_DIR": str(paths.base), "TMPDIR": str(scratch),
           "ALSRECO_SPARK_CONF": json.dumps({"spark.driver.maxResultSize": "1k"})}
    r = subprocess.run([str(BIN / "train")], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 1, r.stderr[-3000:]
    failure = paths.failure_file.read_text()
    assert failure.startswith("AlgorithmError: Spark failed: "), failure
    assert "maxResultSize" in failure, failure
    assert "None.None" not in failure and "Py4JError" not in failure
    assert not (paths.model_dir / "metadata.json").exists()
    assert not [p for p in scratch.iterdir() if p.name.startswith("alsreco-spark-")], list(scratch.iterdir())


def _java_children(pid: int) -> list[int]:
    kids: list[int] = []
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        kids += [int(p) for p in children.read_text().split()]
    return [k for k in kids if b"java" in Path(f"/proc/{k}/cmdline").read_bytes()]


def test_a_jvm_killed_for_memory_says_so(tmp_path):
    """The kernel's OOM killer takes the largest process, the JVM: py4j then only says some name
    "does not exist in the JVM". The failure file must say what happened (here: SIGKILL, as the
    OOM killer sends, to the real JVM of a real `train` once Spark is up)."""
    paths = make_opt_ml(tmp_path / "ml", files={"sales.csv": SAMPLE_HEAD}, hyperparameters={"eval_days": 0})
    env = {**os.environ, "SAGEMAKER_BASE_DIR": str(paths.base)}
    log = tmp_path / "train.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen([str(BIN / "train")], env=env, stdout=fh, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 120
            while "alsreco.train.spark.session: spark " not in log.read_text(errors="replace"):
                assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(0.1)
            java = _java_children(proc.pid)
            assert len(java) == 1, java
            os.kill(java[0], signal.SIGKILL)
            code = proc.wait(timeout=120)
        finally:
            proc.kill()
    assert code == 1, log.read_text()[-3000:]
    failure = paths.failure_file.read_text()
    assert failure.startswith("AlgorithmError: the Spark JVM was killed (SIGKILL) while training"), failure
    assert "out-of-memory" in failure and "memory limit is" in failure, failure
    assert not (paths.model_dir / "metadata.json").exists()


def test_a_full_volume_still_gets_the_reason(tmp_path, monkeypatch):
    paths = Paths(tmp_path)
    paths.output_data_dir.mkdir(parents=True)
    partial = paths.output_data_dir / ".recommendations.csv.tmp"
    partial.write_bytes(b"x" * 1000)
    real_write = Path.write_text
    calls = []

    def full_disk(self, text, *a, **kw):  # the first write finds the volume full
        calls.append(self)
        if len(calls) == 1:
            real_write(self, "")
            raise OSError(28, "No space left on device")
        return real_write(self, text, *a, **kw)

    monkeypatch.setattr(Path, "write_text", full_disk)
    train.write_failure(paths, AlgorithmError("Spark failed: out of disk"))
    monkeypatch.undo()
    assert paths.failure_file.read_text() == "AlgorithmError: Spark failed: out of disk"
    assert not partial.exists()
