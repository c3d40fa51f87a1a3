import os

from alsreco.core.paths import Paths
from alsreco.core.settings import Settings
from alsreco.train.spark import resources, session


def test_session_config_is_sized_to_the_machine(tmp_path):
    conf = session.session_config(Paths(tmp_path), Settings(base_dir=tmp_path, tmpdir=str(tmp_path)))
    cores = resources.cpu_count()
    assert conf["spark.master"] == f"local[{cores}]"
    mb = int(conf["spark.driver.memory"].rstrip("m"))
    assert 1024 <= mb <= resources.memory_limit_bytes() // resources.MIB
    assert conf["spark.local.dir"].startswith(str(tmp_path))
    assert conf["spark.ui.enabled"] == "false"


def test_settings_override_master_and_driver_memory(tmp_path):
    env = {"TMPDIR": str(tmp_path), "SPARK_MASTER": "spark://h:7077", "ALSRECO_DRIVER_MEMORY": "2g"}
    conf = session.session_config(Paths(tmp_path), Settings.from_env(env))
    assert conf["spark.master"] == "spark://h:7077" and conf["spark.driver.memory"] == "2g"
    assert conf["spark.local.dir"].startswith(str(tmp_path))


def test_local_mode_binds_the_driver_to_loopback_in_the_conf_not_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("SPARK_LOCAL_IP", raising=False)
    conf = session.session_config(Paths(tmp_path), Settings(base_dir=tmp_path, tmpdir=str(tmp_path)))
    assert conf["spark.driver.host"] == conf["spark.driver.bindAddress"] == "127.0.0.1"
    assert "SPARK_LOCAL_IP" not in os.environ
    own = session.session_config(Paths(tmp_path), Settings(tmpdir=str(tmp_path), spark_local_ip="10.1.2.3"))
    assert own["spark.driver.host"] == "10.1.2.3"


def test_checkpoints_go_to_sagemaker_checkpoint_dir_when_present(tmp_path):
    paths = Paths(tmp_path)
    assert session.checkpoint_dir(paths, "/scratch") == "/scratch/checkpoints"
    paths.checkpoints_dir.mkdir()
    assert session.checkpoint_dir(paths, "/scratch") == str(paths.checkpoints_dir / "spark")


def test_small_data_runs_the_quick_jit_only(tmp_path):
    settings = Settings(base_dir=tmp_path, tmpdir=str(tmp_path))
    small = session.session_config(Paths(tmp_path), settings, ratings=16_000)["spark.driver.extraJavaOptions"]
    large = session.session_config(Paths(tmp_path), settings, ratings=50_000_000)["spark.driver.extraJavaOptions"]
    assert "-XX:TieredStopAtLevel=1" in small and "TieredStopAtLevel" not in large
