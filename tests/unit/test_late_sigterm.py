"""A multi-host job ends when its first host exits: SIGTERM after the model is written is not a
failure, and a worker does not leave before the leader is gone."""
from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

from alsreco.core.errors import SigtermInterrupt
from alsreco.core.net import free_port
from alsreco.core.paths import Paths
from alsreco.core.settings import Settings
from alsreco.train import main as train_main
from alsreco.train.cluster import worker
from alsreco.train.cluster.status import SUCCEEDED, Status, serve_status


def test_sigterm_after_the_model_is_written_exits_0_without_a_failure_file(tmp_path, monkeypatch):
    paths = Paths(tmp_path)

    def role(p, settings, run):
        job_run = run  # the lambda main passes: run(p, s, job=job)
        monkeypatch.setattr(train_main, "run", lambda p, s, job=None: setattr(job, "model_written", True))
        job_run(p, settings)
        raise SigtermInterrupt()  # the platform stops the leader while it shuts Spark down

    monkeypatch.setattr(train_main, "run_role", role)
    monkeypatch.setattr(train_main.Settings, "from_env", classmethod(lambda cls: Settings(base_dir=tmp_path)))
    assert train_main.main() == 0
    assert not paths.failure_file.exists()


def test_sigterm_before_the_model_is_written_is_still_a_stop(tmp_path, monkeypatch):
    paths = Paths(tmp_path)

    def role(p, settings, run):
        raise SigtermInterrupt()

    monkeypatch.setattr(train_main, "run_role", role)
    monkeypatch.setattr(train_main.Settings, "from_env", classmethod(lambda cls: Settings(base_dir=tmp_path)))
    assert train_main.main() == 143
    assert paths.failure_file.read_text().startswith("Terminated: training was stopped by SIGTERM")


def test_a_worker_waits_until_the_leader_stops_answering():
    status = Status()
    status.set(SUCCEEDED)
    port = free_port()
    server = serve_status(status, "127.0.0.1", port)
    done = threading.Event()
    t = threading.Thread(target=lambda: (worker._wait_until_gone(f"http://127.0.0.1:{port}/?host=algo-2", 30),
                                         done.set()), daemon=True)
    t.start()
    time.sleep(1.0)
    assert not done.is_set(), "the worker left while the leader was still up"
    assert "algo-2" in status.acknowledged
    server.shutdown()
    server.server_close()
    assert done.wait(10), "the worker did not notice the leader was gone"


def _finalising_child(finished: bool) -> subprocess.CompletedProcess:
    """A child that installs train's SIGTERM handling, decides its outcome (or not) and exits 0, and whose
    interpreter is still freeing a module global (as a Spark job's are) when SIGTERM arrives."""
    code = ("import sys, time\n"
            "from alsreco.train.sigterm import StopOnSigterm\n"
            "stopper = StopOnSigterm()\n"
            + ("stopper.finished()\n" if finished else "")
            + "class Slow:\n"
            "    def __del__(self):\n"
            "        print('finalising', flush=True)\n"
            "        time.sleep(2)\n"
            "keep = Slow()\n"
            "sys.exit(0)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "finalising"
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_once_the_outcome_is_decided_a_late_sigterm_changes_nothing():
    """compose ends a 2-host job when a host exits; the SIGTERM may reach the leader while Python shuts down,
    where Python has already put back the default action for its own handler: a finished job would end as
    143 (killed by SIGTERM). Once `finished()`, SIGTERM is ignored, which Python keeps through shutdown."""
    assert _finalising_child(finished=False).returncode == -signal.SIGTERM  # the race the container test hit
    done = _finalising_child(finished=True)
    assert done.returncode == 0, done.stderr
