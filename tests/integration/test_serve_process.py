"""`serve` as a process: readiness without a model, SIGTERM, dead workers, dead children."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import pytest
import requests

from tests.integration.conftest import wait_for
from tests.unit.conftest import write_synthetic

pytestmark = pytest.mark.integration


def children(pid: int) -> dict[int, str]:
    """Direct children of `pid` -> their command line."""
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                out[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError, IndexError):
            continue
    return out


def child(pid: int, word: str) -> int:
    [found] = [p for p, cmd in children(pid).items() if word in cmd]
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return state != "Z"


def test_ping_503_without_model_then_200_once_it_appears(serve_factory):
    srv = serve_factory()
    first = srv.wait_ready()
    assert first.status_code == 503 and "no model" in first.json()["error"]
    assert srv.post({"customer_id": "17850"}).status_code == 503
    write_synthetic(srv.base / "model")
    wait_for(lambda: all(requests.get(srv.url + "/ping", timeout=2).status_code == 200 for _ in range(4)),
             15, "/ping 200 from every worker")
    assert srv.post({"customer_id": "17850"}).json()["predictions"][0]["known"] is True


@pytest.mark.parametrize("needs", [0.5, 18.0])  # 18 s: longer than nginx's old 15 s shutdown timeout
def test_sigterm_finishes_in_flight_request_and_exits_0(serve_factory, tmp_path, needs):
    """A request still arriving `needs` seconds after SIGTERM is answered: the drain budget (25 s)
    covers it, and serve still exits 0 inside SageMaker's 30 s."""
    srv = serve_factory()
    write_synthetic(srv.base / "model")
    assert srv.wait_ready().status_code == 200
    body = b'{"customer_id": "17850", "k": 3}'
    with socket.create_connection(("127.0.0.1", srv.port), timeout=40) as conn:
        conn.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body) + body[:10])
        time.sleep(0.3)  # the request is now in flight inside nginx
        start = time.monotonic()
        srv.proc.send_signal(signal.SIGTERM)
        time.sleep(needs)
        conn.sendall(body[10:])
        response = b""
        while chunk := conn.recv(65536):
            response += chunk
    assert response.startswith(b"HTTP/1.1 200"), response[:300]
    assert b'"17850"' in response
    assert srv.proc.wait(30) == 0, srv.log()
    assert time.monotonic() - start < 30
    with pytest.raises(requests.ConnectionError):
        requests.get(srv.url + "/ping", timeout=2)


def test_sigterm_when_idle_is_quick(serve_factory):
    srv = serve_factory(command=[str(Path(sys.executable).parent / "serve")])  # the console script
    write_synthetic(srv.base / "model")
    srv.wait_ready()
    pids = children(srv.proc.pid)
    assert len(pids) == 2
    family = set(pids) | {g for k in pids for g in children(k)}
    assert srv.stop() < 10 and srv.proc.returncode == 0
    assert not any(alive(p) for p in family)


def test_killed_worker_is_replaced_while_requests_succeed(serve_factory):
    srv = serve_factory(workers=2)
    write_synthetic(srv.base / "model")
    srv.wait_ready()
    master = child(srv.proc.pid, "alsreco.serve.gunicorn")
    workers = wait_for(lambda: (w := set(children(master))) and len(w) == 2 and w, 15, "two workers")
    victim = sorted(workers)[0]
    os.kill(victim, signal.SIGKILL)
    ok = 0
    for i in range(40):
        resp = srv.post({"customer_id": "17850", "k": 2})
        assert resp.status_code == 200, resp.text
        ok += 1
    def replacement() -> set[int] | None:
        now = set(children(master))
        return now if len(now) == 2 and victim not in now else None

    replaced = wait_for(replacement, 15, "a replacement worker")
    assert replaced - workers and ok == 40
    assert srv.proc.poll() is None


@pytest.mark.parametrize("which", ["nginx", "alsreco.serve.gunicorn"])
def test_a_dead_child_stops_the_other_and_serve_fails(serve_factory, which):
    srv = serve_factory()
    write_synthetic(srv.base / "model")
    srv.wait_ready()
    kids = children(srv.proc.pid)
    family = set(kids) | {g for k in kids for g in children(k)}  # masters and their workers
    assert len(family) >= 4
    victim = child(srv.proc.pid, which)
    os.kill(victim, signal.SIGKILL)
    assert srv.proc.wait(30) != 0, srv.log()
    wait_for(lambda: not any(alive(p) for p in family), 5, "no orphaned nginx / gunicorn processes")


def _python_for(drop: list[str]) -> tuple[str, dict[str, str]] | None:
    """An interpreter the unprivileged user can run, also from inside Python (nested exec)."""
    check = "import subprocess, sys; subprocess.run([sys.executable, '-c', 'import alsreco.serve.app'], check=True)"
    site = sysconfig.get_paths()["purelib"]
    repo = Path(__file__).resolve().parents[2]
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    for exe, env in [(sys.executable, {}), (f"/usr/bin/python{version}", {"PYTHONPATH": f"{site}:{repo}"})]:
        if Path(exe).exists() and subprocess.run(drop + [exe, "-c", check], env={**os.environ, **env},
                                                 capture_output=True, cwd="/").returncode == 0:
            return exe, env
    return None


def test_unprivileged_user(serve_factory):
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv to switch to an unprivileged user")
    drop = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    found = _python_for(drop)
    if found is None:
        pytest.skip("no Python interpreter with alsreco is runnable by nobody here")
    exe, env = found
    with tempfile.TemporaryDirectory() as tmp:  # outside pytest's root-only tree
        base = Path(tmp) / "opt_ml"
        write_synthetic(base / "model")
        for p in [Path(tmp), *Path(tmp).rglob("*")]:
            os.chmod(p, 0o755 if p.is_dir() else 0o644)
        srv = serve_factory(base=base, command=drop + [exe, "-m", "alsreco.serve"], **env)
        assert srv.wait_ready().status_code == 200, srv.log()
        assert srv.post('"17850"').status_code == 200
        assert srv.post(b" " * (7 * 1024 * 1024)).status_code == 413
        assert srv.stop() < 30 and srv.proc.returncode == 0, srv.log()
        assert "POST /invocations" in srv.log()  # the access log reached stdout


def test_workers_run_one_blas_thread_each(serve_factory):
    """The workers are the parallelism: OpenBLAS's own threads in each of them only contend (5-10x slower
    scoring under load, benchmarks/RESULTS.md); serve gives gunicorn OPENBLAS_NUM_THREADS=1."""
    srv = serve_factory(workers=2)
    write_synthetic(srv.base / "model")
    assert srv.wait_ready().status_code == 200
    master = child(srv.proc.pid, "alsreco.serve.gunicorn")
    workers = wait_for(lambda: (w := set(children(master))) and len(w) == 2 and w, 15, "two workers")
    for pid in [master, *workers]:
        env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        assert b"OPENBLAS_NUM_THREADS=1" in env and b"OMP_NUM_THREADS=1" in env
        assert len(list(Path(f"/proc/{pid}/task").iterdir())) == 1  # no BLAS thread pool
    assert srv.post({"customer_id": "17850", "k": 2}).status_code == 200
