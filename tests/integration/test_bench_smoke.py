"""Smoke run of every benchmark (tiny sizes) so `make bench` cannot rot.

The benchmark modules run with `--smoke` at the same time (each is a subprocess that
itself starts the real `train` / `serve`), into a temporary results directory; then the report
is generated from their JSON. Checked: the expected keys and sane numbers, not performance.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MODULES = ("quality", "train_speed", "serve_load", "events_live", "serve_profile")
DEADLINE = 600  # a hang guard for the smoke runs together (each starts Spark more than once)


@pytest.fixture(scope="module")
def smoke_results(tmp_path_factory) -> Path:
    results = tmp_path_factory.mktemp("bench-results")
    work = tmp_path_factory.mktemp("bench-work")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    procs = {}
    for mod in MODULES:
        log = open(results / f"{mod}.log", "wb")
        procs[mod] = (subprocess.Popen([sys.executable, "-m", f"benchmarks.{mod}", "--smoke", "--results",
                                        str(results), "--work", str(work)], cwd=REPO, env=env,
                                       stdout=log, stderr=subprocess.STDOUT, start_new_session=True), log)
    end = time.monotonic() + DEADLINE
    failed = []
    for mod, (proc, log) in procs.items():
        try:
            code = proc.wait(timeout=max(1, end - time.monotonic()))
        except subprocess.TimeoutExpired:  # the whole group: train, its JVM, serve, nginx
            os.killpg(proc.pid, signal.SIGKILL)
            code = proc.wait()
        log.close()
        if code != 0:
            failed.append(f"--- benchmarks.{mod} exited {code}:\n"
                          + (results / f"{mod}.log").read_text(errors="replace")[-4000:])
    assert not failed, "\n".join(failed)
    subprocess.run([sys.executable, "-m", "benchmarks.report", "--smoke", "--results", str(results)],
                   cwd=REPO, check=True, timeout=120)
    return results


def _doc(results: Path, name: str) -> dict:
    doc = json.loads((results / f"{name}-smoke.json").read_text())
    assert doc["smoke"] is True
    m = doc["machine"]
    assert m["cores"] >= 1 and m["memory_gb"] > 0 and len(m["loadavg"]) == 3
    assert m["packages"]["alsreco"] and m["packages"]["pyspark"]
    return doc


def test_quality_smoke(smoke_results):
    doc = _doc(smoke_results, "quality")
    assert set(doc["protocols"]) == {"time_window", "last_basket"}
    assert all(p["test_customers"] > 5 for p in doc["protocols"].values())
    by_name = {c["name"]: c for c in doc["configs"]}
    assert "popularity" in by_name and "defaults" in by_name
    assert by_name["defaults"]["is_default"] and by_name["defaults"]["settings"]["als_rank"] >= 1
    for c in doc["configs"]:
        for p, r in c["results"].items():
            s = r["summary"]
            assert set(s) == {"precision_at_10", "recall_at_10", "ndcg_at_10", "map_at_10", "coverage"}
            assert 0.0 <= s["ndcg_at_10"]["mean"] <= 1.0 and 0.0 < s["coverage"]["mean"] <= 1.0
    # ALS learned something: better than nothing on at least one protocol
    assert max(r["summary"]["ndcg_at_10"]["mean"] for r in by_name["defaults"]["results"].values()) > 0.0
    assert set(doc["goals"]) == {"time_window", "last_basket"}


def test_train_speed_smoke(smoke_results):
    doc = _doc(smoke_results, "train_speed")
    (size,) = doc["sizes"]
    tr = size["train"]
    assert tr["exit_code"] == 0 and 1.0 < tr["wall_seconds"] < DEADLINE
    assert tr["peak_rss_mb"] > 50 and tr["peak_jvm_rss_mb"] > 50 and tr["rss_samples"] > 3
    assert tr["als_fits"] and tr["als_fits"][-1]["iterations"] == 1 and tr["ratings"] > 100
    assert tr["marks"]["first_log"] <= tr["marks"]["spark_ready"] <= tr["marks"]["model_written"] <= tr["wall_seconds"]
    assert size["default_spark"]["exit_code"] == 0 and size["default_spark"]["fit_seconds"] > 0
    assert size["default_spark"]["num_blocks"] == 10 and size["default_spark"]["shuffle_partitions"] == 200
    assert size["ratio_train_to_default_spark"] > 0
    pipe = size["pyspark_pipeline"]  # the plain-PySpark yardstick ran on the same CSV
    assert pipe["exit_code"] == 0 and pipe["fit_seconds"] > 0 and pipe["ratings"] == tr["ratings"]
    assert size["ratio_train_to_pipeline"] > 0
    assert size["batch_scoring"]["customers"] > 0 and size["batch_scoring"]["product_seconds"] >= 0
    if "skipped" not in size["implicit"]:
        assert size["implicit"]["exit_code"] == 0 and size["implicit"]["fit_seconds"] >= 0


def test_serve_load_smoke(smoke_results):
    doc = _doc(smoke_results, "serve_load")
    assert set(doc["load"]) == {"ping", "stack", "single", "batch100", "rules", "similar"}
    for scenario, points in doc["load"].items():
        assert [p["concurrency"] for p in points] == doc["concurrency"]
        for p in points:
            assert p["requests"] > 0 and p["rps"] > 0, (scenario, p)
            assert p["non_2xx"] == 0 and p["socket_errors"] == 0, (scenario, p)
            assert 0 < p["p50_ms"] <= p["p99_ms"]
    assert doc["workers"] >= 1 and doc["worker_class"] == "sync" and doc["threads"] == 1
    goals = doc["goal_runs"]  # repeated runs at concurrency 16: single customers vs a no-op through the same stack
    ratio = goals["single_vs_stack"]
    assert goals["repeats"] == len(ratio["ratios"]) == 2 and goals["non_2xx"] == 0
    assert ratio["ratios"] == [round(s / t, 4) for s, t in zip(ratio["single_rps"], ratio["stack_rps"])]
    assert ratio["ci95"][0] <= ratio["mean"] <= ratio["ci95"][1]
    assert {ratio["status"], goals["batch100"]["status"]} <= {"met", "not met", "within noise"}
    assert all(c > 0 for c in goals["batch100"]["customers_per_s"])
    for m in doc["memory"]:
        gunicorn = [p for p in m["processes"] if p["role"] == "gunicorn"]
        assert len(gunicorn) == m["workers"] + 1  # master + workers
        assert 0 < m["total_pss_mb"] <= m["total_rss_mb"]
    mixed = doc["mixed"]  # /ping probed while big requests and single customers run
    assert mixed["big_requests"]["completed"] > 0 and mixed["big_requests"]["non_200"] == 0
    assert mixed["ping"]["probes"] > 0 and mixed["ping"]["failed"] == 0
    assert 0 < mixed["ping"]["p50_ms"] <= mixed["ping"]["p99_ms"] <= mixed["ping"]["max_ms"]
    assert mixed["single"]["rps"] > 0 and mixed["single"]["non_2xx"] == 0
    assert "ping_p99_ms_mixed" in doc["goals"]
    assert {r["products"] for r in doc["in_process"]} == {300, 1000}
    assert all(r["one_customer_ms"]["median"] > 0 and r["batch_1000_ms"]["median"] > 0 for r in doc["in_process"])


def test_events_live_smoke(smoke_results):
    doc = _doc(smoke_results, "events_live")
    assert [r["concurrency"] for r in doc["events_route"]] == [1, 4]
    for run in doc["events_route"]:
        assert run["non_2xx"] == 0 and run["requests"] > 0
        assert 0 < run["p50_ms"]["value"] <= run["p99_ms"]["value"]
        assert run["p50_ms"]["ci95"][0] <= run["p50_ms"]["value"] <= run["p50_ms"]["ci95"][1]
    fresh = doc["freshness"]
    assert fresh["reflected_by_next_request"] == fresh["trials"] == 20          # every very next list moved
    assert 0 < fresh["lower_bound_95"] < 1


def test_serve_profile_smoke(smoke_results):
    doc = json.loads((smoke_results / "serve_profile-smoke.json").read_text())
    [run] = doc["runs"].values()
    assert set(run["profile"]) == set(run["cpu_us_per_request"]) == {"stack", "single", "batch100"}
    for scenario, prof in run["profile"].items():
        assert prof["us_per_request"] > 0 and abs(sum(prof["stages"].values()) - 1) < 0.02, (scenario, prof)
        assert prof["top"] and run["cpu_us_per_request"][scenario] > 0
    assert run["profile"]["single"]["stages"].get("score (numpy, rules)", 0) > 0


def test_report_smoke(smoke_results):
    text = (smoke_results / "RESULTS.md").read_text()
    for heading in ("## Goals", "## Provenance", "## Machine", "## 1. Quality", "## 2. Training speed",
                    "## 3. Serving under load", "### Memory with N workers", "### In-process scoring",
                    "### /ping under mixed load", "## 4. Live events", "### Freshness",
                    "### Request-path goals (repeated runs)", "### Where a request's time goes"):
        assert heading in text
    assert "did not record a commit" not in text  # every smoke result names the commit it measured
    for png in ("quality_ndcg.png", "train_speed.png", "serve_load.png"):
        assert (smoke_results / "plots" / png).stat().st_size > 1000
        assert f"plots/{png}" in text
