"""`docker run IMAGE train` against a copy of local_test/test_dir mounted at /opt/ml."""
from __future__ import annotations

import json
import re
import subprocess
import time
import uuid

import numpy as np
import pytest

from benchmarks.dockerkit import stop_container

pytestmark = pytest.mark.container

METRIC_LINE = re.compile(r"metric: (model|popularity)\.ndcg_at_10=([0-9.]+)")
MODEL_FILES = ("metadata.json", "user_factors.npy", "item_factors.npy", "customer_ids.npy", "product_ids.npy",
               "purchases.npz")


def assert_trained(run) -> None:
    assert run.returncode == 0, f"train exited {run.returncode}:\n{run.logs[-4000:]}"
    model = run.base / "model"
    for name in MODEL_FILES:
        assert (model / name).is_file(), f"{name} missing from {sorted(p.name for p in model.iterdir())}"
    assert not (run.base / "output" / "failure").exists()
    assert not list(model.glob(".staging-*")), "staging directory left behind"
    meta = json.loads((model / "metadata.json").read_text())
    users = np.load(model / "user_factors.npy", allow_pickle=False)
    items = np.load(model / "item_factors.npy", allow_pickle=False)
    # als_rank 16 from local_test hyperparameters.json, times the fits (als_fits auto: 4 on small data)
    assert users.shape[1] == items.shape[1] == 16 * meta["als"]["fits"] and meta["als"]["fits"] in (1, 4)
    assert len(users) > 100 and len(items) > 100
    assert np.isfinite(users).all() and np.isfinite(items).all()
    # Metrics: in metadata.json and as SageMaker-scrapable log lines.
    assert meta["metrics"]["model"]["ndcg_at_10"] >= 0
    found = dict(METRIC_LINE.findall(run.logs))
    assert set(found) == {"model", "popularity"}, run.logs[-3000:]
    # Batch recommendations for every customer.
    recs = run.base / "output" / "data" / "recommendations.csv"
    assert recs.is_file()
    lines = recs.read_text().splitlines()
    assert lines[0].startswith("customer_id") and len(lines) > 1000
    # The native BLAS is used (Spark would log its fallback here).
    assert "Failed to load implementation from:dev.ludovic.netlib.blas.JNIBLAS" not in run.logs


def test_train_writes_model_metrics_and_recommendations(trained):
    assert_trained(trained)
    assert "Traceback" not in trained.logs


def test_train_without_network(fresh_ml, train_container):
    run = train_container(fresh_ml(), "--network", "none")
    assert_trained(run)
    # The entrypoint maps the unresolvable hostname, so the JVM logs no lookup failures.
    assert "UnknownHostException" not in run.logs


def test_broken_hyperparameter_fails_with_a_readable_reason(fresh_ml, train_container):
    base = fresh_ml({"als_rank": "zero", "max_itter": "10"})
    run = train_container(base, "--network", "none")
    assert run.returncode != 0, run.logs[-3000:]
    failure = base / "output" / "failure"
    assert failure.is_file(), run.logs[-3000:]
    text = failure.read_text()
    assert "als_rank" in text and "zero" in text
    assert len(text) <= 1024 and "Traceback" not in text
    assert not (base / "model" / "metadata.json").exists()


def test_docker_stop_during_training_ends_quickly_and_writes_failure(image, fresh_ml):
    """SageMaker's StopTrainingJob sends SIGTERM, then SIGKILL after 120 s."""
    base = fresh_ml()
    name = f"alsreco-test-stop-{uuid.uuid4().hex[:8]}"
    subprocess.run(["docker", "run", "-d", "--name", name, "-v", f"{base}:/opt/ml", image, "train"],
                   check=True, capture_output=True)
    try:
        # Wait until Spark is up and fitting: mid-run, not before the handler is installed.
        deadline = time.monotonic() + 180
        logs = ""
        while time.monotonic() < deadline:
            r = subprocess.run(["docker", "logs", name], capture_output=True, text=True)
            logs = r.stdout + r.stderr
            if "alsreco.train.spark.session: spark" in logs:
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"training never reached Spark:\n{logs[-3000:]}")
        time.sleep(2)
        stopped_in, state, all_logs = stop_container(name, 120)
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)
    assert stopped_in < 60, f"docker stop took {stopped_in:.1f}s (SIGTERM not handled?)"
    assert state["ExitCode"] not in (0, 137), (state, all_logs[-3000:])  # stopped by itself, not SIGKILLed
    failure = base / "output" / "failure"
    assert failure.is_file(), all_logs[-3000:]
    assert "SIGTERM" in failure.read_text() or "stopped" in failure.read_text().lower()
    assert not (base / "model" / "metadata.json").exists()


def test_train_in_the_image_maps_the_class_data_archive_built_with_it(trained):
    """The Docker build runs `python -m alsreco.train.warmup`: `train`'s driver JVM starts from its archive."""
    assert trained.returncode == 0, trained.logs[-3000:]
    assert "class-data archive: in use" in trained.logs, trained.logs[-3000:]
