"""The real training pipeline with real Spark on the bundled Online Retail sample."""
from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from alsreco.core import artifact
from alsreco.core.paths import Paths
from alsreco.core.settings import Settings
from alsreco.train import main as train

from ..conftest import SAMPLE_CSV

pytestmark = pytest.mark.integration
BIN = Path(sys.executable).parent
SAMPLE_HEAD = "".join(SAMPLE_CSV.read_text().splitlines(keepends=True)[:6000])


def run_cli(paths: Paths, *cmd: str, timeout: float = 300, env: dict | None = None):
    environ = {**os.environ, "SAGEMAKER_BASE_DIR": str(paths.base), **(env or {})}
    return subprocess.run(list(cmd), env=environ, capture_output=True, text=True, timeout=timeout)


def test_trained_model_on_the_sample(trained_model_dir):
    model = artifact.load_model(trained_model_dir)
    meta = model.metadata
    assert meta["data"]["rows_read"] == 28492 and meta["data"]["rows_used"] == 18039
    assert meta["data"]["dropped"]["missing_customer"] == 10003
    assert meta["data"]["recommendations_scored_on"] == "leader"  # one host: the leader's numpy blocks
    # below 200k ratings the defaults average 4 ALS fits, stored side by side
    assert meta["als"]["fits"] == 4 and meta["hyperparameters"]["als_fits"] == 0
    assert model.user_factors.dtype == np.float32 and model.user_factors.shape == (665, meta["als"]["rank"] * 4)
    assert "17850" in set(model.customer_ids) and "85123A" in set(model.product_ids)
    assert np.abs(model.item_factors).sum() > 0
    k = meta["metrics"]["k"]
    m, p = meta["metrics"]["model"][f"ndcg_at_{k}"], meta["metrics"]["popularity"][f"ndcg_at_{k}"]
    assert m > p * 1.3, f"model ndcg {m} does not clearly beat popularity {p}"
    assert meta["versions"]["pyspark"].startswith("3.5")
    assert meta["retention_date"] == "2010-12-13"
    # new products: first seen within retention_days of the as-of date
    cutoff = np.datetime64("2010-12-13") - np.timedelta64(meta["hyperparameters"]["retention_days"], "D")
    assert (model.product_first_seen[model.new_products] > cutoff).all()
    assert ((model.product_first_seen > cutoff).sum()) == len(model.new_products)


def test_batch_recommendations_file(trained_model_dir):
    recs = trained_model_dir.parent / "output" / "data" / "recommendations.csv"
    model = artifact.load_model(trained_model_dir)
    n = model.metadata["hyperparameters"]["reco_item"]
    with open(recs) as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["customer_id", "rank", "product_id", "score", "reason"]
    by_customer: dict[str, list[dict]] = {}
    for row in rows:
        by_customer.setdefault(row["customer_id"], []).append(row)
    assert len(by_customer) == len(model.customer_ids)
    index = {c: i for i, c in enumerate(model.customer_ids)}
    products = {p: i for i, p in enumerate(model.product_ids)}
    for cust, items in list(by_customer.items())[:50]:
        assert [int(r["rank"]) for r in items] == list(range(1, n + 1))
        bought = set(model.purchases.row(index[cust]).tolist())
        assert not bought & {products[r["product_id"]] for r in items}, "bought items must be excluded"
    assert {r["reason"] for r in rows} <= {"model", "new_product", "forced", "popular"}


def test_console_script_user_error_writes_failure_and_no_model(opt_ml):
    paths = opt_ml(files={"a.csv": SAMPLE_HEAD}, hyperparameters={"als_rank": "zero"})
    res = run_cli(paths, str(BIN / "train"))
    assert res.returncode == 2, res.stderr
    failure = paths.failure_file.read_text()
    assert failure.startswith("UserError: hyperparameter 'als_rank' = 'zero'") and len(failure) <= 1024
    assert "Traceback" not in res.stderr and "als_rank" in res.stderr
    assert not (paths.model_dir / "metadata.json").exists()


def test_missing_column_is_a_user_error(opt_ml):
    paths = opt_ml(files={"a.csv": "customer,product,quantity\nc1,p1,1\n"})
    res = run_cli(paths, sys.executable, "-m", "alsreco.train.main")
    assert res.returncode == 2
    assert "no date column found" in paths.failure_file.read_text()


def test_algorithm_error_is_told_apart(opt_ml):
    paths = opt_ml(files={"a.csv": SAMPLE_HEAD})
    res = run_cli(paths, str(BIN / "train"), env={"ALSRECO_DRIVER_MEMORY": "1k"})
    assert res.returncode == 1
    assert paths.failure_file.read_text().startswith("AlgorithmError: ")
    assert not (paths.model_dir / "metadata.json").exists()


def test_module_entry_point_end_to_end(opt_ml):
    paths = opt_ml(files={"part/a.csv": SAMPLE_HEAD}, hyperparameters={"max_itter": 3, "eval_days": 2})
    res = run_cli(paths, sys.executable, "-m", "alsreco.train.main")
    assert res.returncode == 0, res.stderr[-3000:]
    assert not paths.failure_file.exists()
    assert "metric: model.ndcg_at_10=" in res.stderr and "metric: popularity.ndcg_at_10=" in res.stderr
    # `make venv` built the class-data archive (python -m alsreco.train.warmup): the driver JVM maps it
    assert "class-data archive: in use" in res.stderr, res.stderr[-3000:]
    meta = json.loads((paths.model_dir / "metadata.json").read_text())
    assert meta["hyperparameters"]["max_itter"] == 3
    assert (paths.output_data_dir / "recommendations.csv").stat().st_size > 0


def _start_train(paths: Paths) -> subprocess.Popen:
    scratch = paths.base / "tmp"  # Spark's scratch dir (and so the JVM's command line) names paths.base
    scratch.mkdir()
    env = {**os.environ, "SAGEMAKER_BASE_DIR": str(paths.base), "TMPDIR": str(scratch)}
    return subprocess.Popen([str(BIN / "train")], env=env, stderr=subprocess.PIPE, text=True)


def _jvms_of(paths: Paths) -> list[str]:
    found = subprocess.run(["pgrep", "-f", f"java.*{paths.base}"], capture_output=True, text=True)
    return found.stdout.split()


def _wait_for(proc: subprocess.Popen, marker: str) -> None:
    deadline = time.monotonic() + 120
    for line in proc.stderr:
        if marker in line:
            return
        assert time.monotonic() < deadline, f"no {marker!r} in train's log"
    raise AssertionError(f"train ended before logging {marker!r}")


def _sigterm_and_check(proc: subprocess.Popen, paths: Paths) -> str:
    stopped = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    rest = proc.communicate(timeout=90)[1]
    assert time.monotonic() - stopped < 60
    assert proc.returncode == 143, rest[-2000:]
    assert paths.failure_file.read_text().startswith("Terminated: training was stopped by SIGTERM")
    assert not (paths.model_dir / "metadata.json").exists()
    end = time.monotonic() + 10
    while _jvms_of(paths) and time.monotonic() < end:
        time.sleep(0.2)
    assert not _jvms_of(paths), "the JVM outlived train"
    return rest


def test_sigterm_while_fitting_stops_training_cleanly(opt_ml):
    paths = opt_ml(files={"a.csv": SAMPLE_CSV.read_text()}, hyperparameters={"max_itter": 50})
    proc = _start_train(paths)
    _wait_for(proc, "alsreco.train.spark.session: spark")  # Spark is up: the next seconds are spent inside ALS fits
    assert _jvms_of(paths), "the test must catch the JVM while it runs"
    _sigterm_and_check(proc, paths)


def test_sigterm_while_the_jvm_starts_leaves_no_jvm_behind(opt_ml):
    paths = opt_ml(files={"a.csv": SAMPLE_HEAD})
    proc = _start_train(paths)
    _wait_for(proc, "ratings; as of")  # logged just before Spark is launched
    _sigterm_and_check(proc, paths)


@pytest.mark.parametrize("kind", ["incident", "count", "total_qty", "normalize_count", "log_qty"])
def test_every_ranking_type_trains(opt_ml, spark, kind):
    paths = opt_ml(files={"a.csv": SAMPLE_HEAD},
                   hyperparameters={"ranking_type": kind, "max_itter": 2, "eval_days": 0, "als_rank": 4})
    meta = train.run(paths, Settings(base_dir=paths.base), session=spark)
    model = artifact.load_model(paths.model_dir)
    assert meta["als"]["ranking_type"] == kind and model.version == meta["model_version"]
    assert model.purchases.data.dtype == np.float32
    if kind == "incident":
        assert set(np.unique(model.purchases.data)) == {1.0}


def test_explicit_als_and_retention_date(opt_ml, spark):
    paths = opt_ml(files={"a.csv": SAMPLE_HEAD},
                   hyperparameters={"implicit_prefs": "False", "max_itter": 2, "eval_days": 0,
                                    "retention_date": "20101202", "retention_days": 1})
    meta = train.run(paths, Settings(base_dir=paths.base), session=spark)
    assert meta["retention_date"] == "2010-12-02" and meta["data"]["dropped"]["after_as_of"] > 0
    assert meta["data"]["last_date"] < "2010-12-03"
    model = artifact.load_model(paths.model_dir)
    assert all(str(d) == "2010-12-02" for d in model.product_first_seen[model.new_products])


def test_input_uri_is_read_by_spark_instead_of_the_channel(opt_ml, spark, tmp_path):
    source = tmp_path / "remote" / "sales.csv"
    source.parent.mkdir()
    source.write_text(SAMPLE_HEAD)
    paths = opt_ml(files={}, hyperparameters={"input_uri": f"file://{source.parent}", "max_itter": 2,
                                              "eval_days": 0})
    meta = train.run(paths, Settings(base_dir=paths.base), session=spark)
    assert meta["data"]["channel"] == f"file://{source.parent}" and meta["data"]["input_mode"] == "uri"
    assert meta["data"]["rows_read"] == 5999
    expected = data_rows_used(source)
    assert meta["data"]["rows_used"] == expected
    assert "17850" in set(artifact.load_model(paths.model_dir).customer_ids)


def test_unreadable_input_uri_is_a_user_error(opt_ml, spark, tmp_path):
    from alsreco.core.errors import UserError

    paths = opt_ml(files={}, hyperparameters={"input_uri": f"file://{tmp_path}/nothing-here"})
    with pytest.raises(UserError, match="input_uri .* cannot be read"):
        train.run(paths, Settings(base_dir=paths.base), session=spark)


def data_rows_used(path: Path) -> int:
    from alsreco.core import hyperparameters
    from alsreco.train.inputs import read

    return read.load([path], hyperparameters.defaults())[1].rows_used
