"""Spark master and worker daemons in the foreground (spark-class), output to our stderr."""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
from typing import Mapping

from ..spark.ports import MASTER_PORT, MASTER_UI_PORT, WORKER_PORT, WORKER_UI_PORT

log = logging.getLogger(__name__)


def spark_home(configured: str = "") -> str:
    """`SPARK_HOME` when set (Settings.spark_home), else the pyspark package's own."""
    import pyspark
    return configured or os.path.dirname(pyspark.__file__)


class Daemon:
    """A Spark master or worker in the foreground (spark-class), output to our stderr. The child
    inherits this process's environment plus `env`."""

    def __init__(self, name: str, args: list[str], env: Mapping[str, str], home: str = "",
                 daemon_memory: str = "512m"):
        self.name = name
        home = spark_home(home)
        full = {**os.environ, "SPARK_HOME": home, "SPARK_DAEMON_MEMORY": daemon_memory,
                "SPARK_DAEMON_JAVA_OPTS": "-Dlog4j2.level=warn", "SPARK_NO_DAEMONIZE": "1", **env}
        cmd = [os.path.join(home, "bin", "spark-class"), *args]
        log.info("starting Spark %s: %s", name, " ".join(args))
        self.proc = subprocess.Popen(cmd, env=full, stdin=subprocess.DEVNULL, stdout=sys.stderr,
                                     stderr=sys.stderr, start_new_session=True)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout_s: float = 15.0) -> None:
        if self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, 15)
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, 9)
            self.proc.wait(timeout=10)
        except ProcessLookupError:
            pass


def start_master(host: str, bind_ip: str | None, home: str = "", daemon_memory: str = "512m") -> Daemon:
    env = {"SPARK_LOCAL_IP": bind_ip} if bind_ip else {}
    return Daemon("master", ["org.apache.spark.deploy.master.Master", "--host", host, "--port", str(MASTER_PORT),
                             "--webui-port", str(MASTER_UI_PORT)], env, home, daemon_memory)


def start_worker(host: str, master_url: str, bind_ip: str | None, cores: int, memory_mb: int,
                 home: str = "", daemon_memory: str = "512m") -> Daemon:
    work = tempfile.mkdtemp(prefix="alsreco-worker-")
    env = {"SPARK_WORKER_DIR": work, "SPARK_LOCAL_DIRS": work, "PYSPARK_PYTHON": sys.executable,
           **({"SPARK_LOCAL_IP": bind_ip} if bind_ip else {})}
    return Daemon("worker", ["org.apache.spark.deploy.worker.Worker", "--host", host, "--port", str(WORKER_PORT),
                             "--webui-port", str(WORKER_UI_PORT), "--cores", str(cores), "--memory",
                             f"{memory_mb}M", "--work-dir", work, master_url], env, home, daemon_memory)
