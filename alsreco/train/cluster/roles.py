"""Dispatch on `resourceconfig.json`: one host trains alone; several form a cluster."""
from __future__ import annotations

import logging
from typing import Any, Callable

from ...core import hyperparameters
from ...core.errors import SigtermInterrupt, Terminated
from ...core.paths import Paths
from ...core.settings import Settings
from .config import check_input_distribution, load_resource_config
from .leader import Leader
from .worker import run_worker

log = logging.getLogger(__name__)


def run_role(paths: Paths, settings: Settings, run: Callable[[Paths, Settings], Any]) -> Any:
    """Dispatch on resourceconfig.json: single host -> `run(paths, settings)`; several hosts ->
    the leader forms the cluster and runs the job as its driver, the others serve as workers."""
    hp_master = hyperparameters.load(paths, settings.spec_file)["spark_master"]
    if hp_master:  # the hyperparameter wins over SPARK_MASTER
        settings = settings.with_(spark_master=hp_master)
    rc = load_resource_config(paths)
    if rc is None or not rc.multi_host:
        return run(paths, settings)
    check_input_distribution(paths)
    log.info("multi-instance job: %s is %s of %s", rc.current_host, "the leader" if rc.is_leader else "a worker",
             list(rc.hosts))
    if not rc.is_leader:
        return run_worker(rc, settings.cluster_timeout, settings.spark_home, settings.spark_daemon_memory)
    leader = Leader(rc, settings.cluster_timeout, settings.spark_home, settings.spark_daemon_memory)
    try:
        conf = leader.start()
        master = conf.pop("spark.master")
        if settings.driver_memory:  # ALSRECO_DRIVER_MEMORY wins over the leader's sizing, as on one host
            conf.pop("spark.driver.memory", None)
        result = run(paths, settings.with_(spark_master=master, spark_conf={**conf, **settings.spark_conf}))
    except BaseException as exc:
        if isinstance(exc, (Terminated, SigtermInterrupt, KeyboardInterrupt)):  # every host is stopping: no waiting
            leader.close()
            raise
        reason = str(exc) or type(exc).__name__
        try:
            leader.finish(False, f"{getattr(exc, 'kind', type(exc).__name__)}: {reason}"[:512])
        except BaseException:  # noqa: BLE001 - the original error matters more
            leader.close()
        raise
    leader.finish(True)
    return result
