"""`docker run IMAGE serve` on the model trained in the container, called over HTTP from the host."""
from __future__ import annotations

import csv
import io
import json
import subprocess
import time
import uuid

import pytest
import requests

from alsreco.core.net import free_port, wait_for_http
from benchmarks.dockerkit import stop_container

pytestmark = pytest.mark.container


@pytest.fixture(scope="module")
def server(image, trained):
    """The serving container on 127.0.0.1:<free port>; yields (base_url, container_name)."""
    assert trained.returncode == 0, trained.logs[-3000:]
    port = free_port()
    name = f"alsreco-test-serve-{uuid.uuid4().hex[:8]}"
    subprocess.run(["docker", "run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:8080",
                    "-v", f"{trained.base}:/opt/ml", image, "serve"], check=True, capture_output=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while not wait_for_http(f"{url}/ping", 0.5):
            running = subprocess.run(["docker", "inspect", "-f", "{{.State.Running}}", name],
                                     capture_output=True, text=True).stdout.strip()
            if running != "true" or time.monotonic() > deadline:
                logs = subprocess.run(["docker", "logs", name], capture_output=True, text=True)
                pytest.fail(f"serve did not answer /ping (running={running}):\n{(logs.stdout + logs.stderr)[-3000:]}")
            time.sleep(0.5)
        yield url, name
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)


def test_ping(server):
    url, _ = server
    r = requests.get(f"{url}/ping", timeout=10)
    assert r.status_code == 200


def test_json_recommendations_for_a_known_customer(server, payloads):
    url, _ = server
    body = (payloads / "customer.json").read_bytes()
    r = requests.post(f"{url}/invocations", data=body, headers={"Content-Type": "application/json"}, timeout=30)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["model_version"]
    [pred] = doc["predictions"]
    assert pred["customer_id"] == "17850" and pred["known"] is True
    recs = pred["recommendations"]
    assert len(recs) == 5
    assert all(rec["product_id"] and isinstance(rec["score"], (int, float)) and rec["reason"] for rec in recs)
    assert len({rec["product_id"] for rec in recs}) == 5
    scores = [rec["score"] for rec in recs]
    assert scores == sorted(scores, reverse=True)


def test_json_new_customer_with_a_basket(server, payloads):
    url, _ = server
    body = (payloads / "new-customer.json").read_bytes()
    r = requests.post(f"{url}/invocations", data=body, headers={"Content-Type": "application/json"}, timeout=30)
    assert r.status_code == 200, r.text
    [pred] = r.json()["predictions"]
    assert pred["customer_id"] == "new-1" and pred["known"] is False
    ids = [rec["product_id"] for rec in pred["recommendations"]]
    assert len(ids) == 5 and not {"85123A", "71053"} & set(ids)


def test_jsonlines_one_answer_per_line(server, payloads):
    url, _ = server
    body = (payloads / "customers.jsonl").read_bytes()
    r = requests.post(f"{url}/invocations", data=body, timeout=30,
                      headers={"Content-Type": "application/jsonlines", "Accept": "application/jsonlines"})
    assert r.status_code == 200, r.text
    assert not r.text.endswith("\n")  # one line per record, no trailing newline (batch transform)
    lines = [json.loads(line) for line in r.text.split("\n")]
    assert [d["customer_id"] for d in lines] == ["17850", "13047", "new-1"]
    assert all(len(d["recommendations"]) == 3 for d in lines)


def test_csv_one_customer_per_line(server, payloads):
    url, _ = server
    body = (payloads / "customers.csv").read_bytes()
    r = requests.post(f"{url}/invocations", data=body, headers={"Content-Type": "text/csv",
                                                                "Accept": "application/json"}, timeout=30)
    assert r.status_code == 200, r.text
    preds = r.json()["predictions"]
    assert [p["customer_id"] for p in preds] == ["17850", "13047", "12583"]
    assert all(p["recommendations"] for p in preds)
    # And CSV back when asked for it.
    r = requests.post(f"{url}/invocations", data=body, headers={"Content-Type": "text/csv", "Accept": "text/csv"},
                      timeout=30)
    assert r.status_code == 200, r.text
    rows = list(csv.reader(io.StringIO(r.text)))
    assert len(rows) > 3


def test_bad_request_is_a_4xx_not_a_crash(server):
    url, _ = server
    r = requests.post(f"{url}/invocations", data=b"{not json", headers={"Content-Type": "application/json"},
                      timeout=30)
    assert 400 <= r.status_code < 500
    assert requests.get(f"{url}/ping", timeout=10).status_code == 200


def test_docker_stop_ends_serve_quickly_with_exit_0(server):
    """Runs last in this module (pytest keeps file order): it stops the shared server."""
    _, name = server
    elapsed, state, logs = stop_container(name, 60)
    assert elapsed < 30, f"docker stop took {elapsed:.1f}s"
    assert state["ExitCode"] == 0, (state, logs[-3000:])
