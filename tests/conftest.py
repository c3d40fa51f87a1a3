"""Fixtures shared by every tier: temporary /opt/ml trees, one real SparkSession, a trained model."""
from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path
from typing import Any, Callable

import pytest
from hypothesis import settings as hypothesis_settings

from alsreco.core.paths import Paths
from alsreco.core.settings import Settings

REPO = Path(__file__).resolve().parent.parent
TEST_DIR = REPO / "local_test" / "test_dir"
SAMPLE_CSV = TEST_DIR / "input" / "data" / "training" / "online-retail-sample.csv"

# CI runs the property-based tests on a fixed sequence of examples (a red run is reproducible); a
# developer's run explores new ones each time and keeps what failed in .hypothesis/.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")


@pytest.fixture(autouse=True)
def _sigterm_as_before():
    """Tests that run `train`'s main() in this process get its SIGTERM handling installed here, and SIGTERM
    ignored once the job is decided: put back what pytest had, so no later test's child process inherits
    an ignored SIGTERM."""
    before = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, before)


def make_opt_ml(base: Path, files: dict[str, str | bytes] | None = None,
                hyperparameters: dict[str, Any] | None = None, channel: str = "training",
                inputdataconfig: dict[str, Any] | None = None) -> Paths:
    """Lay out an /opt/ml tree under `base`: `files` maps paths inside the channel to contents."""
    paths = Paths(base)
    paths.config_dir.mkdir(parents=True, exist_ok=True)
    (paths.channel_dir(channel)).mkdir(parents=True, exist_ok=True)
    for name, content in (files or {}).items():
        target = paths.channel_dir(channel) / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content if isinstance(content, bytes) else content.encode())
    if hyperparameters is not None:
        paths.hyperparameters_file.write_text(json.dumps({k: str(v) for k, v in hyperparameters.items()}))
    config = inputdataconfig if inputdataconfig is not None else {channel: {"TrainingInputMode": "File"}}
    paths.inputdataconfig_file.write_text(json.dumps(config))
    return paths


@pytest.fixture
def opt_ml(tmp_path) -> Callable[..., Paths]:
    counter = iter(range(1000))
    return lambda **kw: make_opt_ml(tmp_path / f"opt_ml_{next(counter)}", **kw)


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    """One real local SparkSession for the whole run (JVM start-up is the slow part)."""
    from alsreco.train.spark import session as spark_mod

    base = tmp_path_factory.mktemp("spark_opt_ml")
    session = spark_mod.start(Paths(base), Settings(base_dir=base))
    yield session
    spark_mod.stop(session)


@pytest.fixture(scope="session")
def trained_model_dir(tmp_path_factory, spark) -> Path:
    """A model trained by the real pipeline on the bundled Online Retail sample (local_test/test_dir)."""
    from alsreco.train import main as train

    base = tmp_path_factory.mktemp("trained_opt_ml")
    shutil.copytree(TEST_DIR / "input", base / "input")
    paths = Paths(base)
    train.run(paths, Settings(base_dir=base), session=spark)
    return paths.model_dir
