"""What a newcomer meets first through a real `serve`: logs one can read in CloudWatch, batch
transform semantics (SAGEMAKER_BATCH), and /execution-parameters that tell the truth."""
from __future__ import annotations

import json
import re

from tests.integration.conftest import wait_for


def _serve_on(serve_factory, model_dir, tmp_path, **env):
    base = tmp_path / "opt_ml"
    base.mkdir()
    (base / "model").symlink_to(model_dir, target_is_directory=True)
    srv = serve_factory(base, workers=1, **env)
    assert srv.wait_ready().status_code == 200, srv.log()
    return srv


def test_serve_logs_the_model_at_start_and_one_line_per_request(serve_factory, model_dir, tmp_path):
    srv = _serve_on(serve_factory, model_dir, tmp_path)
    version = srv.post({"customer_id": "17850"}).headers["X-Model-Version"]
    assert srv.post({"customer_ids": ["17850", "13047", "nobody"], "k": 2}).status_code == 200
    assert srv.post({"k": 0, "customer_id": "17850"}).status_code == 400
    wait_for(lambda: srv.log().count("POST /invocations") == 3, 10, "three request lines in the log")
    log = srv.log()
    assert re.search(rf"INFO alsreco\.serve: loaded model {re.escape(version)} from .*: \d+ customers, "
                     r"\d+ products, rank \d+", log), log
    lines = [ln for ln in log.splitlines() if "POST /invocations" in ln]
    assert len(lines) == 3, log
    assert re.search(r"INFO alsreco\.serve: POST /invocations 200 [\d.]+ms customers=1$", lines[0]), lines[0]
    assert lines[1].endswith("customers=3"), lines[1]
    assert " 400 " in lines[2]
    assert "GET /ping" not in log  # health checks do not drown the log


def test_batch_mode_takes_more_than_ten_thousand_records_and_answers_line_for_line(
        serve_factory, model_dir, tmp_path):
    srv = _serve_on(serve_factory, model_dir, tmp_path, SAGEMAKER_BATCH="true")
    ids = [f"c{i}" if i % 3 else "17850" for i in range(12_000)]
    body = "\n".join(json.dumps({"customer_id": c, "k": 1}) for c in ids) + "\n"
    resp = srv.post(body, ctype="application/jsonlines", accept="application/jsonlines")
    assert resp.status_code == 200, resp.text[:300]
    assert not resp.text.endswith("\n")  # AssembleWith=Line adds the newline: no blank lines
    out = resp.text.split("\n")
    assert len(out) == len(ids)
    assert [json.loads(line)["customer_id"] for line in out] == ids


def test_real_time_requests_keep_the_documented_customer_cap(server):
    body = "\n".join(f'"c{i}"' for i in range(10_001))
    resp = server.post(body, ctype="application/jsonlines")
    assert resp.status_code == 413
    assert "10001 > 10000" in resp.json()["error"]


def test_execution_parameters_follow_the_payload_setting(serve_factory, model_dir, tmp_path):
    import requests

    srv = _serve_on(serve_factory, model_dir, tmp_path, SAGEMAKER_MAX_PAYLOAD_IN_MB="20")
    params = requests.get(srv.url + "/execution-parameters", timeout=5).json()
    assert params == {"MaxConcurrentTransforms": 1, "BatchStrategy": "MULTI_RECORD", "MaxPayloadInMB": 20}
    big = "\n".join(f'"c{i}"' for i in range(1_000_000))  # ~9 MB: above the old 6 MB, below 20 MB
    assert len(big) > 7 * 1024 * 1024
    resp = srv.post(big, ctype="application/jsonlines")
    assert resp.status_code == 413 and "10000" in resp.json()["error"]  # nginx let it through: the cap answered
