"""`train` attached to an existing Spark standalone cluster (SPARK_MASTER), no Docker.

A real master and worker (pyspark's own spark-class) run on 127.0.0.1 on free ports; `train`
runs as a separate process with SPARK_MASTER=spark://127.0.0.1:<port>, so its driver, not a
local[N] session, fits the model on the worker's executor.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from alsreco.core.net import free_port
from alsreco.train.cluster.daemons import spark_home
from alsreco.train.cluster.network import alive_workers
from tests.conftest import TEST_DIR

pytestmark = pytest.mark.integration

START_DEADLINE = 120.0
TRAIN_TIMEOUT = 900


def _master_json(ui_port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/json/", timeout=3) as resp:
        return json.loads(resp.read().decode())


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@pytest.fixture
def standalone(tmp_path):
    """A Spark master + one worker (2 cores, 2 GiB) on 127.0.0.1; stopped afterwards."""
    home = spark_home()
    spark_class = os.path.join(home, "bin", "spark-class")
    port, ui, wport, wui = (free_port() for _ in range(4))
    env = {**os.environ, "SPARK_HOME": home, "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_NO_DAEMONIZE": "1",
           "SPARK_DAEMON_MEMORY": "512m", "SPARK_DAEMON_JAVA_OPTS": "-Dlog4j2.level=warn",
           "SPARK_WORKER_DIR": str(tmp_path / "work"), "PYSPARK_PYTHON": sys.executable}
    logs = {name: tmp_path / f"{name}.log" for name in ("master", "worker")}
    procs: list[subprocess.Popen] = []
    try:
        with logs["master"].open("w") as out:
            procs.append(subprocess.Popen(
                [spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
                 "--webui-port", str(ui)], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True))
        with logs["worker"].open("w") as out:
            procs.append(subprocess.Popen(
                [spark_class, "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1", "--port", str(wport),
                 "--webui-port", str(wui), "--cores", "2", "--memory", "2G", f"spark://127.0.0.1:{port}"],
                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True))
        end = time.monotonic() + START_DEADLINE
        while True:
            for p, name in zip(procs, logs):
                if p.poll() is not None:
                    pytest.fail(f"spark {name} exited {p.returncode}:\n{logs[name].read_text()[-3000:]}")
            try:
                if len(alive_workers(_master_json(ui))) == 1:
                    break
            except OSError:
                pass
            if time.monotonic() > end:
                pytest.fail(f"no worker registered within {START_DEADLINE}s:\n"
                            + "\n".join(p.read_text()[-2000:] for p in logs.values()))
            time.sleep(0.5)
        yield {"url": f"spark://127.0.0.1:{port}", "ui": ui}
    finally:
        for p in reversed(procs):
            _stop(p)


def test_train_attaches_to_an_existing_standalone_cluster(standalone, tmp_path):
    base = tmp_path / "ml"
    shutil.copytree(TEST_DIR / "input", base / "input")
    env = {**os.environ, "SAGEMAKER_BASE_DIR": str(base), "SPARK_MASTER": standalone["url"],
           "SPARK_LOCAL_IP": "127.0.0.1", "ALSRECO_DRIVER_MEMORY": "1g"}
    env.pop("ALSRECO_SPARK_CONF", None)
    r = subprocess.run([sys.executable, "-m", "alsreco.train.main"], env=env, capture_output=True, text=True,
                       timeout=TRAIN_TIMEOUT)
    logs = r.stdout + r.stderr
    assert r.returncode == 0, logs[-4000:]
    meta = json.loads((base / "model" / "metadata.json").read_text())
    info = meta["cluster"]
    assert info["master"] == standalone["url"], info
    # The work ran on the worker's executor, not in the driver.
    executors = info["executors"]
    assert executors and all(e["id"] != "driver" for e in executors), info
    assert sum(e["completed_tasks"] for e in executors) > 0, info
    assert info["hosts"] == ["127.0.0.1"] and info["cores"] == 2, info
    # The master saw the application through to the end.
    apps = _master_json(standalone["ui"])["completedapps"]
    assert [a["state"] for a in apps if a["id"] == info["application_id"]] == ["FINISHED"], apps
    assert meta["metrics"]["model"]["ndcg_at_10"] > meta["metrics"]["popularity"]["ndcg_at_10"] * 0.5
    assert (base / "output" / "data" / "recommendations.csv").is_file()
    # No checkpoint dir on a cluster (it would be executor-local).
    assert "checkpoint" not in " ".join(p.name for p in (base / "model").iterdir())
