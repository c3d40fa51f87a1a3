from alsreco import spark
from alsreco.paths import Paths


def test_session_config_is_sized_to_the_machine(tmp_path):
    conf = spark.session_config(Paths(tmp_path), environ={"TMPDIR": str(tmp_path)})
    cores = spark.cpu_count()
    assert conf["spark.master"] == f"local[{cores}]"
    mb = int(conf["spark.driver.memory"].rstrip("m"))
    assert 1024 <= mb <= spark.memory_limit_bytes() // spark.MIB
    assert conf["spark.local.dir"].startswith(str(tmp_path))
    assert conf["spark.ui.enabled"] == "false"


def test_environment_overrides(tmp_path):
    conf = spark.session_config(Paths(tmp_path), environ={"TMPDIR": str(tmp_path), "SPARK_MASTER": "spark://h:7077",
                                                          "ALSRECO_DRIVER_MEMORY": "2g"})
    assert conf["spark.master"] == "spark://h:7077" and conf["spark.driver.memory"] == "2g"


def test_checkpoints_go_to_sagemaker_checkpoint_dir_when_present(tmp_path):
    paths = Paths(tmp_path)
    assert spark.checkpoint_dir(paths, "/scratch") == "/scratch/checkpoints"
    paths.checkpoints_dir.mkdir()
    assert spark.checkpoint_dir(paths, "/scratch") == str(paths.checkpoints_dir / "spark")


def test_small_data_runs_the_quick_jit_only(tmp_path):
    env = {"TMPDIR": str(tmp_path)}
    small = spark.session_config(Paths(tmp_path), env, ratings=16_000)["spark.driver.extraJavaOptions"]
    large = spark.session_config(Paths(tmp_path), env, ratings=50_000_000)["spark.driver.extraJavaOptions"]
    assert "-XX:TieredStopAtLevel=1" in small and "TieredStopAtLevel" not in large
