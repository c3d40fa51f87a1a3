"""The same image as an asynchronous inference endpoint and as a serverless one (docs/deploy.md).

Async inference: SageMaker reads the request from S3, posts it to the container's /invocations and
writes the answer to S3. Here a local S3 (moto) and a few lines doing what SageMaker's side does stand in
for it, around the real container started as the docs say (ALSRECO_ENDPOINT_TYPE=async, a larger
SAGEMAKER_MAX_PAYLOAD_IN_MB): a payload over the real-time limits is answered in full, while the same
payload to a real-time container is refused with a 413 that names the way out."""
from __future__ import annotations

import json
import uuid

import pytest
import requests

from alsreco.core.artifact import load_model
from alsreco.core.net import free_port, wait_for_http
from benchmarks.dockerkit import MemorySampler, docker

pytestmark = pytest.mark.container
JSONL = "application/jsonlines"


def _serve(image, trained, *options: str):
    assert trained.returncode == 0, trained.logs[-3000:]
    port, name = free_port(), f"alsreco-test-kind-{uuid.uuid4().hex[:8]}"
    cid = docker("run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:8080", *options,
                 "-v", f"{trained.base / 'model'}:/opt/ml/model:ro", image, "serve").stdout.strip()
    url = f"http://127.0.0.1:{port}"
    if not wait_for_http(url + "/ping", 120):
        logs = docker("logs", name, check=False)
        docker("rm", "-f", name, check=False)
        pytest.fail(f"serve did not answer /ping:\n{(logs.stdout + logs.stderr)[-3000:]}")
    return url, name, cid


@pytest.fixture(scope="module")
def s3():
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port())
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield boto3.client("s3", endpoint_url=f"http://{host}:{port}", region_name="us-east-1",
                           aws_access_key_id="testing", aws_secret_access_key="testing")
    finally:
        server.stop()


def _async_invoke(s3, url: str, input_key: str, content_type: str) -> tuple[int, str]:
    """What SageMaker does for InvokeEndpointAsync: the payload from S3 to /invocations, the answer to S3."""
    payload = s3.get_object(Bucket="async-in", Key=input_key)["Body"].read()
    with requests.post(url + "/invocations", data=payload, stream=True, timeout=600,
                       headers={"Content-Type": content_type, "Accept": content_type}) as resp:
        body = resp.raw.read(decode_content=True)
    output_key = f"output/{uuid.uuid4()}.out"
    s3.put_object(Bucket="async-out", Key=output_key, Body=body)
    return resp.status_code, output_key


def test_async_inference_answers_a_payload_past_the_real_time_limits_in_full(image, trained, s3):
    customers = [str(c) for c in load_model(trained.base / "model").customer_ids]
    popular = [str(p) for p in load_model(trained.base / "model").product_ids[:60]]
    lines = [json.dumps({"customer_id": customers[i % len(customers)], "k": 10, "exclude_items": popular})
             for i in range(15_000)]
    payload = ("\n".join(lines) + "\n").encode()
    assert len(payload) > 8 * 1024 * 1024  # over the 6 MB request limit, 15,000 > the 10,000-customer cap
    for bucket in ("async-in", "async-out"):
        s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket="async-in", Key="requests/customers.jsonl", Body=payload)
    realtime_url, realtime, _ = _serve(image, trained)
    async_url, endpoint, _ = _serve(image, trained, "-e", "ALSRECO_ENDPOINT_TYPE=async",
                                    "-e", "SAGEMAKER_MAX_PAYLOAD_IN_MB=100")
    try:
        status, key = _async_invoke(s3, async_url, "requests/customers.jsonl", JSONL)
        assert status == 200
        out = s3.get_object(Bucket="async-out", Key=key)["Body"].read().decode().split("\n")
        assert len(out) == 15_000
        docs = [json.loads(x) for x in out]
        assert [d["customer_id"] for d in docs] == [customers[i % len(customers)] for i in range(15_000)]
        assert all(len(d["recommendations"]) == 10 and not {r["product_id"] for r in d["recommendations"]}
                   & set(popular) for d in docs[::500])
        small = "\n".join(lines[:8_000]).encode()  # fits the 6 MB request limit and the customer cap
        resp = requests.post(realtime_url + "/invocations", data=small, headers={"Content-Type": JSONL}, timeout=120)
        assert resp.status_code == 413, resp.text[:300]
        assert "6 MB" in resp.json()["error"] and "asynchronous inference" in resp.json()["error"]
        big = requests.post(realtime_url + "/invocations", data=payload, headers={"Content-Type": JSONL}, timeout=120)
        assert big.status_code == 413 and big.json()["status"] == 413
    finally:
        docker("rm", "-f", realtime, endpoint, check=False)


def test_serverless_one_worker_a_4_mb_answer_limit_and_memory_under_1_gb(image, trained):
    url, name, cid = _serve(image, trained, "-e", "ALSRECO_ENDPOINT_TYPE=serverless", "--memory", "1g")
    sampler = MemorySampler(name, cid, interval=0.5).start()
    try:
        customers = [str(c) for c in load_model(trained.base / "model").customer_ids]
        ok = requests.post(url + "/invocations", json={"customer_id": customers[0], "k": 5}, timeout=30)
        assert ok.status_code == 200 and len(ok.json()["predictions"][0]["recommendations"]) == 5
        five_mb = {"customer_ids": [customers[i % len(customers)] for i in range(4_500)], "k": 10}
        resp = requests.post(url + "/invocations", json=five_mb, timeout=60)
        assert resp.status_code == 413 and "4 MB a serverless endpoint" in resp.json()["error"], resp.text[:300]
        top = docker("top", name, "-o", "pid,args").stdout
        assert sum("alsreco.serve.gunicorn" in line for line in top.splitlines()) == 2, top  # master + 1 worker
    finally:
        peaks = sampler.stop()
        docker("rm", "-f", name, check=False)
    assert 0 < peaks["peak_working_set_mb"] < 1024, peaks
