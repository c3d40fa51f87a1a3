"""Failures after Spark has started still reach output/failure in words, with the Java cause; a
full output volume does not lose the reason; failed and stopped runs leave no scratch behind."""
from __future__ import annotations

import json
import os
import subprocess
import sys
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
