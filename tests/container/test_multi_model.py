"""The image as a SageMaker multi-model endpoint: `docker run -e SAGEMAKER_MULTI_MODEL=true IMAGE serve` with
200 models (the model trained in the container, copied with 200 versions) under /opt/ml/models/<name>/model
as SageMaker lays them out, driven through the contract from several clients: loads, pages of the list,
invocations in random order, a corrupt model, a load past the memory budget (507), boto3's
invoke_endpoint with TargetModel, unloads, and SIGTERM with models loaded."""
from __future__ import annotations

import concurrent.futures as cf
import json
import random
import subprocess
import threading
import uuid

import pytest
import requests

from alsreco.core.net import free_port, wait_for_http
from alsreco.serve.models.loading import mapped_bytes
from alsreco.serve.models.registry import MIB
from benchmarks.common import copy_model
from benchmarks.dockerkit import docker, stop_container

pytestmark = pytest.mark.container
MODELS = 200
CLIENTS = 8
WORKERS = 2


@pytest.fixture(scope="module")
def models_root(trained, tmp_path_factory):
    assert trained.returncode == 0, trained.logs[-3000:]
    root = tmp_path_factory.mktemp("opt_ml_models")
    for i in range(MODELS):  # SageMaker's layout: /opt/ml/models/<model_name>/model (hard links: cheap)
        copy_model(trained.base / "model", root / f"shop-{i:03d}" / "model", f"shop-{i:03d}-v1", link=True)
    bad = copy_model(trained.base / "model", root / "corrupt" / "model", "corrupt-v1")
    (bad / "item_factors.npy").write_bytes(b"\x93NUMPY\x01\x00 not an array")
    return root


def _serve(image, models_root, *env: str):
    port, name = free_port(), f"alsreco-test-mme-{uuid.uuid4().hex[:8]}"
    options = [x for e in ("SAGEMAKER_MULTI_MODEL=true", f"MODEL_SERVER_WORKERS={WORKERS}", *env) for x in ("-e", e)]
    docker("run", "-d", "--name", name, "--memory", "1g", "-p", f"127.0.0.1:{port}:8080", *options,
           "-v", f"{models_root}:/opt/ml/models:ro", image, "serve")
    url = f"http://127.0.0.1:{port}"
    if not wait_for_http(url + "/ping", 120):
        logs = docker("logs", name, check=False)
        docker("rm", "-f", name, check=False)
        pytest.fail(f"the multi-model server did not answer /ping:\n{(logs.stdout + logs.stderr)[-3000:]}")
    return url, name


@pytest.fixture(scope="module")
def mme(image, models_root):
    url, name = _serve(image, models_root)
    yield url, name
    docker("rm", "-f", name, check=False)


def load(url, name, model_dir=None):
    return requests.post(url + "/models", json={"model_name": name,
                                                "url": f"/opt/ml/models/{model_dir or name}/model"}, timeout=60)


def invoke(url, name, body=None):
    return requests.post(f"{url}/models/{name}/invoke", data=json.dumps(body or {"customer_id": "17850", "k": 3}),
                         headers={"Content-Type": "application/json",
                                  "X-Amzn-SageMaker-Target-Model": f"{name}.tar.gz"}, timeout=60)


def logs(name: str) -> str:
    r = docker("logs", name, check=False)
    return r.stdout + r.stderr


def test_ping_is_200_with_no_model_loaded(mme):
    url, _ = mme
    assert requests.get(url + "/ping", timeout=10).json() == {"status": "ok", "multi_model": True}
    assert requests.get(url + "/models", timeout=10).json() == {"models": []}


def test_200_models_load_list_in_pages_and_answer_in_random_order_from_several_clients(mme):
    url, name = mme
    names = [f"shop-{i:03d}" for i in range(MODELS)]
    with cf.ThreadPoolExecutor(CLIENTS) as pool:
        statuses = list(pool.map(lambda n: load(url, n).status_code, names))
    assert statuses == [200] * MODELS
    listed, token, pages = [], None, 0
    while True:
        doc = requests.get(url + "/models", params={"next_page_token": token} if token else None, timeout=30).json()
        listed += doc["models"]
        pages += 1
        token = doc.get("nextPageToken")
        if not token:
            break
    assert pages == 2 and [m["modelName"] for m in listed] == names
    assert all(m["modelUrl"] == f"/opt/ml/models/{m['modelName']}/model" for m in listed)
    rng = random.Random(27)
    picks = [rng.randrange(MODELS) for _ in range(1000)]

    def ask(i):
        resp = invoke(url, names[i])
        recs = resp.json()["predictions"][0]["recommendations"] if resp.ok else []
        return i, resp.status_code, resp.headers.get("X-Model-Version"), len(recs)

    with cf.ThreadPoolExecutor(CLIENTS) as pool:
        answers = list(pool.map(ask, picks))
    wrong = [a for a in answers if a[1:] != (200, f"{names[a[0]]}-v1", 3)]
    assert not wrong, wrong[:5]
    assert 'target="shop-' in logs(name)


def test_a_corrupt_model_is_a_4xx_naming_the_file_and_the_rest_keep_serving(mme):
    url, name = mme
    for _ in range(2 * WORKERS):  # whichever worker gets it
        resp = load(url, "corrupt")
        assert resp.status_code == 400 and "item_factors.npy" in resp.json()["error"], resp.text
    assert requests.get(url + "/models/corrupt", timeout=10).status_code == 404
    assert all(invoke(url, f"shop-{i:03d}").status_code == 200 for i in range(0, MODELS, 20))
    assert "Worker exiting" not in logs(name)


def test_concurrent_loads_of_one_name_load_it_once(mme):
    url, name = mme
    barrier = threading.Barrier(CLIENTS)

    def one(_):
        barrier.wait()
        return load(url, "twice", "shop-007").status_code

    with cf.ThreadPoolExecutor(CLIENTS) as pool:
        assert sorted(pool.map(one, range(CLIENTS))) == [200] + [409] * (CLIENTS - 1)
    assert logs(name).count(" loaded model 'twice' (version") == 1


def test_boto3_invoke_endpoint_with_target_model_through_the_endpoint_route(mme, monkeypatch):
    import boto3

    url, _ = mme
    for key, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                       ("AWS_DEFAULT_REGION", "us-east-1")):
        monkeypatch.setenv(key, value)
    client = boto3.client("sagemaker-runtime", endpoint_url=url)
    out = client.invoke_endpoint(EndpointName="shops", TargetModel="shop-042", ContentType="application/json",
                                 Accept="application/json", Body=json.dumps({"customer_id": "17850", "k": 4}))
    doc = json.loads(out["Body"].read())
    assert doc["model_version"] == "shop-042-v1" and len(doc["predictions"][0]["recommendations"]) == 4
    out = client.invoke_endpoint(EndpointName="shops", TargetModel="shop-043", ContentType="text/csv",
                                 Body="17850\n")
    assert out["Body"].read().decode().startswith("customer_id,rank,product_id")


def test_unloading_every_model_empties_the_list(mme):
    url, _ = mme
    for n in [f"shop-{i:03d}" for i in range(MODELS)] + ["twice"]:
        assert requests.delete(f"{url}/models/{n}", timeout=30).status_code == 200
    assert requests.get(url + "/models", timeout=10).json() == {"models": []}
    assert invoke(url, "shop-001").status_code == 404


def test_loading_past_the_memory_budget_is_507_and_nothing_loaded_breaks(image, models_root):
    budget_mb = 24
    url, name = _serve(image, models_root, f"ALSRECO_MODEL_MEMORY_MB={budget_mb}")
    try:
        statuses = [load(url, f"shop-{i:03d}").status_code for i in range(20)]
        fit = statuses.index(507)  # the files of `fit` models and a worker's share fit in 24 MB, not one more
        assert fit >= 3 and statuses == [200] * fit + [507] * (20 - fit), statuses
        mapped = mapped_bytes(models_root / "shop-000" / "model")
        assert fit * mapped <= budget_mb * MIB < (fit + 1) * mapped + WORKERS * 2 * MIB
        assert "unload" in load(url, "shop-050").json()["error"]
        assert all(invoke(url, f"shop-{i:03d}").status_code == 200 for i in range(fit) for _ in range(2))
        assert requests.delete(f"{url}/models/shop-000", timeout=10).status_code == 200
        assert load(url, f"shop-{fit:03d}").status_code == 200  # room again once one is unloaded
    finally:
        docker("rm", "-f", name, check=False)


def test_sigterm_with_models_loaded_exits_0_inside_the_grace_period(image, models_root):
    url, name = _serve(image, models_root)
    try:
        for i in range(20):
            assert load(url, f"shop-{i:03d}").status_code == 200 and invoke(url, f"shop-{i:03d}").ok
        elapsed, state, text = stop_container(name, 30)
        assert elapsed < 30 and state["ExitCode"] == 0, (elapsed, state, text[-2000:])
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)
