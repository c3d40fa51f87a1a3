"""HTTP protocol edges clients hit routinely: media-type parameters, declared charsets, CSV fields
beyond the csv module's limit, corrupt model files."""
from __future__ import annotations

import json

import numpy as np
import pytest

from alsreco.core.artifact import load_model
from alsreco.core.errors import ModelError
from alsreco.core.settings import Settings
from alsreco.serve.app import create_app


@pytest.fixture
def client(model_dir):
    return create_app(model_dir, Settings(workers=1)).test_client()


@pytest.mark.parametrize("accept,expected", [
    ("application/json; charset=utf-8", "application/json"),
    ("application/jsonlines; charset=UTF-8", "application/jsonlines"),
    ("text/csv; charset=utf-8; header=present", "text/csv"),
    ("text/csv;q=0.5, application/json; charset=utf-8;q=0.9", "application/json"),
])
def test_accept_with_parameters_is_honoured(client, accept, expected):
    resp = client.post("/invocations", data=json.dumps({"customer_id": "17850"}),
                       headers={"Content-Type": "application/json", "Accept": accept})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.mimetype == expected


def test_declared_charset_of_the_body_is_used(client):
    body = "customer_id\nMüller-1\n".encode("latin-1")
    resp = client.post("/invocations", data=body, headers={"Content-Type": "text/csv; charset=ISO-8859-1",
                                                            "Accept": "application/jsonlines"})
    assert resp.status_code == 200
    assert json.loads(resp.get_data(as_text=True))["customer_id"] == "Müller-1"
    undeclared = client.post("/invocations", data=body, headers={"Content-Type": "text/csv"})
    assert undeclared.status_code == 400 and "not valid utf-8" in undeclared.json["error"]
    unknown = client.post("/invocations", data=b"17850", headers={"Content-Type": "text/csv; charset=klingon"})
    assert unknown.status_code == 415 and "klingon" in unknown.json["error"]


def test_csv_field_over_the_csv_limit_is_a_400_naming_the_line(client):
    body = ("customer_id\n17850\n" + "x" * 200_000 + "\n").encode()
    resp = client.post("/invocations", data=body, headers={"Content-Type": "text/csv"})
    assert resp.status_code == 400
    assert "line 3" in resp.json["error"] and "field limit" in resp.json["error"]


def test_errors_carry_the_model_version(client):
    resp = client.post("/invocations", data=b"{", headers={"Content-Type": "application/json"})
    assert resp.status_code == 400
    assert resp.headers["X-Model-Version"]


@pytest.mark.parametrize("damage", ["truncate_npz", "empty_npz", "metadata_list", "metadata_not_utf8",
                                    "factors_1d", "truncate_npy"])
def test_corrupt_model_files_are_a_model_error_with_a_reason(model_dir, tmp_path, damage):
    import shutil

    model = tmp_path / "damaged"
    shutil.copytree(model_dir, model)
    if damage == "truncate_npz":
        data = (model / "purchases.npz").read_bytes()
        (model / "purchases.npz").write_bytes(data[: len(data) // 2])
    elif damage == "empty_npz":
        (model / "purchases.npz").write_bytes(b"")
    elif damage == "metadata_list":
        (model / "metadata.json").write_text("[1, 2]")
    elif damage == "metadata_not_utf8":
        (model / "metadata.json").write_bytes(b"\xff\xfe{")
    elif damage == "factors_1d":
        np.save(model / "user_factors.npy", np.zeros(3, dtype=np.float32))
    else:
        data = (model / "item_factors.npy").read_bytes()
        (model / "item_factors.npy").write_bytes(data[:100])
    with pytest.raises(ModelError) as err:
        load_model(model)
    assert str(err.value)
    app = create_app(model, Settings(workers=1))  # the server still starts ...
    ping = app.test_client().get("/ping")
    assert ping.status_code == 503 and ping.json["error"] == str(err.value)  # ... and says why
