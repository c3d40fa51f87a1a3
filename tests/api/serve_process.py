"""The real `serve` console script of this venv on a free 127.0.0.1 port, for the storefront tests."""
from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import requests

from alsreco.core.net import free_port, stop_process

SERVE = Path(sys.executable).parent / "serve"
DEADLINE = 60.0



@contextlib.contextmanager
def running_serve(model_dir: Path, base: Path) -> Iterator[str]:
    """Run `serve` with SAGEMAKER_BASE_DIR=`base` (its model/ -> `model_dir`); yield its URL."""
    if shutil.which("nginx") is None and not os.access("/usr/sbin/nginx", os.X_OK):
        raise RuntimeError("nginx is missing; serve needs it (Debian/Ubuntu: apt-get install -y nginx)")
    base.mkdir(parents=True, exist_ok=True)
    (base / "model").symlink_to(Path(model_dir).resolve(), target_is_directory=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = base / "serve.log"
    env = {**os.environ, "SAGEMAKER_BASE_DIR": str(base), "SAGEMAKER_BIND_TO_PORT": str(port),
           "MODEL_SERVER_WORKERS": "2", "PYTHONUNBUFFERED": "1"}
    with open(log_path, "ab") as log:
        proc = subprocess.Popen([str(SERVE)], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        end = time.monotonic() + DEADLINE
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"serve exited with {proc.returncode}:\n{log_path.read_text(errors='replace')}")
            try:
                if requests.get(url + "/ping", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > end:
                raise RuntimeError(f"serve not ready after {DEADLINE} s:\n{log_path.read_text(errors='replace')}")
            time.sleep(0.1)
        yield url
    finally:
        stop_process(proc, 30)
