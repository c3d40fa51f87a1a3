"""Small network helpers shared by the tests, the benchmarks and `make demo`: a free local port,
waiting until an HTTP endpoint answers, and stopping a local server process. Standard library only."""
from __future__ import annotations

import http.client
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from typing import Container

POLL_S = 0.1
# Local services only: never send these probes through an HTTP proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (the OS picks it; free until someone binds it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def http_status(url: str, timeout_s: float = 2.0) -> int | None:
    """The HTTP status of GET `url`, or None when nothing (or no valid HTTP) answers."""
    try:
        with _OPENER.open(url, timeout=timeout_s) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code
    except (OSError, http.client.HTTPException, ValueError):  # URLError, refused, reset, timeout, garbage
        return None


def wait_for_http(url: str, timeout_s: float, ok: Container[int] = (200,)) -> bool:
    """Poll GET `url` until its status is in `ok` (True) or `timeout_s` seconds pass (False).
    Always tries at least once; pass a `range(100, 600)` to accept any answer."""
    end = time.monotonic() + timeout_s
    while True:
        left = end - time.monotonic()
        if http_status(url, timeout_s=min(2.0, max(0.2, left))) in ok:
            return True
        if time.monotonic() + POLL_S > end:
            return False
        time.sleep(POLL_S)


def stop_process(proc: subprocess.Popen, grace_s: float = 30.0) -> int:
    """SIGTERM, then SIGKILL if it is still running after `grace_s` seconds; its exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()
