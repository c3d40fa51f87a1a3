"""Events as training data, end to end: shoppers' events written through the Lambda handler
(api/handler.py, real boto3 clients) into moto's Firehose, which lands them in moto's S3; the
prefix downloaded as a SageMaker training job would get it (the `events` channel); the real `train`
pipeline on it beside the bundled sales sample; and the model it writes reflects the events.

The visits: SESSIONS anonymous shoppers each look at the best seller X and at a product Y that no
buyer of X ever bought, and put both in the basket - after training, Y is among X's similar
products (it was not before). A signed-in customer buys a product through /me/events - after
training, it is among their purchases (so never recommended to them again). Firehose's
at-least-once delivery is played by sending a batch twice: `train` counts the repeats by event id
and drops them."""
from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pandas as pd
import pytest

from alsreco.core.artifact import load_model
from alsreco.core.paths import Paths
from alsreco.core.recommender import Recommender
from alsreco.core.rules import Request
from alsreco.core.settings import Settings
from tests.conftest import SAMPLE_CSV, TEST_DIR

pytestmark = pytest.mark.integration

X = "85123A"            # the sample's best seller
SESSIONS = 40
CUSTOMER = "17850"


def similar(model_dir, item, k=10):
    return [r.product_id for r in Recommender(load_model(model_dir)).recommend(Request(item_id=item, k=k))
            .recommendations]


def pick_y(baseline) -> str:
    """A product bought by 5-8 customers, none of whom bought X, and not similar to X before."""
    sales = pd.read_csv(SAMPLE_CSV, dtype=str).dropna(subset=["CustomerID"])
    buyers = sales.groupby("StockCode")["CustomerID"].apply(set)
    before = set(similar(baseline, X))
    return min(p for p, who in buyers.items() if 5 <= len(who) <= 8 and not who & buyers[X] and p not in before
               and p.isalnum())


def never_bought(model_dir, customer) -> str:
    model = load_model(model_dir)
    row = int(np.flatnonzero(model.customer_ids.astype(str) == customer)[0])
    bought = set(model.purchases.row(row).tolist())
    return next(str(p) for i, p in enumerate(model.product_ids) if i not in bought and str(p).isdigit())


@pytest.fixture(scope="module")
def landed(trained_model_dir, tmp_path_factory):
    """The events channel as Firehose landed it in S3, downloaded; and what was sent."""
    from api.handler import build
    from api.local_cognito import moto_server
    from api.local_events import provision_events
    from api.settings import Settings as ApiSettings
    from tests.api.conftest import Context, claims, proxy_event

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    y, bought = pick_y(trained_model_dir), never_bought(trained_model_dir, CUSTOMER)
    with moto_server() as url:
        events = provision_events(url, name="training")
        handler = build(ApiSettings(endpoint_name="unused", **events.settings()))

        def send(body, path="/events", authorizer=None):
            result = handler(proxy_event(body, path=path, authorizer=authorizer), Context())
            assert result["statusCode"] == 200, result["body"]
            return json.loads(result["body"])

        for _ in range(SESSIONS):
            sid = send({"events": [{"type": "view", "product_id": X}, {"type": "view", "product_id": y}]})["session_id"]
            send({"session_id": sid, "events": [{"type": "add_to_cart", "product_id": X},
                                                {"type": "add_to_cart", "product_id": y}]})
        send({"events": [{"type": "purchase", "product_id": bought}]}, "/me/events", {"claims": claims(CUSTOMER)})
        s3 = events.client("s3")
        first = s3.get_object(Bucket=events.bucket, Key=events.keys()[0])["Body"].read()
        again = [{"Data": line + b"\n"} for line in first.splitlines()]
        events.client("firehose").put_record_batch(DeliveryStreamName=events.stream, Records=again)   # redelivered
        target = tmp_path_factory.mktemp("events_channel")
        files = events.download(target)
    assert len(files) == 2 * SESSIONS + 2
    return {"dir": target, "files": files, "y": y, "bought": bought, "redelivered": len(again)}


def test_events_through_the_lambda_train_a_model_that_reflects_them(landed, spark, trained_model_dir, tmp_path):
    from alsreco.train import main as train

    base = tmp_path / "opt_ml"
    shutil.copytree(TEST_DIR / "input", base / "input")
    shutil.copytree(landed["dir"], base / "input" / "data" / "events")
    config = base / "input" / "config"
    (config / "inputdataconfig.json").write_text(json.dumps({"training": {"TrainingInputMode": "File"},
                                                             "events": {"TrainingInputMode": "File"}}))
    hp = json.loads((config / "hyperparameters.json").read_text())
    (config / "hyperparameters.json").write_text(json.dumps({**hp, "eval_days": "0"}))
    metadata = train.run(Paths(base), Settings(base_dir=base), session=spark)

    report = metadata["data"]["events"]
    n = SESSIONS * 4 + 1
    assert report["rows_read"] == n + landed["redelivered"] and report["malformed_rows"] == 0
    assert report["dropped"]["duplicate_event_id"] == landed["redelivered"]
    assert report["by_type"] == {"view": 2 * SESSIONS, "add_to_cart": 2 * SESSIONS, "remove_from_cart": 0,
                                 "purchase": 1}
    assert (report["pairs"], report["lines"]) == (2 * SESSIONS + 1, 2 * SESSIONS * 3 + 4)   # view 1 + add 2; buy 4

    model = load_model(base / "model")
    ids = model.customer_ids.astype(str)
    assert sum(i.startswith("session:") for i in ids) == SESSIONS                       # each visit a customer
    row = int(np.flatnonzero(ids == CUSTOMER)[0])
    assert landed["bought"] in {str(model.product_ids[i]) for i in model.purchases.row(row)}
    before, after = similar(trained_model_dir, X), similar(base / "model", X)
    assert landed["y"] not in before and landed["y"] in after, (landed["y"], before, after)


def test_both_data_paths_read_the_events_alike(landed, spark, tmp_path):
    from alsreco.core import hyperparameters
    from alsreco.train import prepare

    hp = hyperparameters.defaults()
    pandas = prepare.pandas_path([SAMPLE_CSV], hp, landed["files"])
    on_spark = prepare.spark_path(spark, hp, [SAMPLE_CSV], stage=tmp_path, event_files=landed["files"])
    try:
        a, b = pandas.ratings, on_spark.ratings
        assert list(a.customer_ids) == list(b.customer_ids) and list(a.product_ids) == list(b.product_ids)
        assert np.array_equal(a.user, b.user) and np.array_equal(a.item, b.item)
        assert np.allclose(a.rating, b.rating)
        assert pandas.events == on_spark.events and pandas.as_of == on_spark.as_of
    finally:
        on_spark.release()
