"""`serve`: the supervisor. nginx on 0.0.0.0:$SAGEMAKER_BIND_TO_PORT in front of gunicorn on a unix socket.

Supervises both children: SIGTERM/SIGINT -> nginx stops accepting and finishes in-flight
requests (SIGQUIT), then gunicorn stops gracefully (SIGTERM); exit 0. If either child dies
on its own, the other is stopped and `serve` exits 1. Config, socket and pid files live in
a temporary directory, so it runs unprivileged too.
"""
from __future__ import annotations

import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from ..core.errors import UserError
from ..core.logs import configure_logging
from ..core.settings import Settings
from . import watch
from .gunicorn import worker_env
from .nginx import ERRORS_DIR, HEALTH_DIR, PING_FILE, error_bodies, nginx_conf

log = logging.getLogger("alsreco.serve")
STARTUP_DEADLINE = 300.0  # seconds for gunicorn to load the model and bind
NGINX_DEADLINE = 30.0
GUNICORN_STOP = 10.0  # seconds for an old gunicorn generation to go when a model appears


def _die_with_parent() -> None:  # runs in the child before exec (Linux only)
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _spawn(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
    """`args` in a session of its own; `env`: variables added to this process's environment."""
    log.info("starting %s", " ".join(args))
    return subprocess.Popen(args, start_new_session=True, preexec_fn=_die_with_parent,
                            env={**os.environ, **env} if env else None)


def _connectable(family: int, address) -> bool:
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(1.0)
        try:
            s.connect(address)
            return True
        except OSError:
            return False


class Supervisor:
    def __init__(self, settings: Settings, run_dir: Path):
        self.settings = settings
        self.run_dir = run_dir
        self.socket = run_dir / "gunicorn.sock"
        self.health = run_dir / HEALTH_DIR / PING_FILE  # nginx answers /ping from it (see nginx.py)
        self.children: dict[str, subprocess.Popen] = {}
        self.wake = threading.Event()
        self.stopping = False
        self.model_dir = settings.base_dir / "model"
        self.generation: watch.Signature = None  # metadata.json when the running gunicorn started
        self.model_ready = False

    def on_signal(self, signum: int, _frame) -> None:
        if signum != signal.SIGCHLD:
            self.stopping = True
        self.wake.set()

    def dead_child(self) -> str | None:
        for name, proc in self.children.items():
            if proc.poll() is not None:
                return f"{name} exited with code {proc.returncode}"
        return None

    def wait_until(self, ready, deadline: float, what: str) -> str | None:
        """Poll `ready()` until it holds; return why not (stop, dead child, timeout)."""
        end = time.monotonic() + deadline
        while not ready():
            if self.stopping:
                return "stop requested"
            if (dead := self.dead_child()) is not None:
                return dead
            if time.monotonic() > end:
                return f"{what} not ready after {deadline:.0f} s"
            self.wake.wait(0.05)
            self.wake.clear()
        return None

    def start_gunicorn(self) -> str | None:
        self.generation = watch.signature(self.model_dir)
        self.model_ready = False
        self.children["gunicorn"] = _spawn([sys.executable, "-m", "alsreco.serve.gunicorn", str(self.socket),
                                            str(self.run_dir / "models")], worker_env(self.settings))
        problem = self.wait_until(lambda: _connectable(socket.AF_UNIX, str(self.socket)),
                                  STARTUP_DEADLINE, "gunicorn")
        if problem is None:
            self.probe_model()  # at once: no window where /ping is ready but still goes to the app
        return problem

    def probe_model(self) -> bool:
        """Ask the running generation's /ping; once it says 200, publish it for nginx."""
        status, body = watch.ping(self.socket)
        if status == 200:
            self.model_ready = True
            self.publish_health(body)
        return self.model_ready

    def check_model(self) -> str | None:
        """Until the running generation has a model: restart gunicorn when metadata.json appears
        or changes (see `watch`). Returns a problem if the restart fails."""
        if self.model_ready or self.probe_model():
            return None
        current = watch.signature(self.model_dir)
        if current is None or current == self.generation:
            return None
        log.info("a model appeared in %s: restarting gunicorn to load it", self.model_dir)
        self.withdraw_health()
        old = self.children.pop("gunicorn")
        old.send_signal(signal.SIGTERM)
        try:
            old.wait(timeout=GUNICORN_STOP)
        except subprocess.TimeoutExpired:
            old.kill()
            old.wait()
        _kill_group(old.pid)
        self.socket.unlink(missing_ok=True)
        return self.start_gunicorn()

    def publish_health(self, body: bytes) -> None:
        """The running generation's /ping answer, for nginx to serve (written once: a generation
        never changes its model; a new model means a new generation, see `check_model`)."""
        tmp = self.health.with_suffix(".tmp")
        tmp.write_bytes(body)
        os.replace(tmp, self.health)

    def withdraw_health(self) -> None:
        self.health.unlink(missing_ok=True)

    def run(self) -> int:
        conf = self.run_dir / "nginx.conf"
        conf.write_text(nginx_conf(self.settings, self.run_dir, self.socket))
        errors = self.run_dir / ERRORS_DIR
        errors.mkdir()
        self.health.parent.mkdir()
        for name, body in error_bodies(self.settings).items():
            (errors / name).write_text(body)
        problem = self.start_gunicorn()
        if problem is None:
            self.children["nginx"] = _spawn([_nginx(), "-e", "stderr", "-p", f"{self.run_dir}/",
                                             "-c", str(conf)])
            problem = self.wait_until(
                lambda: _connectable(socket.AF_INET, ("127.0.0.1", self.settings.port)),
                NGINX_DEADLINE, "nginx")
        if problem is None:
            log.info("serving on 0.0.0.0:%d with %d worker(s)", self.settings.port, self.settings.workers)
            while not self.stopping and (problem := self.dead_child() or self.check_model()) is None:
                self.wake.wait(1.0)
                self.wake.clear()
        failed = problem is not None and problem != "stop requested"
        if failed:
            log.error("stopping: %s", problem)
        else:
            log.info("stopping on request")
        clean = self.stop()
        return 1 if failed or not clean else 0

    def stop(self) -> bool:
        """nginx first (finishes in-flight requests), then gunicorn; kill what overstays.
        Each child leads its own process group, so workers orphaned by a master that died
        (e.g. SIGKILL) are killed with the group once the master is gone."""
        end = time.monotonic() + self.settings.stop_seconds
        clean = True
        self.withdraw_health()
        for name, sig in (("nginx", signal.SIGQUIT), ("gunicorn", signal.SIGTERM)):
            proc = self.children.get(name)
            if proc is None:
                continue
            if proc.poll() is None:
                proc.send_signal(sig)
                try:
                    proc.wait(timeout=max(0.1, end - time.monotonic()))
                except subprocess.TimeoutExpired:
                    log.error("%s did not stop in time; killing it", name)
                    proc.kill()
                    proc.wait()
                    clean = False
            _kill_group(proc.pid)
        return clean


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _nginx() -> str:
    path = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx")
                                          if os.access(p, os.X_OK)), None)
    if path is None:
        raise SystemExit("nginx is not installed (Debian: apt-get install -y nginx)")
    return path


def main() -> int:
    configure_logging()
    try:
        settings = Settings.from_env()
    except UserError as exc:
        log.error("%s", exc)
        return 2
    _nginx()
    with tempfile.TemporaryDirectory(prefix="alsreco-serve-") as tmp:
        sup = Supervisor(settings, Path(tmp))
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
            signal.signal(sig, sup.on_signal)
        try:
            code = sup.run()
        finally:
            sup.stop()
    log.info("exit %d", code)
    return code


if __name__ == "__main__":
    sys.exit(main())
