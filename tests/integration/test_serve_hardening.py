"""`serve` under hostile or unlucky conditions, through the real nginx -> gunicorn -> Flask stack:
bounded work per request, /ping that never queues behind big requests, JSON for every error nginx
answers itself, one model version at a time (the SIGTERM budget: test_serve_process.py)."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import threading
import time
from pathlib import Path

import pytest
import requests

from benchmarks.procs import parent_pid, process_tree
from tests.integration.conftest import wait_for
from tests.unit.conftest import write_synthetic


def _raw(port: int, request: bytes, timeout: float = 10) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(request)
        out = b""
        while chunk := conn.recv(65536):
            out += chunk
    return out


def _json_body(response: bytes) -> dict:
    return json.loads(response.split(b"\r\n\r\n", 1)[1])


def test_work_per_request_is_bounded_with_a_clear_413(server):
    resp = server.post({"customer_ids": [f"c{i}" for i in range(10_000)], "k": 1000})
    assert resp.status_code == 413
    err = resp.json()["error"]
    assert "10,000,000 recommendations" in err and "at most 200,000" in err
    assert resp.headers["X-Model-Version"]


def _serve_sample(serve_factory, model_dir, tmp_path, **kwargs):
    base = tmp_path / "opt_ml"
    base.mkdir()
    (base / "model").symlink_to(model_dir, target_is_directory=True)
    srv = serve_factory(base, **kwargs)
    assert srv.wait_ready().status_code == 200
    return srv


def test_ping_answers_while_big_requests_run(serve_factory, model_dir, tmp_path):
    srv = _serve_sample(serve_factory, model_dir, tmp_path, workers=1)  # one sync worker, kept busy
    body = {"customer_ids": [f"c{i}" for i in range(5_000)], "k": 10}  # ~5.5 MB: near the most an answer may be
    done: list[int] = []
    enough = threading.Event()  # set once /ping was probed often enough while big requests ran

    def big():
        deadline = time.monotonic() + 60
        while not enough.is_set() and time.monotonic() < deadline:
            done.append(srv.post(body).status_code)

    threads = [threading.Thread(target=big) for _ in range(2)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    worst, probes = 0.0, 0
    while any(t.is_alive() for t in threads):
        start = time.monotonic()
        assert requests.get(srv.url + "/ping", timeout=5).status_code == 200
        worst, probes = max(worst, time.monotonic() - start), probes + 1
        if probes >= 20:
            enough.set()
        time.sleep(0.02)
    for t in threads:
        t.join()
    assert probes >= 20 and len(done) >= 2 and set(done) == {200}
    assert worst < 0.5, f"/ping took {worst:.2f} s while big requests ran (SageMaker wants < 2 s)"


def test_ping_never_waits_for_a_python_worker(serve_factory, model_dir, tmp_path):
    """While the loaded model is healthy, nginx answers /ping from the supervisor's file: with every
    gunicorn process frozen, /ping still says 200 (with the version) and the app itself does not answer."""
    srv = _serve_sample(serve_factory, model_dir, tmp_path, workers=2)
    expected = requests.get(srv.url + "/ping", timeout=5).json()
    assert expected["status"] == "ok" and expected["model_version"]
    wait_for(lambda: _health_files(srv.proc.pid), 10, "the health file")
    wait_for(lambda: len(_gunicorn_pids(srv.proc.pid)) == 3, 30, "gunicorn's master + 2 workers")
    gunicorn = _gunicorn_pids(srv.proc.pid)  # (/ping is ready with the first worker)
    for pid in gunicorn:
        os.kill(pid, signal.SIGSTOP)
    try:
        for _ in range(20):
            resp = requests.get(srv.url + "/ping", timeout=1)
            assert resp.status_code == 200 and resp.json() == expected
            assert resp.headers["Content-Type"] == "application/json"
            assert resp.headers["Cache-Control"] == "no-store"
        assert requests.head(srv.url + "/ping", timeout=1).status_code == 200
        with pytest.raises(requests.Timeout):  # the app really is frozen
            requests.get(srv.url + "/execution-parameters", timeout=1)
    finally:
        for pid in gunicorn:
            os.kill(pid, signal.SIGCONT)
    assert requests.get(srv.url + "/execution-parameters", timeout=10).status_code == 200
    post = requests.post(srv.url + "/ping", timeout=5)  # nginx's static handler: JSON 405 like the app's
    assert post.status_code == 405 and post.json()["status"] == 405


def _gunicorn_pids(serve_pid: int) -> list[int]:
    return [p for p in process_tree(serve_pid)[1:]
            if b"alsreco.serve.gunicorn" in Path(f"/proc/{p}/cmdline").read_bytes()]


def _health_files(serve_pid: int) -> list[str]:
    """The supervisor's health file (its run dir is the nginx prefix on nginx's command line)."""
    for p in process_tree(serve_pid)[1:]:
        cmd = Path(f"/proc/{p}/cmdline").read_bytes().replace(b"\0", b" ").split()  # nginx retitles itself
        if b"-p" in cmd:
            health = Path(cmd[cmd.index(b"-p") + 1].decode()) / "health" / "ping.json"
            return [str(health)] if health.exists() else []
    return []


def test_errors_nginx_answers_itself_are_json(server):
    long_uri = _raw(server.port, b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert long_uri.startswith(b"HTTP/1.1 414") and _json_body(long_uri)["status"] == 414
    big_header = _raw(server.port, b"GET /ping HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 40_000 + b"\r\n\r\n")
    assert big_header.startswith(b"HTTP/1.1 431") or big_header.startswith(b"HTTP/1.1 400"), big_header[:200]
    assert "error" in _json_body(big_header)
    garbage = _raw(server.port, b"\x16\x03\x01 hello\r\n\r\n")
    assert garbage.startswith(b"HTTP/1.1 400") and _json_body(garbage)["status"] == 400
    trace = _raw(server.port, b"TRACE /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert trace.startswith(b"HTTP/1.1 405") and _json_body(trace)["status"] == 405
    odd = requests.request("PATCH", server.url + "/invocations", timeout=5)
    assert odd.status_code == 405 and odd.json()["status"] == 405


def test_a_model_appearing_later_is_served_as_one_version(serve_factory, tmp_path):
    srv = serve_factory(workers=2)
    assert srv.wait_ready().status_code == 503
    staged = tmp_path / "staged"
    write_synthetic(staged)
    meta = json.loads((staged / "metadata.json").read_text())
    shutil.copytree(staged, srv.base / "model", dirs_exist_ok=True)
    wait_for(lambda: requests.get(srv.url + "/ping", timeout=2).status_code == 200, 30, "model picked up")
    # replace the directory's model: the running generation keeps serving the version it loaded
    meta["model_version"] = "synthetic-2"
    (srv.base / "model" / "metadata.json").write_text(json.dumps(meta))
    time.sleep(2.5)
    versions = {requests.post(srv.url + "/invocations", json={"customer_id": "17850"}, timeout=5)
                .headers["X-Model-Version"] for _ in range(20)}
    assert versions == {"synthetic-1"}, versions


def test_a_corrupt_model_is_a_503_with_its_reason_and_a_fixed_one_is_picked_up(serve_factory, tmp_path):
    srv = serve_factory()
    write_synthetic(srv.base / "model")
    (srv.base / "model" / "purchases.npz").write_bytes(b"PK\x03\x04 truncated")
    first = srv.wait_ready()
    assert first.status_code == 503 and "purchases.npz" in first.json()["error"], first.text
    write_synthetic(srv.base / "model")  # a retrain writes metadata.json last
    wait_for(lambda: requests.get(srv.url + "/ping", timeout=2).status_code == 200, 30, "fixed model picked up")
    assert "serve exited" not in srv.log()


def test_a_worker_dying_mid_stream_breaks_the_response_instead_of_truncating_it(serve_factory, model_dir,
                                                                                  tmp_path):
    """Batch transform streams large answers in chunks; if the worker dies half-way (killed, out of
    memory, timed out), the client must see a broken response, never a 200 whose JSON simply stops
    (nginx speaks HTTP/1.1 to gunicorn, so the body is chunked and a premature end is detectable).
    Real-time answers are not streamed: they are bounded by size (tests/unit/test_answer_size.py)."""
    from alsreco.core.artifact import load_model

    srv = _serve_sample(serve_factory, model_dir, tmp_path, workers=1, SAGEMAKER_BATCH="true")
    ids = [str(c) for c in load_model(model_dir).customer_ids]
    body = {"customer_ids": (ids * (10_000 // len(ids) + 1))[:10_000], "k": 20}  # 10 chunks of 20,000
    [master] = [p for p in _gunicorn_pids(srv.proc.pid) if parent_pid(p) == srv.proc.pid]
    [worker] = [p for p in _gunicorn_pids(srv.proc.pid) if parent_pid(p) == master]
    with requests.post(srv.url + "/invocations", json=body, stream=True, timeout=30) as resp:
        assert resp.status_code == 200  # headers come with the first chunk
        os.kill(worker, signal.SIGKILL)
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            b"".join(resp.iter_content(65536))
    wait_for(lambda: requests.post(srv.url + "/invocations", json={"customer_id": ids[0]}, timeout=10).ok, 30,
             "a replacement worker")


def test_a_real_time_answer_is_whole_or_a_json_error_never_a_cut_200(serve_factory, model_dir, tmp_path):
    """With MODEL_SERVER_TIMEOUT=1 large real-time answers used to be cut mid-stream (the client saw a 200
    and then a broken body). A real-time answer is now one body with a Content-Length, bounded by size: a
    client gets all of it, or a JSON error."""
    from concurrent.futures import ThreadPoolExecutor

    srv = _serve_sample(serve_factory, model_dir, tmp_path, workers=1, MODEL_SERVER_TIMEOUT="1")
    body = {"customer_ids": [f"c{i}" for i in range(5_000)], "k": 10}  # ~5.5 MB answers

    def one(_):
        resp = srv.post(body)
        return resp.status_code, resp.headers, resp.content

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(one, range(8)))
    for status, headers, content in answers:
        doc = json.loads(content)
        if status == 200:
            assert int(headers["Content-Length"]) == len(content) and len(doc["predictions"]) == 5_000
        else:
            assert doc["status"] == status and status >= 500, doc
    assert sum(status == 200 for status, _, _ in answers) >= 1
