import os
from pathlib import Path

import pytest

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


def test_the_driver_heap_leaves_room_for_python_on_small_hosts():
    gib = 1 << 30
    assert session.driver_heap_mb(24 * gib) == int(24 * 1024 * session.DRIVER_MEMORY_FRACTION)
    assert session.driver_heap_mb(3 * gib) == 3072 - 1792  # not 60 % (1,843m): the kernel killed that JVM
    assert session.driver_heap_mb(2 * gib) == 1024  # the floor
    for gb in (3, 4, 4.375, 5, 8):  # the smaller of the fraction and all but the reserve
        heap = session.driver_heap_mb(int(gb * gib))
        assert heap <= gb * 1024 * session.DRIVER_MEMORY_FRACTION and heap <= gb * 1024 - 1792
        assert heap >= min(gb * 1024 * session.DRIVER_MEMORY_FRACTION, gb * 1024 - 1792) - 1


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


def test_the_class_data_archive_is_mapped_only_when_it_exists(tmp_path):
    archive = tmp_path / "classes.jsa"
    settings = Settings(base_dir=tmp_path, tmpdir=str(tmp_path), spark_cds=str(archive))
    assert "SharedArchiveFile" not in session.session_config(Paths(tmp_path), settings)["spark.driver.extraJavaOptions"]
    archive.write_bytes(b"x")
    options = session.session_config(Paths(tmp_path), settings)["spark.driver.extraJavaOptions"]
    assert f"-XX:SharedArchiveFile={archive}" in options and "-XX:+UseParallelGC" in options


def test_the_class_data_archive_setting(tmp_path):
    import pyspark

    from alsreco.train.spark import cds
    assert cds.archive_path(Settings.from_env({})) == \
        Path(pyspark.__file__).parent / cds.ARCHIVE_NAME
    assert cds.archive_path(Settings.from_env({"ALSRECO_SPARK_CDS": "off"})) is None
    assert cds.archive_path(Settings.from_env({"ALSRECO_SPARK_CDS": "OFF"})) is None
    assert cds.archive_path(Settings.from_env({"ALSRECO_SPARK_CDS": "/x/y.jsa"})) == Path("/x/y.jsa")
    spaced = tmp_path / "a b.jsa"  # Spark splits extraJavaOptions on whitespace: never pass a broken option
    spaced.write_bytes(b"x")
    assert cds.java_options(Settings(spark_cds=str(spaced))) == ""
    assert cds.java_options(Settings(spark_cds="off")) == ""


def test_a_failed_archive_dump_says_why(tmp_path):
    from alsreco.core.errors import AlgorithmError
    from alsreco.train.spark import cds
    java = tmp_path / "java"
    java.write_text("#!/bin/sh\necho 'Error: no class list here' >&2\nexit 3\n")
    java.chmod(0o755)
    with pytest.raises(AlgorithmError, match="exited 3: Error: no class list here"):
        cds.dump(str(java), "/nowhere.jar", tmp_path / "classes.lst", tmp_path / "out.jsa")
    assert list(tmp_path.iterdir()) == [java]  # no staged or half-written archive left


def test_warmup_with_the_archive_off_starts_no_jvm(tmp_path):
    from alsreco.train import warmup
    assert warmup.build(Settings(spark_cds="off", tmpdir=str(tmp_path))) is None
    assert list(tmp_path.iterdir()) == []


def test_the_pandas_path_limit_setting():
    from alsreco.core.errors import UserError
    assert Settings.from_env({}).pandas_max_mb == -1  # by memory (prepare.pandas_limit)
    assert Settings.from_env({"ALSRECO_PANDAS_MAX_MB": "0"}).pandas_max_mb == 0  # always Spark
    assert Settings.from_env({"ALSRECO_PANDAS_MAX_MB": "512"}).pandas_max_mb == 512
    with pytest.raises(UserError, match="ALSRECO_PANDAS_MAX_MB"):
        Settings.from_env({"ALSRECO_PANDAS_MAX_MB": "-2"})
