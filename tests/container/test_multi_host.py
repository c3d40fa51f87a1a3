"""Multi-instance training: two containers of the real image form one Spark cluster.

As SageMaker does for `instance_count=2`: containers `algo-1` and `algo-2` on one user-defined
network, each with its own /opt/ml copy and a resourceconfig.json naming both hosts.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from alsreco.core.artifact import load_model
from alsreco.train import batch
from benchmarks.dockerkit import Hosts, docker

pytestmark = pytest.mark.container

HOSTS = ("algo-1", "algo-2")
RUN_TIMEOUT = 900
MEMORY = "6g"  # a cgroup limit: each container sizes its driver/worker from it, not the machine's RAM
PROBE = ("import json,urllib.request;"
         "print(urllib.request.urlopen('http://algo-1:8081/json/',timeout=3).read().decode())")


class Pair(Hosts):
    """algo-1 and algo-2 running `train` on a private network (benchmarks/dockerkit.Hosts)."""

    def __init__(self, image: str, bases: dict[str, Path], env: dict[str, str] | None = None):
        super().__init__(image, bases, env={"ALSRECO_CLUSTER_TIMEOUT": "240", **(env or {})}, memory=MEMORY)

    def master(self) -> dict | None:
        r = docker("exec", self.names["algo-1"], "python", "-c", PROBE, check=False, timeout=30)
        try:
            return json.loads(r.stdout) if r.returncode == 0 else None
        except ValueError:
            return None


def _wait_fitting(pair: Pair, deadline: float = 300) -> dict:
    """The master's state once both workers are ALIVE and the application has started."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        state = pair.master()
        if state and len([w for w in state["workers"] if w["state"] == "ALIVE"]) == 2 and state["activeapps"]:
            return state
        if not pair.running("algo-1"):
            raise AssertionError(f"algo-1 ended before the application started:\n{pair.logs('algo-1')[-4000:]}")
        time.sleep(1)
    raise AssertionError(f"no running application on 2 workers within {deadline}s:\n{pair.logs('algo-1')[-3000:]}")


@pytest.fixture
def pair_factory(image, fresh_ml):
    made: list[Pair] = []

    def make(env: dict[str, str] | None = None) -> Pair:
        pair = Pair(image, {h: fresh_ml() for h in HOSTS}, env)
        made.append(pair)  # closed even if it fails to start
        return pair.start()

    yield make
    for pair in made:
        pair.close()


def test_two_hosts_fit_one_model_together(pair_factory, trained):
    pair = pair_factory()
    try:
        state = _wait_fitting(pair)
        assert sorted(w["host"] for w in state["workers"] if w["state"] == "ALIVE") == list(HOSTS)
        codes = {h: pair.wait(h, timeout=RUN_TIMEOUT) for h in HOSTS}
    except BaseException:
        print(pair.logs("algo-1")[-4000:], "\n----\n", pair.logs("algo-2")[-4000:])
        raise
    assert codes == {"algo-1": 0, "algo-2": 0}, (pair.logs("algo-1")[-4000:], pair.logs("algo-2")[-4000:])
    leader, worker = pair.bases["algo-1"], pair.bases["algo-2"]
    meta = json.loads((leader / "model" / "metadata.json").read_text())
    # recommendations.csv was scored by executor tasks on both hosts: the file the leader's own
    # scoring gives for the written model, byte for byte
    assert meta["data"]["recommendations_scored_on"] == "executors"
    reference = leader.parent / f"{leader.name}-reference.csv"
    rows = batch.write_recommendations(load_model(leader / "model"), reference)
    assert (leader / "output" / "data" / "recommendations.csv").read_bytes() == reference.read_bytes()
    assert rows == meta["data"]["recommendation_rows"] > 0
    # Only the leader writes a model or output data; the worker leaves no failure either.
    assert not (worker / "model").exists() or not any((worker / "model").iterdir())
    assert not (worker / "output" / "data").exists() or not any((worker / "output" / "data").iterdir())
    assert not (worker / "output" / "failure").exists()
    # Executors on both hosts ran tasks (the driver's status store, recorded in metadata.json).
    info = meta["cluster"]
    assert info["master"] == "spark://algo-1:7077"
    done = {}
    for e in info["executors"]:
        done[e["host"]] = done.get(e["host"], 0) + e["completed_tasks"]
    assert set(done) == set(HOSTS) and all(n > 0 for n in done.values()), info
    # Same quality as one host on the same data, within ALS noise (different blocking).
    single = json.loads((trained.base / "model" / "metadata.json").read_text())["metrics"]["model"]["ndcg_at_10"]
    multi = meta["metrics"]["model"]["ndcg_at_10"]
    assert abs(multi - single) <= max(0.02, 0.15 * single), (multi, single)


def test_losing_a_worker_mid_fit_neither_hangs_nor_leaves_a_silent_failure(pair_factory):
    # Short network timeouts so the lost executor is noticed in seconds, not Spark's 120 s.
    pair = pair_factory({"ALSRECO_SPARK_CONF": json.dumps(
        {"spark.network.timeout": "30s", "spark.network.timeoutInterval": "10s",
         "spark.executor.heartbeatInterval": "5s"})})
    _wait_fitting(pair)
    # Kill algo-2 once the evaluation fit is done, i.e. during the final fit, when its executor
    # certainly holds ALS blocks.
    end = time.monotonic() + 300
    while "ALS fit:" not in pair.logs("algo-1"):
        assert time.monotonic() < end and pair.running("algo-1"), pair.logs("algo-1")[-4000:]
        time.sleep(0.5)
    docker("kill", pair.names["algo-2"])
    started = time.monotonic()
    code = pair.wait("algo-1", timeout=400)
    elapsed = time.monotonic() - started
    leader = pair.bases["algo-1"]
    logs = pair.logs("algo-1")
    if code == 0:  # Spark re-ran the lost work on the leader's executor
        meta = json.loads((leader / "model" / "metadata.json").read_text())
        assert meta["metrics"]["model"]["ndcg_at_10"] > 0
        lost = [e for e in meta["cluster"]["executors"] if e["host"] == "algo-2"]
        assert lost and not lost[0]["active"] and lost[0]["completed_tasks"] > 0, meta["cluster"]
    else:
        failure = (leader / "output" / "failure").read_text()
        assert failure and "Traceback" not in failure and len(failure) <= 1024, failure
        assert not (leader / "model" / "metadata.json").exists()
    assert elapsed < 400, logs[-3000:]
    print(f"leader after losing algo-2: exit {code} in {elapsed:.0f}s")
