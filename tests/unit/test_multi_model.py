"""The multi-model endpoint contract in process (serve/models): the Flask test client against apps that
share one registry directory, as gunicorn's workers do. tests/integration/test_multi_model_serve.py runs
the real server; tests/container/test_multi_model.py the image with 200 models."""
from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

import pytest

from alsreco.core.artifact import write_model
from alsreco.core.settings import Settings
from alsreco.serve.app import create_app
from alsreco.serve.models.loading import mapped_bytes, measured
from alsreco.serve.models.registry import MIB, Budget, Entry, Registry
from tests.unit.conftest import VERSION, random_model, write_synthetic

MME = Settings(multi_model=True, model_memory_mb=256, workers=2)
JSON = "application/json"


@pytest.fixture(scope="module")
def shops(tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("shops")
    return [write_synthetic(root / f"shop-{i}" / "model", reco_item=3 + i) for i in range(4)]


@pytest.fixture
def workers(tmp_path):
    """Two apps ("workers") over one registry directory."""
    return [create_app(settings=MME, state_dir=tmp_path / "models").test_client() for _ in range(2)]


def load(client, name, url):
    return client.post("/models", json={"model_name": name, "url": str(url)})


def invoke(client, name, body=None, **headers):
    return client.post(f"/models/{name}/invoke", data=json.dumps(body or {"customer_id": "17850"}),
                       content_type=JSON, headers=headers)


def test_ping_is_200_with_no_model_loaded(workers):
    resp = workers[0].get("/ping")
    assert resp.status_code == 200 and resp.get_json() == {"status": "ok", "multi_model": True}
    assert workers[0].get("/models").get_json() == {"models": []}


def test_load_invoke_get_unload_round_trip_across_workers(workers, shops, caplog):
    a, b = workers
    caplog.set_level(logging.INFO, "alsreco.serve")
    resp = load(a, "shop-0", shops[0])
    assert resp.status_code == 200 and resp.get_json()["modelName"] == "shop-0"
    assert load(b, "shop-0", shops[1]).status_code == 409  # loaded already, whichever worker is asked
    assert b.get("/models/shop-0").get_json() == {"modelName": "shop-0", "modelUrl": str(shops[0])}
    for client in (a, b):  # b attaches what a loaded
        resp = invoke(client, "shop-0", {"customer_id": "17850"}, **{"X-Amzn-SageMaker-Target-Model": "s0.tar.gz"})
        assert resp.status_code == 200 and resp.headers["X-Model-Version"] == VERSION
        assert len(resp.get_json()["predictions"][0]["recommendations"]) == 3  # shop-0's reco_item
    assert "target=\"s0.tar.gz\"" in caplog.text
    single = create_app(shops[0], Settings()).test_client()
    want = single.post("/invocations", data='{"customer_ids": ["17850", "16098"], "k": 4}', content_type=JSON)
    got = invoke(b, "shop-0", {"customer_ids": ["17850", "16098"], "k": 4})
    strip = [[(r["product_id"], r["score"], r["reason"]) for r in p["recommendations"]]
             for p in (want.get_json()["predictions"])]
    assert [[(r["product_id"], r["score"], r["reason"]) for r in p["recommendations"]]
            for p in got.get_json()["predictions"]] == strip
    csv = b.post("/models/shop-0/invoke", data="17850\n", content_type="text/csv")  # every content type
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    bad = invoke(a, "shop-0", {"customer_id": "17850", "k": 0})
    assert bad.status_code == 400 and bad.headers["X-Model-Version"] == VERSION
    assert b.delete("/models/shop-0").status_code == 200
    assert invoke(a, "shop-0").status_code == 404  # a sees the unload at once
    assert a.delete("/models/shop-0").status_code == 404 and a.get("/models/shop-0").status_code == 404
    assert load(a, "shop-0", shops[2]).status_code == 200  # loaded again, from elsewhere
    assert invoke(b, "shop-0").get_json()["predictions"][0]["recommendations"].__len__() == 5
    assert caplog.text.count(" loaded model 'shop-0' (version") == 2


def test_target_model_header_on_invocations_and_the_endpoint_route(workers, shops):
    a, _ = workers
    load(a, "shops/one.tar.gz", shops[1])
    for path in ("/invocations", "/endpoints/mme/invocations"):
        resp = a.post(path, data='{"customer_id": "17850"}', content_type=JSON,
                      headers={"X-Amzn-SageMaker-Target-Model": "shops/one.tar.gz"})
        assert resp.status_code == 200 and len(resp.get_json()["predictions"][0]["recommendations"]) == 4
    missing = a.post("/invocations", data='{"customer_id": "17850"}', content_type=JSON)
    assert missing.status_code == 400 and "TargetModel" in missing.get_json()["error"]
    unknown = a.post("/invocations", data="{}", content_type=JSON, headers={"X-Amzn-SageMaker-Target-Model": "x"})
    assert unknown.status_code == 404 and "POST /models" in unknown.get_json()["error"]
    assert a.get("/models/shops/one.tar.gz").status_code == 200  # names may hold slashes


def test_a_bad_model_is_a_400_naming_the_file_and_the_rest_keep_serving(workers, shops, tmp_path):
    a, b = workers
    load(a, "good", shops[0])
    broken = write_synthetic(tmp_path / "broken" / "model")
    (broken / "user_factors.npy").write_bytes(b"\x93NUMPY garbage")
    resp = load(b, "broken", broken)
    assert resp.status_code == 400 and "user_factors.npy" in resp.get_json()["error"]
    for url, words in ((tmp_path / "nowhere", "no model directory"), (tmp_path, "metadata.json is missing")):
        resp = load(b, "other", url)
        assert resp.status_code == 400 and words in resp.get_json()["error"]
    assert load(b, "nested", broken.parent.parent / "broken").status_code == 400  # found inside, still broken
    nested = write_synthetic(tmp_path / "tarred" / "model")  # a model.tar.gz of the directory itself
    assert load(b, "nested", nested.parent).status_code == 200
    assert invoke(a, "good").status_code == 200 and invoke(b, "nested").status_code == 200
    assert [m["modelName"] for m in a.get("/models").get_json()["models"]] == ["good", "nested"]
    for body in (b"not json", b'{"model_name": 3, "url": "x"}', b'{"url": "x"}'):
        assert a.post("/models", data=body, content_type=JSON).status_code == 400


def test_loading_past_the_budget_is_507_and_what_is_loaded_keeps_serving(tmp_path):
    first = tmp_path / "big-0"
    write_model(random_model(n_customers=6000, n_products=3000, rank=64), first)
    mapped, private = mapped_bytes(first), measured(first)[1]
    settings = MME.with_(workers=2, model_memory_mb=1 + int((2.5 * mapped + 2 * private) / MIB))
    copies = [first] + [tmp_path / f"big-{i}" for i in range(1, 8)]
    for d in copies[1:]:  # the same files under other names
        d.mkdir()
        for f in first.iterdir():
            os.link(f, d / f.name)
    client = create_app(settings=settings, state_dir=tmp_path / "m").test_client()
    statuses = [load(client, f"m{i}", copies[i]).status_code for i in range(len(copies))]
    fit = statuses.index(507)
    assert fit >= 2 and statuses == [200] * fit + [507] * (len(copies) - fit), statuses
    assert (fit + 1) * mapped + 2 * private > settings.model_memory_mb * MIB * 0.9  # refused near the budget
    error = load(client, "again", copies[-1]).get_json()["error"]
    assert "MB" in error and "unload" in error and "ALSRECO_MODEL_MEMORY_MB" in error
    assert all(invoke(client, f"m{i}", {"customer_id": "C5"}).status_code == 200 for i in range(fit))
    client.delete("/models/m0")
    assert load(client, f"m{fit}", copies[fit]).status_code == 200  # room again once SageMaker unloads one


def test_concurrent_loads_of_one_name_load_it_once(tmp_path, shops, caplog):
    caplog.set_level(logging.INFO, "alsreco.serve")
    apps = [create_app(settings=MME, state_dir=tmp_path / "models").test_client() for _ in range(6)]
    statuses: list[int] = []
    barrier = threading.Barrier(len(apps))

    def worker(client):
        barrier.wait()
        statuses.append(load(client, "same", shops[0]).status_code)

    threads = [threading.Thread(target=worker, args=(c,)) for c in apps]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200] + [409] * 5
    assert caplog.text.count(" loaded model 'same' (version") == 1
    assert all(invoke(c, "same").status_code == 200 for c in apps)


def test_list_models_pages_with_next_page_token(tmp_path):
    registry = Registry(tmp_path, Budget(10**12, 1))
    names = sorted(f"model-{i:03d}" for i in range(250))
    for n in names:
        registry.register(Entry(n, f"/opt/ml/models/{n}/model", f"/opt/ml/models/{n}/model", 10, 10, "v", 1, 1, 0.1,
                                "g"))
    client = create_app(settings=MME, state_dir=tmp_path).test_client()
    seen, token, pages = [], None, 0
    while True:
        doc = client.get("/models" + (f"?next_page_token={token}" if token else "")).get_json()
        seen += [m["modelName"] for m in doc["models"]]
        pages += 1
        assert all(m["modelUrl"] == f"/opt/ml/models/{m['modelName']}/model" for m in doc["models"])
        token = doc.get("nextPageToken")
        if token is None:
            break
    assert seen == names and pages == 3
    assert client.get("/models?next_page_token=%%%").status_code == 400


def test_a_worker_drops_idle_models_past_its_share_and_attaches_them_again(tmp_path):
    models = []
    for i in range(5):  # ~0.45 MB of files and ~0.3 MB a worker each: a 3 MB budget leaves room for two
        models.append(tmp_path / f"r{i}")
        write_model(random_model(n_customers=1500, n_products=600, rank=8, reco_item=3 + i), models[-1])
    settings = MME.with_(model_memory_mb=3, workers=1)
    loader, server = (create_app(settings=settings, state_dir=tmp_path / "m") for _ in range(2))
    for i in range(5):
        assert load(loader.test_client(), f"s{i}", models[i]).status_code == 200
    client, cache = server.test_client(), server.extensions["alsreco.models"]
    for _ in range(3):
        for i in range(5):
            resp = invoke(client, f"s{i}", {"customer_id": "C7"})
            assert len(resp.get_json()["predictions"][0]["recommendations"]) == 3 + i
    assert cache.held() <= cache.registry.worker_room() or len(cache.attached) == 1
    assert cache.evictions > 0 and cache.attaches > 5 and len(cache.attached) < 5


def test_an_unloaded_model_leaves_every_worker_within_a_sweep(tmp_path, shops):
    a, b = (create_app(settings=MME, state_dir=tmp_path / "m") for _ in range(2))
    load(a.test_client(), "gone", shops[0])
    assert invoke(b.test_client(), "gone").status_code == 200
    cache = b.extensions["alsreco.models"]
    assert "gone" in cache.attached
    assert a.test_client().delete("/models/gone").status_code == 200
    cache.sweep()  # what its sweeper thread does every second
    assert "gone" not in cache.attached


def test_settings_turn_multi_model_on_in_any_case():
    for value in ("true", "True", "TRUE", "1"):
        assert Settings.from_env({"SAGEMAKER_MULTI_MODEL": value}).multi_model
    assert not Settings.from_env({}).multi_model and not Settings.from_env({"SAGEMAKER_MULTI_MODEL": "no"}).multi_model
    s = Settings.from_env({"ALSRECO_MODEL_MEMORY_FRACTION": "0.5", "MODEL_SERVER_WORKERS": "4"})
    assert Budget.of(s, limit=1000 * MIB) == Budget(500 * MIB, 4)
    assert Budget.of(Settings(model_memory_mb=300, workers=3)).total == 300 * MIB
    with pytest.raises(Exception, match="ALSRECO_MODEL_MEMORY_FRACTION"):
        Settings.from_env({"ALSRECO_MODEL_MEMORY_FRACTION": "1.5"})
    with pytest.raises(Exception, match="ALSRECO_ENDPOINT_TYPE"):
        Settings.from_env({"ALSRECO_ENDPOINT_TYPE": "lambda"})
