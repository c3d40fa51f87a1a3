"""`serve` under hostile or unlucky conditions, through the real nginx -> gunicorn -> Flask stack:
bounded work per request, /ping that never queues behind big requests, JSON for every error nginx
answers itself, one model version at a time (the SIGTERM budget: test_serve_process.py)."""
from __future__ import annotations

import json
import shutil
import socket
import threading
import time

import requests

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


def test_ping_answers_while_big_requests_run(serve_factory, model_dir, tmp_path):
    base = tmp_path / "opt_ml"
    base.mkdir()
    (base / "model").symlink_to(model_dir, target_is_directory=True)
    srv = serve_factory(base, workers=1, SAGEMAKER_BATCH="true")  # one worker: pings need its threads
    assert srv.wait_ready().status_code == 200
    body = "\n".join(json.dumps({"customer_id": f"c{i}", "k": 200}) for i in range(20_000))
    done: list[int] = []

    def big():
        done.append(srv.post(body, ctype="application/jsonlines").status_code)

    threads = [threading.Thread(target=big) for _ in range(2)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    worst = 0.0
    while any(t.is_alive() for t in threads):
        start = time.monotonic()
        assert requests.get(srv.url + "/ping", timeout=5).status_code == 200
        worst = max(worst, time.monotonic() - start)
        time.sleep(0.05)
    for t in threads:
        t.join()
    assert done == [200, 200]
    assert worst < 2.0, f"/ping took {worst:.2f} s while big requests ran (SageMaker wants < 2 s)"


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
