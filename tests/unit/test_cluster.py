"""Multi-instance roles, resourceconfig.json, sizing and the leader's status endpoint (no JVM)."""
from __future__ import annotations

import json
import socket
import time

import pytest

from alsreco import cluster, spark
from alsreco.errors import AlgorithmError, UserError
from alsreco.paths import Paths


def _rc(paths: Paths, **raw) -> None:
    paths.config_dir.mkdir(parents=True, exist_ok=True)
    paths.resourceconfig_file.write_text(json.dumps(raw))


def test_no_resourceconfig_or_one_host_runs_the_single_host_path_unchanged(tmp_path):
    paths = Paths(tmp_path)
    calls = []
    assert cluster.run_role(paths, lambda p: calls.append(p) or "done") == "done"
    _rc(paths, current_host="algo-1", hosts=["algo-1"], network_interface_name="eth0")
    assert cluster.run_role(paths, lambda p: calls.append(p) or "again") == "again"
    assert calls == [paths, paths]


def test_hosts_are_sorted_and_the_first_leads(tmp_path):
    paths = Paths(tmp_path)
    _rc(paths, current_host="algo-1", hosts=["algo-2", "algo-10", "algo-1"], network_interface_name="eth0")
    rc = cluster.load_resource_config(paths)
    assert rc.hosts == ("algo-1", "algo-10", "algo-2") and rc.leader == "algo-1"
    assert rc.is_leader and rc.multi_host and rc.network_interface_name == "eth0"
    _rc(paths, current_host="algo-2", hosts=["algo-2", "algo-1"])
    rc = cluster.load_resource_config(paths)
    assert not rc.is_leader and rc.network_interface_name is None


@pytest.mark.parametrize("raw, words", [
    ({"current_host": "algo-3", "hosts": ["algo-1", "algo-2"]}, ["current_host", "algo-3"]),
    ({"current_host": "algo-1", "hosts": []}, ["hosts"]),
    ({"current_host": "algo-1", "hosts": "algo-1"}, ["hosts"]),
])
def test_a_broken_resourceconfig_is_a_user_error(tmp_path, raw, words):
    paths = Paths(tmp_path)
    _rc(paths, **raw)
    with pytest.raises(UserError) as err:
        cluster.load_resource_config(paths)
    assert all(w in str(err.value) for w in words)


def test_sharded_input_is_rejected_naming_the_setting_and_the_fix(tmp_path):
    paths = Paths(tmp_path)
    _rc(paths, current_host="algo-2", hosts=["algo-1", "algo-2"])
    paths.inputdataconfig_file.write_text(json.dumps(
        {"training": {"TrainingInputMode": "File", "S3DistributionType": "ShardedByS3Key"}}))
    ran = []
    with pytest.raises(UserError) as err:
        cluster.run_role(paths, ran.append)
    assert "ShardedByS3Key" in str(err.value) and "FullyReplicated" in str(err.value)
    assert not ran
    paths.inputdataconfig_file.write_text(json.dumps(
        {"training": {"TrainingInputMode": "File", "S3DistributionType": "FullyReplicated"}}))
    cluster.check_input_distribution(paths)  # fine


def test_dns_is_retried_until_the_deadline():
    answers = iter([OSError("no such host"), OSError("no such host"), "10.0.0.2"])

    def lookup(host):
        a = next(answers)
        if isinstance(a, Exception):
            raise a
        return a

    assert cluster.resolve("algo-2", time.monotonic() + 60, sleep=lambda s: None, lookup=lookup) == "10.0.0.2"

    def never(host):
        raise OSError("no such host")

    with pytest.raises(AlgorithmError, match="algo-9"):
        cluster.resolve("algo-9", time.monotonic() - 1, sleep=lambda s: None, lookup=never)


def test_interface_address_of_loopback_and_of_a_missing_interface():
    assert cluster.interface_address("lo") == "127.0.0.1"
    assert cluster.interface_address("nosuchif0") is None
    assert cluster.interface_address(None) is None


STATE = {"workers": [
    {"host": "algo-1", "cores": 4, "memory": 7000, "state": "ALIVE"},
    {"host": "10.0.0.3", "cores": 2, "memory": 6000, "state": "ALIVE"},
    {"host": "algo-2", "cores": 8, "memory": 9000, "state": "DEAD"},
]}


def test_workers_are_matched_by_name_or_address():
    hosts = ("algo-1", "algo-2", "algo-3")
    assert cluster.missing_workers(STATE, hosts, {}) == ["algo-2", "algo-3"]
    assert cluster.missing_workers(STATE, hosts, {"algo-3": "10.0.0.3"}) == ["algo-2"]


def test_the_driver_gets_one_executor_per_host_sized_from_the_smallest_worker():
    rc = cluster.ResourceConfig("algo-1", ("algo-1", "algo-2"), "eth0")
    conf = cluster.driver_conf(rc, STATE, "10.0.0.2", 10 * 1024 ** 3)
    assert conf["spark.master"] == "spark://algo-1:7077"
    assert conf["spark.driver.host"] == "algo-1" and conf["spark.driver.bindAddress"] == "10.0.0.2"
    assert conf["spark.executor.cores"] == "2" and conf["spark.executor.memory"] == "6000m"
    assert conf["spark.cores.max"] == "4" and conf["spark.default.parallelism"] == "4"
    assert conf["spark.scheduler.minRegisteredResourcesRatio"] == "1.0"
    with pytest.raises(AlgorithmError):
        cluster.driver_conf(rc, {"workers": []}, None, 1)


def test_session_config_on_a_cluster_uses_fixed_ports_and_the_leaders_settings(tmp_path):
    env = {"TMPDIR": str(tmp_path), "SPARK_MASTER": "spark://algo-1:7077",
           "ALSRECO_SPARK_CONF": json.dumps({"spark.executor.cores": 4, "spark.default.parallelism": "8"})}
    conf = spark.session_config(Paths(tmp_path), environ=env)
    assert conf["spark.master"] == "spark://algo-1:7077"
    assert conf["spark.driver.port"] == "7079" and conf["spark.blockManager.port"] == "7081"
    assert conf["spark.driver.blockManager.port"] == "7080"
    assert conf["spark.executor.cores"] == "4" and conf["spark.default.parallelism"] == "8"
    assert "spark.sql.shuffle.partitions" not in conf  # the cluster's cores decide, not this machine's
    local = spark.session_config(Paths(tmp_path), environ={"TMPDIR": str(tmp_path)})
    assert "spark.driver.port" not in local and local["spark.master"].startswith("local[")
    with pytest.raises(UserError, match="ALSRECO_SPARK_CONF"):
        spark.session_config(Paths(tmp_path), environ={"TMPDIR": str(tmp_path), "ALSRECO_SPARK_CONF": "[1]"})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_status_endpoint_records_which_hosts_read_the_final_state():
    status = cluster.Status()
    port = _free_port()
    server = cluster.serve_status(status, "127.0.0.1", port)
    try:
        url = f"http://127.0.0.1:{port}/?host=algo-2"
        assert cluster.get_json(url) == {"state": "starting", "reason": ""}
        assert status.acknowledged == set()  # not final yet
        status.set(cluster.FAILED, "UserError: bad data")
        assert cluster.get_json(url) == {"state": "failed", "reason": "UserError: bad data"}
        assert status.acknowledged == {"algo-2"}
    finally:
        server.shutdown()
        server.server_close()


def test_worker_role_fails_clearly_when_the_leader_never_answers(tmp_path, monkeypatch):
    monkeypatch.setattr(cluster, "STATUS_PORT", _free_port())  # nothing listens there
    monkeypatch.setattr(cluster, "POLL", 0.05)
    rc = cluster.ResourceConfig("localhost", ("127.0.0.1", "localhost"))
    started = time.monotonic()
    with pytest.raises(AlgorithmError, match="leader 127.0.0.1 did not answer"):
        cluster.run_worker(rc, deadline_s=1.0)
    assert time.monotonic() - started < 15


def test_the_spark_master_hyperparameter_attaches_a_single_host_job_to_a_cluster(tmp_path, monkeypatch):
    monkeypatch.setenv("SPARK_MASTER", "")  # run_role sets it for the process: restored after the test
    paths = Paths(tmp_path)
    paths.config_dir.mkdir(parents=True)
    paths.hyperparameters_file.write_text(json.dumps({"spark_master": "spark://emr-master:7077"}))
    seen = []
    cluster.run_role(paths, lambda p: seen.append(__import__("os").environ.get("SPARK_MASTER")))
    assert seen == ["spark://emr-master:7077"]
