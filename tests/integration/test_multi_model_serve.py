"""`serve` as a multi-model endpoint (SAGEMAKER_MULTI_MODEL=true): the real nginx + gunicorn with three
workers, driven over HTTP the way SageMaker drives it: loads, lists, invocations from several clients,
unloads, and SIGTERM with models loaded."""
from __future__ import annotations

import concurrent.futures as cf
import json
import random
import threading
import time

import pytest
import requests

from benchmarks.common import copy_model
from tests.integration.conftest import wait_for

pytestmark = pytest.mark.integration
MODELS = 12


@pytest.fixture(scope="module")
def shops(synthetic_model_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("mme-shops")
    return [copy_model(synthetic_model_dir, root / f"shop-{i}" / "model", f"shop-{i}-v1", link=True)
            for i in range(MODELS)]


@pytest.fixture
def mme(serve_factory, tmp_path):
    srv = serve_factory(tmp_path / "opt_ml", workers=3, SAGEMAKER_MULTI_MODEL="True", ALSRECO_MODEL_MEMORY_MB="512")
    assert srv.wait_ready().status_code == 200, srv.log()  # healthy with no model loaded
    return srv


def load(srv, name, url):
    return requests.post(srv.url + "/models", json={"model_name": name, "url": str(url)}, timeout=30)


def invoke(srv, name, body=None):
    headers = {"Content-Type": "application/json", "X-Amzn-SageMaker-Target-Model": f"{name}.tar.gz"}
    return requests.post(f"{srv.url}/models/{name}/invoke", data=json.dumps(body or {"customer_id": "17850"}),
                         headers=headers, timeout=30)


def test_models_load_once_serve_from_every_worker_and_unload_everywhere(mme, shops):
    assert requests.get(mme.url + "/ping", timeout=5).json() == {"status": "ok", "multi_model": True}
    barrier = threading.Barrier(8)

    def same():
        barrier.wait()
        return load(mme, "dup", shops[0]).status_code

    with cf.ThreadPoolExecutor(8) as pool:
        statuses = sorted(pool.map(lambda _: same(), range(8)))
        assert statuses == [200] + [409] * 7, statuses
        assert sorted(pool.map(lambda i: load(mme, f"shop-{i}", shops[i]).status_code, range(MODELS))) == \
            [200] * MODELS
    assert mme.log().count(" loaded model 'dup' (version") == 1
    listed = requests.get(mme.url + "/models", timeout=10).json()["models"]
    assert [m["modelName"] for m in listed] == sorted(["dup"] + [f"shop-{i}" for i in range(MODELS)])
    rng = random.Random(0)
    picks = [rng.randrange(MODELS) for _ in range(300)]

    def ask(i):
        resp = invoke(mme, f"shop-{i}")
        return i, resp.status_code, resp.headers.get("X-Model-Version")

    with cf.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(ask, picks))
    assert all(status == 200 and version == f"shop-{i}-v1" for i, status, version in answers), answers[:5]
    assert 'target="shop-3.tar.gz"' in mme.log()
    assert requests.delete(mme.url + "/models/shop-3", timeout=10).status_code == 200
    # every worker forgets it at once (the registry is checked on each request); its memory goes within a sweep
    assert all(invoke(mme, "shop-3").status_code == 404 for _ in range(30))
    assert all(invoke(mme, "shop-4").status_code == 200 for _ in range(30))
    assert load(mme, "shop-3", shops[5]).status_code == 200
    assert wait_for(lambda: all(invoke(mme, "shop-3").headers.get("X-Model-Version") == "shop-5-v1"
                                for _ in range(20)), 10, "every worker serving the reloaded shop-3")


def test_a_corrupt_model_is_a_4xx_naming_the_file_and_no_worker_dies(mme, shops, tmp_path):
    assert load(mme, "good", shops[1]).status_code == 200
    bad = copy_model(shops[2], tmp_path / "bad" / "model", "bad-v1")
    (bad / "purchases.npz").write_bytes(b"PK\x03\x04 truncated")
    for _ in range(6):  # whichever worker gets it
        resp = load(mme, "bad", bad)
        assert resp.status_code == 400 and "purchases.npz" in resp.json()["error"], resp.text
    assert all(invoke(mme, "good").status_code == 200 for _ in range(20))
    assert "Worker exiting" not in mme.log() and "WORKER TIMEOUT" not in mme.log()


def test_sigterm_with_models_loaded_exits_0_inside_the_grace_period(mme, shops):
    for i in range(4):
        assert load(mme, f"shop-{i}", shops[i]).status_code == 200
        assert invoke(mme, f"shop-{i}").status_code == 200
    started = time.monotonic()
    assert mme.stop(timeout=30) < 30 and mme.proc.returncode == 0, mme.log()[-2000:]
    assert time.monotonic() - started < 30
