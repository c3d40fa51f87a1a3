"""Real `serve` processes (nginx + gunicorn) on free 127.0.0.1 ports, driven over HTTP.

`model_dir` is the model trained by the real pipeline (`trained_model_dir` from
tests/conftest.py); `synthetic_model_dir` is the small structured model of the unit tests,
for assertions that depend on a known structure.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from alsreco.core.net import free_port, wait_for_http
from tests.unit.conftest import write_synthetic

STARTUP_DEADLINE = 60.0


class Serve:
    """One `serve` process rooted at `base` (SAGEMAKER_BASE_DIR)."""

    def __init__(self, base: Path, workers: int = 2, command: list[str] | None = None, **env: str):
        self.base = Path(base)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = self.base / f"serve-{self.port}.log"
        self.base.mkdir(parents=True, exist_ok=True)
        full_env = {**os.environ, "SAGEMAKER_BASE_DIR": str(self.base), "SAGEMAKER_BIND_TO_PORT": str(self.port),
                    "MODEL_SERVER_WORKERS": str(workers), "PYTHONUNBUFFERED": "1", **env}
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(command or [sys.executable, "-m", "alsreco.serve"], env=full_env,
                                         stdout=log, stderr=subprocess.STDOUT)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, deadline: float = STARTUP_DEADLINE) -> requests.Response:
        """Poll /ping until nginx answers (200 or 503); fail with the log if serve dies or hangs."""
        end = time.monotonic() + deadline
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited with {self.proc.returncode}:\n{self.log()}")
            if wait_for_http(self.url + "/ping", 0.5, ok=(200, 503)):
                try:
                    resp = requests.get(self.url + "/ping", timeout=2)
                except requests.ConnectionError:
                    resp = None
                # nginx's own 503 (gunicorn not up yet) does not count: the app's does
                if resp is not None and resp.headers.get("Content-Type", "").startswith("application/json") \
                        and "model server unavailable" not in resp.text:
                    return resp
            if time.monotonic() > end:
                raise AssertionError(f"serve not ready after {deadline} s:\n{self.log()}")
            time.sleep(0.1)

    def stop(self, timeout: float = 30.0) -> float:
        """SIGTERM; return the seconds until exit (kill after `timeout`)."""
        if self.proc.poll() is not None:
            return 0.0
        start = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return time.monotonic() - start

    def post(self, body, ctype: str = "application/json", accept: str | None = None,
             path: str = "/invocations") -> requests.Response:
        headers = {"Content-Type": ctype, **({"Accept": accept} if accept else {})}
        data = body if isinstance(body, (str, bytes)) else json.dumps(body)
        return requests.post(self.url + path, data=data, headers=headers, timeout=30)


def wait_for(condition, deadline: float, what: str):
    end = time.monotonic() + deadline
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"{what} not true after {deadline} s")
        time.sleep(0.1)


@pytest.fixture(scope="session")
def model_dir(trained_model_dir) -> Path:
    return trained_model_dir


@pytest.fixture(scope="session")
def synthetic_model_dir(tmp_path_factory) -> Path:
    return write_synthetic(tmp_path_factory.mktemp("synthetic_opt_ml") / "model")


def _serve_fixture(model: Path, tmp: Path):
    base = tmp / "opt_ml"
    base.mkdir()
    (base / "model").symlink_to(model, target_is_directory=True)
    srv = Serve(base)
    try:
        assert srv.wait_ready().status_code == 200, srv.log()
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="session")
def server(model_dir, tmp_path_factory):
    """`serve` on the trained sample model, shared by the session."""
    yield from _serve_fixture(model_dir, tmp_path_factory.mktemp("serve_trained"))


@pytest.fixture(scope="session")
def synthetic_server(synthetic_model_dir, tmp_path_factory):
    yield from _serve_fixture(synthetic_model_dir, tmp_path_factory.mktemp("serve_synthetic"))


@pytest.fixture
def serve_factory(tmp_path):
    """Start dedicated `serve` processes (lifecycle tests); all are stopped afterwards."""
    started: list[Serve] = []

    def start(base: Path | None = None, **kwargs) -> Serve:
        srv = Serve(base or tmp_path / f"opt_ml_{len(started)}", **kwargs)
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop()
