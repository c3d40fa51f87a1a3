"""The SageMaker Python SDK v2 in local mode against the real alsreco image.

`Estimator.fit` (one host, and two hosts forming a Spark cluster), `Estimator.deploy` /
`Model.deploy` + `predict`, and `Transformer.transform` with SingleRecord / MultiRecord, several
mini-batches, more than 10,000 records in one mini-batch, CSV input and the payload size the
container announces on /execution-parameters - all through the SDK's own local mode, which
writes a compose file and runs `docker compose` / `docker-compose` (see sdk_local.py).

Requires `pip install "sagemaker==2.257.7"` in the venv and Docker Compose (Debian:
`apt-get install docker-compose`). Without them the tier skips - or fails with CI=true.

Hermetic: dummy AWS credentials and region for this process only, SDK telemetry off through the
SDK's documented defaults config (`SageMaker.PythonSDK.Modules.TelemetryOptOut: true`, found via
SAGEMAKER_USER_CONFIG_OVERRIDE), `local_code: true`, file:// inputs and outputs, a plain local
image tag (no ECR login, no docker pull). Every AWS endpoint and HTTP(S) proxy points at a local
trap that must see no request at all.
"""
from __future__ import annotations

import io
import json
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from alsreco.core.net import free_port

from .conftest import TEST_DIR, missing
from .sdk_local import (
    LABEL_KEY,
    MODEL_FILES,
    NAME_PREFIX,
    PIN,
    REGION,
    ROLE,
    RUN_ID,
    SDK_CONFIG_YAML,
    AwsTrap,
    Container,
    compose_problem,
    containers,
    load_model_arrays,
    out_lines,
    read_csv,
    sdk_env,
    settle,
    tar_members,
    write_lines,
)

pytestmark = pytest.mark.container

JSONL = "application/jsonlines"
# Small and fast: no held-out evaluation (one ALS fit), few iterations, top-5 by default.
HYPERPARAMETERS = {"eval_days": 0, "max_itter": 5, "als_rank": 8, "reco_item": 5}
TIMINGS: dict[str, float] = {}


@dataclass
class SDK:
    session: object
    image: str
    trap: AwsTrap
    root: Path
    port: int
    compose: list[str]


@dataclass
class Fit:
    estimator: object
    output: Path
    seconds: float
    containers: list[Container]


@dataclass
class ModelInfo:
    """What the trained model knows, read from model.tar.gz, to check answers against."""

    customers: list[str]
    products: list[str]
    popularity_order: list[str]  # best sellers first (distinct customers desc, then product id)
    purchased: dict[str, set[str]] = field(default_factory=dict)
    version: str = ""


@pytest.fixture(scope="module")
def sdk(request, tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SAGEMAKER_SUPPRESS_V2_WARNING", "1")  # v2's import-time deprecation notice
        try:
            import sagemaker
        except ImportError:
            missing(f'the SageMaker SDK tier needs the SDK in the venv: pip install "sagemaker=={PIN}"')
        major, minor = (int(x) for x in sagemaker.__version__.split(".")[:2])
        if not (major == 2 and minor >= 200):
            missing(f"the SageMaker SDK tier needs sagemaker>=2.200,<3 (pinned {PIN}), found {sagemaker.__version__}")
        cmd, problem = compose_problem()
    if problem:
        missing(f"{problem}; on Debian/Ubuntu: apt-get install docker-compose")
    image = request.getfixturevalue("image")  # docker build, before this module's environment is set

    root = tmp_path_factory.mktemp("sdk-local")
    config_file = root / "sagemaker-config" / "config.yaml"
    config_file.parent.mkdir()
    config_file.write_text(SDK_CONFIG_YAML)
    (root / "containers").mkdir()
    port = free_port()
    with AwsTrap() as trap, pytest.MonkeyPatch.context() as mp:
        for key, value in sdk_env(trap, config_file, root).items():
            if value is None:
                mp.delenv(key, raising=False)
            else:
                mp.setenv(key, value)
        from sagemaker.local import LocalSession

        session = LocalSession()
        assert session.boto_region_name == REGION
        # The documented way to configure local mode in code (the file alternative is the fixed
        # path ~/.sagemaker/config.yaml). container_config is merged into each compose service.
        session.config = {"local": {
            "local_code": True,
            "serving_port": port,  # not 8080: other servers may hold it
            "container_root": str(root / "containers"),
            "container_config": {"labels": {LABEL_KEY: RUN_ID}},
        }}
        assert session.sagemaker_runtime_client.serving_port == port
        print(f"\nsagemaker {sagemaker.__version__}, compose: {' '.join(cmd)}, run id {RUN_ID}, serving port {port}")
        yield SDK(session, image, trap, root, port, cmd)
        leftovers = settle()
    if TIMINGS:
        print("\nSDK local mode timings (s): " + ", ".join(f"{k}={v:.1f}" for k, v in TIMINGS.items()))
    assert not [c for c in leftovers if c.status == "running"], f"containers left running: {leftovers}"
    assert containers() == [], "containers of this run are still there after clean-up"


@pytest.fixture(autouse=True)
def hermetic(sdk):
    """After every test: this run's containers are removed and nothing reached for AWS / the internet."""
    before = len(sdk.trap.calls)
    yield
    settle()
    calls = sdk.trap.calls[before:]
    assert not calls, f"the SDK tried to reach AWS or the internet: {calls}"


def test_telemetry_is_opted_out_through_the_sdk_config(sdk):
    from sagemaker.config.config_schema import TELEMETRY_OPT_OUT_PATH
    from sagemaker.utils import resolve_value_from_config

    assert sdk.session.sagemaker_config["SageMaker"]["PythonSDK"]["Modules"]["TelemetryOptOut"] is True
    assert resolve_value_from_config(None, TELEMETRY_OPT_OUT_PATH, default_value=False,
                                     sagemaker_session=sdk.session) is True
    assert sdk.session.local_mode and sdk.session.config["local"]["local_code"] is True


def test_the_trap_sees_aws_and_internet_calls(sdk):
    """The guard behind `hermetic` works: an AWS API call and an HTTPS request both land in the trap."""
    import botocore.exceptions
    import requests

    before = len(sdk.trap.calls)
    with pytest.raises(botocore.exceptions.ClientError):
        sdk.session.boto_session.client("sts").get_caller_identity()
    with pytest.raises(requests.exceptions.ProxyError):
        requests.get("https://sm-pysdk-t-us-east-1.s3.us-east-1.amazonaws.com/telemetry", timeout=10)
    caught = sdk.trap.calls[before:]
    del sdk.trap.calls[before:]  # expected calls, not the SDK's
    assert any(c.startswith("POST") and "sts" in c for c in caught), caught
    assert any(c.startswith("CONNECT sm-pysdk-t-us-east-1.s3.us-east-1.amazonaws.com:443") for c in caught), caught


def _training_channel(tmp: Path) -> str:
    import shutil

    dest = tmp / "training"
    shutil.copytree(TEST_DIR / "input" / "data" / "training", dest)
    return f"file://{dest}"


def _fit(sdk: SDK, tmp: Path, instance_count: int, name: str) -> Fit:
    from sagemaker.estimator import Estimator

    output = tmp / "output"
    output.mkdir()
    estimator = Estimator(image_uri=sdk.image, role=ROLE, instance_count=instance_count, instance_type="local",
                          output_path=f"file://{output}", base_job_name=f"{NAME_PREFIX}-{name}",
                          hyperparameters=HYPERPARAMETERS, sagemaker_session=sdk.session)
    channel = _training_channel(tmp)
    started = time.monotonic()
    try:
        estimator.fit({"training": channel})
    finally:
        seconds = time.monotonic() - started
        found = settle()
    TIMINGS[f"fit_{instance_count}_host"] = seconds
    return Fit(estimator, output, seconds, found)


@pytest.fixture(scope="module")
def fit1(sdk, tmp_path_factory) -> Fit:
    """One-host training through Estimator.fit, shared by the deploy and transform tests."""
    return _fit(sdk, tmp_path_factory.mktemp("sdk-fit1"), 1, "fit1")


@pytest.fixture(scope="module")
def model_info(fit1) -> ModelInfo:
    import numpy as np

    members = tar_members(fit1.output / "model.tar.gz")
    arrays = load_model_arrays(members)
    customers = [str(c) for c in arrays["customer_ids"]]
    products = [str(p) for p in arrays["product_ids"]]
    pop = arrays["product_popularity"]
    order = sorted(range(len(products)), key=lambda j: (-int(pop[j]), products[j]))
    purchases = np.load(io.BytesIO(members["purchases.npz"]), allow_pickle=False)
    indptr, indices = purchases["indptr"], purchases["indices"]
    purchased = {c: {products[j] for j in indices[indptr[i]:indptr[i + 1]]} for i, c in enumerate(customers)}
    meta = json.loads(members["metadata.json"])
    return ModelInfo(customers, products, [products[j] for j in order], purchased, meta["model_version"])


# --- 1. training, one host -------------------------------------------------------------------------

def test_fit_one_instance_writes_model_and_output(fit1):
    assert fit1.estimator.model_data == f"file://{fit1.output}/model.tar.gz"
    model = tar_members(fit1.output / "model.tar.gz")
    assert MODEL_FILES <= set(model), sorted(model)
    meta = json.loads(model["metadata.json"])
    hp = meta["hyperparameters"]
    assert (hp["eval_days"], hp["max_itter"], hp["als_rank"], hp["reco_item"]) == (0, 5, 8, 5), hp
    assert meta["cluster"]["master"].startswith("local"), meta["cluster"]
    arrays = load_model_arrays(model)
    customers, products = list(arrays["customer_ids"]), list(arrays["product_ids"])
    assert meta["als"]["fits"] == 4  # als_fits auto: 4 fits side by side on this small data
    assert arrays["user_factors"].shape == (len(customers), 8 * 4)
    assert arrays["item_factors"].shape == (len(products), 8 * 4)
    assert len(customers) > 100 and "17850" in [str(c) for c in customers]

    output = tar_members(fit1.output / "output.tar.gz")
    assert "failure" not in output, output["failure"].decode(errors="replace")
    rows = read_csv(output["data/recommendations.csv"])
    assert rows and list(rows[0]) == ["customer_id", "rank", "product_id", "score", "reason"]
    by_customer: dict[str, list[dict]] = {}
    for row in rows:
        by_customer.setdefault(row["customer_id"], []).append(row)
    assert set(by_customer) == {str(c) for c in customers}
    for cid, recs in by_customer.items():
        assert [r["rank"] for r in recs] == ["1", "2", "3", "4", "5"], (cid, recs)
        assert len({r["product_id"] for r in recs}) == 5, (cid, recs)
    assert meta["data"]["recommendation_rows"] == len(rows)
    # The SDK ran one container and it finished on its own (compose up --abort-on-container-exit).
    assert [(c.status, c.exit_code) for c in fit1.containers] == [("exited", 0)], fit1.containers


# --- 3. / 4. real-time endpoints ----------------------------------------------------------------------

def _check_known(pred: dict, cid: str, k: int, info: ModelInfo) -> None:
    assert pred["customer_id"] == cid and pred["known"] is True, pred
    recs = [r["product_id"] for r in pred["recommendations"]]
    assert len(recs) == k == len(set(recs)), pred
    assert {r["reason"] for r in pred["recommendations"]} == {"model"}, pred
    assert not set(recs) & info.purchased[cid], f"{cid} already bought {set(recs) & info.purchased[cid]}"


def _check_popular(pred: dict, k: int, info: ModelInfo, excluded: set[str] = frozenset()) -> None:
    assert pred["known"] is False, pred
    assert {r["reason"] for r in pred["recommendations"]} == {"popular"}, pred
    expected = [p for p in info.popularity_order if p not in excluded][:k]
    assert [r["product_id"] for r in pred["recommendations"]] == expected, pred


def _assert_port_free(port: int) -> None:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", port))  # OSError if the endpoint's port is still published


def _delete(sdk: SDK, predictor, endpoint_name: str) -> list[Container]:
    started = time.monotonic()
    try:
        if predictor is not None:
            try:
                predictor.delete_model()  # first: it finds the model through the endpoint config
            finally:
                predictor.delete_endpoint()  # also deletes the endpoint config
        else:  # deploy failed half-way: the SDK may still have registered the endpoint
            sdk.session.delete_endpoint(endpoint_name)
    finally:
        TIMINGS[f"delete_{endpoint_name.rsplit('-', 1)[-1]}"] = time.monotonic() - started
        found = settle()
    return found


def test_estimator_deploy_and_predict(sdk, fit1, model_info):
    from sagemaker.deserializers import JSONDeserializer
    from sagemaker.serializers import JSONSerializer

    name = f"{NAME_PREFIX}-est"
    predictor = None
    started = time.monotonic()
    try:
        # Default wait=True: the SDK polls describe_endpoint every 30 s after the container is up.
        predictor = fit1.estimator.deploy(1, "local", serializer=JSONSerializer(), deserializer=JSONDeserializer(),
                                          endpoint_name=name)
        TIMINGS["estimator_deploy_wait_true"] = time.monotonic() - started
        assert sdk.session.sagemaker_client.describe_endpoint(EndpointName=name)["EndpointStatus"] == "InService"

        known = predictor.predict({"customer_id": "17850", "k": 5})
        assert known["model_version"] == model_info.version
        assert len(known["predictions"]) == 1
        _check_known(known["predictions"][0], "17850", 5, model_info)

        basket = predictor.predict({"items": ["85123A", "71053"], "k": 5})
        (pred,) = basket["predictions"]
        assert pred["known"] is False and len(pred["recommendations"]) == 5, pred
        assert {r["reason"] for r in pred["recommendations"]} == {"model"}, pred  # fold-in from the basket
        assert not {"85123A", "71053"} & {r["product_id"] for r in pred["recommendations"]}, pred

        stranger = f"no-such-customer-{RUN_ID}"
        unknown = predictor.predict({"customer_id": stranger, "k": 5})
        (pred,) = unknown["predictions"]
        assert pred["customer_id"] == stranger
        _check_popular(pred, 5, model_info)

        # Local mode does not raise on a 4xx: the error body comes back, deserialized.
        error = predictor.predict({"customer_id": "17850", "k": 0})
        assert isinstance(error, dict) and error.get("status") == 400 and "k" in error.get("error", ""), error
    finally:
        found = _delete(sdk, predictor, name)
    assert found and all(c.status == "exited" for c in found), f"delete_endpoint left {found}"
    _assert_port_free(sdk.port)


def test_model_from_model_data_deploys_and_predicts(sdk, fit1, model_info):
    from sagemaker.deserializers import JSONDeserializer
    from sagemaker.model import Model
    from sagemaker.predictor import Predictor
    from sagemaker.serializers import JSONSerializer

    name = f"{NAME_PREFIX}-mdl"
    # predictor_cls: without it Model.deploy returns None instead of a Predictor.
    model = Model(image_uri=sdk.image, model_data=f"file://{fit1.output}/model.tar.gz", role=ROLE,
                  name=f"{NAME_PREFIX}-model", predictor_cls=Predictor, sagemaker_session=sdk.session)
    predictor = None
    started = time.monotonic()
    try:
        # wait=False (documented on Model.deploy): local mode's create_endpoint already returns only
        # once /ping answers 200; waiting adds the SDK's 30 s describe_endpoint poll.
        predictor = model.deploy(1, "local", serializer=JSONSerializer(), deserializer=JSONDeserializer(),
                                 endpoint_name=name, wait=False)
        TIMINGS["model_deploy_wait_false"] = time.monotonic() - started
        assert sdk.session.sagemaker_client.describe_endpoint(EndpointName=name)["EndpointStatus"] == "InService"
        ids = model_info.customers[:3]
        out = predictor.predict({"customer_ids": ids, "k": 3})
        assert out["model_version"] == model_info.version
        assert [p["customer_id"] for p in out["predictions"]] == ids
        for pred, cid in zip(out["predictions"], ids):
            _check_known(pred, cid, 3, model_info)
    finally:
        found = _delete(sdk, predictor, name)
    assert found and all(c.status == "exited" for c in found), f"delete_endpoint left {found}"
    _assert_port_free(sdk.port)


# --- 5. batch transform ----------------------------------------------------------------------------

@dataclass
class Transform:
    lines: list[str]
    containers: list[Container]
    seconds: float

    def invocations(self) -> list[tuple[int, int]]:
        """(status, customers) per POST /invocations, from the serve log line the README documents."""
        return [i for c in self.containers for i in c.invocations()]

    def assert_lines(self, n: int) -> None:
        assert len(self.lines) == n, (f"{len(self.lines)} output line(s) for {n} input line(s); first: "
                                      f"{self.lines[0][:300]!r}")

    def assert_invocations(self, expected) -> None:
        calls = self.invocations()
        ok = expected(calls) if callable(expected) else calls == expected
        logs = "".join(c.logs for c in self.containers)[-2000:]
        assert ok, f"POST /invocations (status, customers): {calls[:20]}\n--- serve log (tail) ---\n{logs}"


def _transform(sdk: SDK, fit: Fit, tmp: Path, name: str, lines: list[str], *, content_type: str, strategy: str,
               max_payload: int | None = None, env: dict | None = None, wait: bool = False) -> Transform:
    src = write_lines(tmp / f"in-{name}" / "records.txt", lines)
    out_dir = tmp / f"out-{name}"
    transformer = fit.estimator.transformer(1, "local", strategy=strategy, assemble_with="Line", accept=JSONL,
                                            output_path=f"file://{out_dir}", max_payload=max_payload, env=env)
    started = time.monotonic()
    try:
        # logs=False: with logs the SDK would read CloudWatch Logs. Local mode runs the job inside
        # transform() itself; wait=True only adds the SDK's 5 s status poll (used once, below).
        transformer.transform(f"file://{src.parent}", content_type=content_type, split_type="Line",
                              job_name=f"{NAME_PREFIX}-{name}", logs=False, wait=wait)
    finally:
        seconds = time.monotonic() - started
        found = settle()
    TIMINGS[f"transform_{name}"] = seconds
    job = sdk.session.sagemaker_client.describe_transform_job(TransformJobName=f"{NAME_PREFIX}-{name}")
    assert job["TransformJobStatus"] == "Completed", job
    assert found and all(c.status == "exited" for c in found), f"the transform left {found}"
    return Transform(out_lines(out_dir / "records.txt.out"), found, seconds)


def _records(info: ModelInfo, n: int, every_unknown: int = 4) -> list[tuple[str, int]]:
    """n (customer_id, k): known customers, every `every_unknown`-th one a stranger; k cycles 1..5."""
    out = []
    for i in range(n):
        cid = f"new-{RUN_ID}-{i}" if i % every_unknown == every_unknown - 1 else info.customers[i % len(info.customers)]
        out.append((cid, i % 5 + 1))
    return out


def _check_line(line: str, cid: str, k: int, info: ModelInfo, pos: int, excluded: set[str] = frozenset()) -> None:
    got = json.loads(line)
    assert "error" not in got, f"line {pos}: {got}"
    assert got["customer_id"] == cid, f"line {pos}: expected customer {cid}, got {got}"
    assert got["model_version"] == info.version
    if cid in info.purchased:
        _check_known(got, cid, k, info)
        assert not excluded & {r["product_id"] for r in got["recommendations"]}, f"line {pos}: {got}"
    else:
        _check_popular(got, k, info, excluded)


def test_transform_multi_record_more_than_10000_records_in_one_mini_batch(sdk, fit1, model_info, tmp_path):
    records = _records(model_info, 12_000)
    lines = [json.dumps({"customer_id": cid, "k": k}) for cid, k in records]
    run = _transform(sdk, fit1, tmp_path, "t-12k", lines, content_type=JSONL, strategy="MultiRecord", max_payload=6,
                     wait=True)
    # The SDK runs the transform container with SAGEMAKER_BATCH=True (capital T) and the job's settings.
    (env,) = [c.env for c in run.containers]
    assert (env.get("SAGEMAKER_BATCH"), env.get("SAGEMAKER_BATCH_STRATEGY"), env.get("SAGEMAKER_MAX_PAYLOAD_IN_MB"),
            env.get("SAGEMAKER_MAX_CONCURRENT_TRANSFORMS")) == ("True", "MULTI_RECORD", "6", "1"), env
    # The 12,000 records fit in one 6 MB mini-batch; in batch mode only the payload size limits a
    # request, so it is answered (not 413) with one line per record.
    run.assert_lines(len(records))
    for pos, (line, (cid, k)) in enumerate(zip(run.lines, records), 1):
        _check_line(line, cid, k, model_info, pos)
    run.assert_invocations([(200, 12_000)])


def test_transform_multi_record_several_mini_batches_keeps_order(sdk, fit1, model_info, tmp_path):
    excluded = model_info.popularity_order[:40]  # ~450-byte records: 6,000 of them are ~2.8 MB
    records = _records(model_info, 6_000, every_unknown=3)
    lines = [json.dumps({"customer_id": cid, "k": 2, "exclude_items": excluded}) for cid, _ in records]
    bad = 3_001
    lines[bad - 1] = json.dumps({"customer_id": records[bad - 1][0], "k": 0})
    run = _transform(sdk, fit1, tmp_path, "t-batches", lines, content_type=JSONL, strategy="MultiRecord",
                     max_payload=1)
    run.assert_lines(len(lines))
    for pos, (line, (cid, _)) in enumerate(zip(run.lines, records), 1):
        if pos == bad:  # a bad record answers an error line in its place
            got = json.loads(line)
            assert set(got) == {"error"} and "k" in got["error"], got
            continue
        _check_line(line, cid, 2, model_info, pos, set(excluded))
    # ~1 MB mini-batches of ~2,000 records each, all answered 200, every record sent once.
    run.assert_invocations(lambda calls: len(calls) >= 3 and {s for s, _ in calls} == {200}
                           and sum(n for _, n in calls) == len(lines) and max(n for _, n in calls) < len(lines))


def test_transform_single_record(sdk, fit1, model_info, tmp_path):
    records, lines = [], []
    for i, (cid, k) in enumerate(_records(model_info, 120)):
        if i % 3 == 0:
            lines.append(json.dumps(cid))  # a bare id: default k = reco_item = 5
            records.append((cid, 5, None))
        elif i % 3 == 1:
            lines.append(json.dumps({"customer_id": cid, "k": k}))
            records.append((cid, k, None))
        else:
            basket = [model_info.popularity_order[i], model_info.popularity_order[i + 1]]
            lines.append(json.dumps({"customer_id": cid, "items": basket, "k": k}))
            records.append((cid, k, basket))
    run = _transform(sdk, fit1, tmp_path, "t-single", lines, content_type=JSONL, strategy="SingleRecord")
    run.assert_lines(len(lines))
    for pos, (line, (cid, k, basket)) in enumerate(zip(run.lines, records), 1):
        if basket is None:
            _check_line(line, cid, k, model_info, pos)
            continue
        got = json.loads(line)
        recs = {r["product_id"] for r in got["recommendations"]}
        assert got["customer_id"] == cid and len(got["recommendations"]) == k, f"line {pos}: {got}"
        assert not recs & set(basket), f"line {pos}: recommended from the basket {basket}: {got}"
        if cid not in model_info.purchased:  # a stranger with a basket: fold-in, scored by the model
            assert got["known"] is False and {r["reason"] for r in got["recommendations"]} == {"model"}, got
    run.assert_invocations([(200, 1)] * len(lines))  # one request per record


def test_transform_csv_input_to_json_lines(sdk, fit1, model_info, tmp_path):
    records = _records(model_info, 1_500)
    lines = [cid for cid, _ in records]  # text/csv: one customer id per line, default k
    run = _transform(sdk, fit1, tmp_path, "t-csv", lines, content_type="text/csv", strategy="MultiRecord")
    run.assert_lines(len(lines))
    for pos, (line, cid) in enumerate(zip(run.lines, lines), 1):
        _check_line(line, cid, 5, model_info, pos)
    run.assert_invocations([(200, len(lines))])


def test_transform_uses_max_payload_the_container_announces(sdk, fit1, model_info, tmp_path):
    """Without max_payload the SDK asks GET /execution-parameters for MaxPayloadInMB and batches by it;
    the container must announce its SAGEMAKER_MAX_PAYLOAD_IN_MB (here 12) rather than the default 6."""
    cids = model_info.customers[:3]
    lines = [json.dumps({"customer_id": c, "k": 2}) for c in cids]
    big = model_info.customers[3]
    lines.append('{"customer_id": "%s",%s"k": 2}' % (big, " " * (8 * 1024 * 1024)))  # one 8 MB record
    run = _transform(sdk, fit1, tmp_path, "t-payload", lines, content_type=JSONL, strategy="MultiRecord",
                     env={"SAGEMAKER_MAX_PAYLOAD_IN_MB": "12"})
    (c,) = run.containers
    assert c.env.get("SAGEMAKER_MAX_PAYLOAD_IN_MB") == "12", c.env  # ours; the SDK set none (no max_payload)
    run.assert_lines(4)
    for pos, (line, cid) in enumerate(zip(run.lines, [*cids, big]), 1):
        _check_line(line, cid, 2, model_info, pos)
    # All four records in one mini-batch: the SDK batched by the 12 MB the container announced (by 6 MB
    # it would refuse the 8 MB record: "Record is larger than 6MB").
    assert "GET /execution-parameters 200" in c.logs
    run.assert_invocations([(200, 4)])


# --- 2. training, two hosts (last: the slowest) ----------------------------------------------------

def test_fit_two_instances_form_one_spark_cluster(sdk, tmp_path):
    fit = _fit(sdk, tmp_path, 2, "fit2")
    output = tar_members(fit.output / "output.tar.gz")
    states = [(c.name, c.status, c.exit_code) for c in fit.containers]
    assert "failure" not in output, (output["failure"].decode(errors="replace"), states)
    assert "data/recommendations.csv" in output, sorted(output)
    model = tar_members(fit.output / "model.tar.gz")
    assert MODEL_FILES <= set(model), sorted(model)
    meta = json.loads(model["metadata.json"])
    hosts = sorted(c.name.split("-", 1)[1] for c in fit.containers)  # <random>-algo-N-<suffix>
    assert len(hosts) == 2 and hosts[0].startswith("algo-1-") and hosts[1].startswith("algo-2-"), states
    info = meta["cluster"]
    assert info["master"] == f"spark://{hosts[0]}:7077", info
    done: dict[str, int] = {}
    for e in info["executors"]:
        done[e["host"]] = done.get(e["host"], 0) + e["completed_tasks"]
    assert len(done) == 2 and all(n > 0 for n in done.values()), info
    # The first host to exit ends the job (compose up --abort-on-container-exit SIGTERMs the other).
    # A SIGTERM reaching the leader after its model is written must still end it with exit 0.
    for c in fit.containers:
        assert c.status == "exited" and c.exit_code == 0, (f"{c.name} exited {c.exit_code} ({states}); its log:\n"
                                                           + c.logs[-2500:])
