"""Multi-instance roles, resourceconfig.json, sizing and the leader's status endpoint (no JVM)."""
from __future__ import annotations

import json
import os
import time

import pytest

from alsreco.core.errors import AlgorithmError, UserError
from alsreco.core.net import free_port
from alsreco.core.paths import Paths
from alsreco.core.settings import Settings
from alsreco.train.cluster import config, leader, network, roles, sizing, status, worker
from alsreco.train.spark import session


def _rc(paths: Paths, **raw) -> None:
    paths.config_dir.mkdir(parents=True, exist_ok=True)
    paths.resourceconfig_file.write_text(json.dumps(raw))


def test_no_resourceconfig_or_one_host_runs_the_single_host_path_unchanged(tmp_path):
    paths = Paths(tmp_path)
    settings = Settings(base_dir=tmp_path)
    calls = []
    assert roles.run_role(paths, settings, lambda p, s: calls.append((p, s)) or "done") == "done"
    _rc(paths, current_host="algo-1", hosts=["algo-1"], network_interface_name="eth0")
    assert roles.run_role(paths, settings, lambda p, s: calls.append((p, s)) or "again") == "again"
    assert calls == [(paths, settings), (paths, settings)]


def test_hosts_are_sorted_and_the_first_leads(tmp_path):
    paths = Paths(tmp_path)
    _rc(paths, current_host="algo-1", hosts=["algo-2", "algo-10", "algo-1"], network_interface_name="eth0")
    rc = config.load_resource_config(paths)
    assert rc.hosts == ("algo-1", "algo-10", "algo-2") and rc.leader == "algo-1"
    assert rc.is_leader and rc.multi_host and rc.network_interface_name == "eth0"
    _rc(paths, current_host="algo-2", hosts=["algo-2", "algo-1"])
    rc = config.load_resource_config(paths)
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
        config.load_resource_config(paths)
    assert all(w in str(err.value) for w in words)


def test_sharded_input_is_rejected_naming_the_setting_and_the_fix(tmp_path):
    paths = Paths(tmp_path)
    _rc(paths, current_host="algo-2", hosts=["algo-1", "algo-2"])
    paths.inputdataconfig_file.write_text(json.dumps(
        {"training": {"TrainingInputMode": "File", "S3DistributionType": "ShardedByS3Key"}}))
    ran = []
    with pytest.raises(UserError) as err:
        roles.run_role(paths, Settings(base_dir=tmp_path), lambda p, s: ran.append(p))
    assert "ShardedByS3Key" in str(err.value) and "FullyReplicated" in str(err.value)
    assert not ran
    paths.inputdataconfig_file.write_text(json.dumps(
        {"training": {"TrainingInputMode": "File", "S3DistributionType": "FullyReplicated"}}))
    config.check_input_distribution(paths)  # fine


def test_dns_is_retried_until_the_deadline():
    answers = iter([OSError("no such host"), OSError("no such host"), "10.0.0.2"])

    def lookup(host):
        a = next(answers)
        if isinstance(a, Exception):
            raise a
        return a

    assert network.resolve("algo-2", time.monotonic() + 60, sleep=lambda s: None, lookup=lookup) == "10.0.0.2"

    def never(host):
        raise OSError("no such host")

    with pytest.raises(AlgorithmError, match="algo-9"):
        network.resolve("algo-9", time.monotonic() - 1, sleep=lambda s: None, lookup=never)


def test_interface_address_of_loopback_and_of_a_missing_interface():
    assert network.interface_address("lo") == "127.0.0.1"
    assert network.interface_address("nosuchif0") is None
    assert network.interface_address(None) is None


STATE = {"workers": [
    {"host": "algo-1", "cores": 4, "memory": 7000, "state": "ALIVE"},
    {"host": "10.0.0.3", "cores": 2, "memory": 6000, "state": "ALIVE"},
    {"host": "algo-2", "cores": 8, "memory": 9000, "state": "DEAD"},
]}


def test_workers_are_matched_by_name_or_address():
    hosts = ("algo-1", "algo-2", "algo-3")
    assert network.missing_workers(STATE, hosts, {}) == ["algo-2", "algo-3"]
    assert network.missing_workers(STATE, hosts, {"algo-3": "10.0.0.3"}) == ["algo-2"]


def test_the_driver_gets_one_executor_per_host_sized_from_the_smallest_worker():
    rc = config.ResourceConfig("algo-1", ("algo-1", "algo-2"), "eth0")
    conf = sizing.driver_conf(rc, STATE, "10.0.0.2", 10 * 1024 ** 3)
    assert conf["spark.master"] == "spark://algo-1:7077"
    assert conf["spark.driver.host"] == "algo-1" and conf["spark.driver.bindAddress"] == "10.0.0.2"
    assert conf["spark.executor.cores"] == "2" and conf["spark.executor.memory"] == "6000m"
    assert conf["spark.cores.max"] == "4" and conf["spark.default.parallelism"] == "4"
    assert conf["spark.scheduler.minRegisteredResourcesRatio"] == "1.0"
    assert conf["spark.driver.memory"] == "2560m"  # a quarter of the leader's 10 GiB
    assert conf["spark.shuffle.io.preferDirectBufs"] == "false" and conf["spark.executorEnv.MALLOC_ARENA_MAX"]
    with pytest.raises(AlgorithmError):
        sizing.driver_conf(rc, {"workers": []}, None, 1)


def test_the_leaders_worker_offers_less_since_the_driver_shares_its_host():
    three_gib = 3 * 1024 ** 3
    assert sizing.worker_resources(2, three_gib) == (2, 1382)
    assert sizing.worker_resources(2, three_gib, leader=True) == (2, 921)
    assert sizing.worker_resources(0, 1024 ** 3, leader=True) == (1, sizing.MIN_EXECUTOR_MB)
    # on equal 8 GiB hosts the leader's two JVM heaps stay within 55 % of its memory (the rest: their
    # off-heap memory, the Python driver, the daemons); executors take the leader's smaller offer
    eight_gib = 8 << 30
    state = {"workers": [{"host": "algo-1", "cores": 2, "memory": sizing.worker_resources(2, eight_gib, True)[1],
                          "state": "ALIVE"},
                         {"host": "algo-2", "cores": 2, "memory": sizing.worker_resources(2, eight_gib)[1],
                          "state": "ALIVE"}]}
    conf = sizing.driver_conf(config.ResourceConfig("algo-1", ("algo-1", "algo-2"), "eth0"), state, None, eight_gib)
    heaps = int(conf["spark.driver.memory"][:-1]) + int(conf["spark.executor.memory"][:-1])
    assert conf["spark.executor.memory"] == "2457m" and heaps <= 0.55 * 8192


def test_session_config_on_a_cluster_uses_fixed_ports_and_the_leaders_settings(tmp_path):
    settings = Settings(base_dir=tmp_path, tmpdir=str(tmp_path), spark_master="spark://algo-1:7077",
                        spark_conf={"spark.executor.cores": "4", "spark.default.parallelism": "8"})
    conf = session.session_config(Paths(tmp_path), settings)
    assert conf["spark.master"] == "spark://algo-1:7077"
    assert conf["spark.driver.port"] == "7079" and conf["spark.blockManager.port"] == "7081"
    assert conf["spark.driver.blockManager.port"] == "7080"
    assert conf["spark.executor.cores"] == "4" and conf["spark.default.parallelism"] == "8"
    assert "spark.sql.shuffle.partitions" not in conf  # the cluster's cores decide, not this machine's
    assert "spark.driver.host" not in conf
    local = session.session_config(Paths(tmp_path), Settings(base_dir=tmp_path, tmpdir=str(tmp_path)))
    assert "spark.driver.port" not in local and local["spark.master"].startswith("local[")


def test_spark_conf_comes_from_the_environment_as_a_json_object():
    env = {"ALSRECO_SPARK_CONF": json.dumps({"spark.executor.cores": 4, "spark.default.parallelism": "8"})}
    assert Settings.from_env(env).spark_conf == {"spark.executor.cores": "4", "spark.default.parallelism": "8"}
    with pytest.raises(UserError, match="ALSRECO_SPARK_CONF"):
        Settings.from_env({"ALSRECO_SPARK_CONF": "[1]"})
    with pytest.raises(UserError, match="ALSRECO_SPARK_CONF"):
        Settings.from_env({"ALSRECO_SPARK_CONF": "{not json"})
    assert Settings.from_env({"ALSRECO_CLUSTER_TIMEOUT": "12"}).cluster_timeout == 12.0
    with pytest.raises(UserError, match="ALSRECO_CLUSTER_TIMEOUT"):
        Settings.from_env({"ALSRECO_CLUSTER_TIMEOUT": "soon"})


def test_status_endpoint_records_which_hosts_read_the_final_state():
    state = status.Status()
    port = free_port()
    server = status.serve_status(state, "127.0.0.1", port)
    try:
        url = f"http://127.0.0.1:{port}/?host=algo-2"
        assert network.get_json(url) == {"state": "starting", "reason": ""}
        assert state.acknowledged == set()  # not final yet
        state.set(status.FAILED, "UserError: bad data")
        assert network.get_json(url) == {"state": "failed", "reason": "UserError: bad data"}
        assert state.acknowledged == {"algo-2"}
    finally:
        server.shutdown()
        server.server_close()


def test_worker_role_fails_clearly_when_the_leader_never_answers(tmp_path, monkeypatch):
    monkeypatch.setattr(worker, "STATUS_PORT", free_port())  # nothing listens there
    monkeypatch.setattr(worker, "POLL", 0.05)
    rc = config.ResourceConfig("localhost", ("127.0.0.1", "localhost"))
    started = time.monotonic()
    with pytest.raises(AlgorithmError, match="leader 127.0.0.1 did not answer"):
        worker.run_worker(rc, deadline_s=1.0)
    assert time.monotonic() - started < 15


def test_the_spark_master_hyperparameter_attaches_a_single_host_job_to_a_cluster(tmp_path, monkeypatch):
    monkeypatch.delenv("SPARK_MASTER", raising=False)
    paths = Paths(tmp_path)
    paths.config_dir.mkdir(parents=True)
    paths.hyperparameters_file.write_text(json.dumps({"spark_master": "spark://emr-master:7077"}))
    seen = []
    roles.run_role(paths, Settings(base_dir=tmp_path, spark_master="spark://env:7077"),
                   lambda p, s: seen.append(s.spark_master))
    assert seen == ["spark://emr-master:7077"]  # the hyperparameter wins over SPARK_MASTER
    assert "SPARK_MASTER" not in os.environ  # passed along in Settings, not through the environment


class _FakeDaemon:
    def __init__(self, name: str):
        self.name = name
        self.stopped = False

    def alive(self) -> bool:
        return True

    def stop(self) -> None:
        self.stopped = True


def test_the_leader_returns_the_drivers_spark_conf_instead_of_setting_the_environment(monkeypatch):
    rc = config.ResourceConfig("algo-1", ("algo-1", "algo-2"), None)
    started = []
    monkeypatch.setattr(leader, "resolve", lambda host, deadline: "10.0.0.1")
    monkeypatch.setattr(leader, "serve_status", lambda st, bind: None)
    monkeypatch.setattr(leader, "start_master", lambda *a: started.append("master") or _FakeDaemon("master"))
    monkeypatch.setattr(leader, "start_worker", lambda *a: started.append("worker") or _FakeDaemon("worker"))
    monkeypatch.setattr(leader, "master_state", lambda host: {"workers": [
        {"host": "algo-1", "cores": 2, "memory": 3000, "state": "ALIVE"},
        {"host": "algo-2", "cores": 4, "memory": 5000, "state": "ALIVE"}]})
    monkeypatch.setattr(leader.resources, "memory_limit_bytes", lambda: 16 << 30)
    before = dict(os.environ)
    lead = leader.Leader(rc, deadline_s=5)
    conf = lead.start()
    assert started == ["master", "worker"] and lead.status.snapshot()["state"] == status.RUNNING
    assert conf["spark.master"] == "spark://algo-1:7077"
    assert conf["spark.driver.port"] == "7079" and conf["spark.executor.cores"] == "2"
    assert conf["spark.cores.max"] == "4" and conf["spark.driver.host"] == "algo-1"
    assert dict(os.environ) == before
    daemons = list(lead.daemons)
    lead.close()
    assert len(daemons) == 2 and all(d.stopped for d in daemons)


def test_the_leader_runs_the_job_with_the_cluster_in_its_settings(tmp_path, monkeypatch):
    paths = Paths(tmp_path)
    _rc(paths, current_host="algo-1", hosts=["algo-1", "algo-2"])
    finished = []

    class FakeLeader:
        def __init__(self, rc, deadline_s, spark_home, daemon_memory):
            assert (rc.leader, deadline_s, daemon_memory) == ("algo-1", 42.0, "1g")

        def start(self):
            return {"spark.master": "spark://algo-1:7077", "spark.executor.cores": "2", "spark.cores.max": "4",
                    "spark.driver.memory": "768m"}

        def finish(self, ok, reason=""):
            finished.append((ok, reason))

        def close(self):
            finished.append("closed")

    monkeypatch.setattr(roles, "Leader", FakeLeader)
    settings = Settings(base_dir=tmp_path, cluster_timeout=42.0, spark_daemon_memory="1g",
                        spark_conf={"spark.executor.cores": "3"})
    seen = []
    assert roles.run_role(paths, settings, lambda p, s: seen.append(s) or "model") == "model"
    [s] = seen
    assert s.spark_master == "spark://algo-1:7077" and "spark.master" not in s.spark_conf
    assert s.spark_conf == {"spark.executor.cores": "3", "spark.cores.max": "4",  # ALSRECO_SPARK_CONF wins
                            "spark.driver.memory": "768m"}
    assert finished == [(True, "")]
    # ALSRECO_DRIVER_MEMORY too: the leader's sizing leaves the driver's memory to it
    seen.clear()
    roles.run_role(paths, settings.with_(driver_memory="2g"), lambda p, s: seen.append(s) or "model")
    assert "spark.driver.memory" not in seen[0].spark_conf
    conf = session.session_config(paths, seen[0])
    assert conf["spark.driver.memory"] == "2g"
    finished.clear()

    def boom(p, s):
        raise ValueError("bad luck")

    with pytest.raises(ValueError):
        roles.run_role(paths, settings, boom)
    assert finished[-1] == (False, "ValueError: bad luck")


def test_a_small_leader_runs_no_executor_and_waits_only_for_the_other_hosts(monkeypatch):
    """Under LEADER_EXECUTOR_MIN_BYTES the leader's host keeps its memory for the driver: no worker
    there, and the cluster is ready once the other hosts' workers have registered."""
    rc = config.ResourceConfig("algo-1", ("algo-1", "algo-2", "algo-3"), None)
    started, states = [], iter([
        {"workers": [{"host": "algo-2", "cores": 2, "memory": 1382, "state": "ALIVE"}]},
        {"workers": [{"host": "algo-2", "cores": 2, "memory": 1382, "state": "ALIVE"},
                     {"host": "algo-3", "cores": 2, "memory": 1382, "state": "ALIVE"}]}])
    monkeypatch.setattr(leader, "POLL", 0.01)
    monkeypatch.setattr(leader, "resolve", lambda host, deadline: "10.0.0.1")
    monkeypatch.setattr(leader, "serve_status", lambda st, bind: None)
    monkeypatch.setattr(leader, "start_master", lambda *a: started.append("master") or _FakeDaemon("master"))
    monkeypatch.setattr(leader, "start_worker", lambda *a: started.append("worker") or _FakeDaemon("worker"))
    monkeypatch.setattr(leader, "master_state", lambda host: next(states))
    monkeypatch.setattr(leader.resources, "memory_limit_bytes", lambda: 3 << 30)
    assert not sizing.leader_runs_executor(3 << 30) and sizing.leader_runs_executor(6 << 30)
    lead = leader.Leader(rc, deadline_s=5)
    conf = lead.start()
    assert started == ["master"] and lead.worker_hosts == ("algo-2", "algo-3")
    assert conf["spark.cores.max"] == "4" and conf["spark.executor.memory"] == "1382m"
    assert conf["spark.driver.memory"] == "768m"
    lead.close()
