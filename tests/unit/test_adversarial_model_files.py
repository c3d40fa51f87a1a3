"""Adversarial corpus, corrupt model artifacts: every file of the model directory truncated, emptied,
of the wrong dtype or shape, with lengths that disagree, NaN / Inf, huge declared sizes, and a
metadata.json that is not what `train` writes. Each must leave `serve` up with /ping 503 and a
reason naming the file (never a crash at start-up, never a 500 or a wrong answer later).
The real server on such a model: tests/integration/test_adversarial_http.py."""
from __future__ import annotations

import io
import json
import shutil
import struct
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from alsreco.core.artifact import ARRAYS, METADATA, PURCHASES, load_model
from alsreco.core.errors import ModelError
from alsreco.core.settings import Settings
from alsreco.serve.app import create_app
from tests.unit.conftest import write_synthetic

Damage = Callable[[Path], None]


def raw(name: str, data: bytes) -> Damage:
    return lambda d: (d / name).write_bytes(data)


def truncate(name: str, keep: float) -> Damage:
    def damage(d: Path) -> None:
        data = (d / name).read_bytes()
        (d / name).write_bytes(data[: int(len(data) * keep)])
    return damage


def array(name: str, make: Callable[[np.ndarray], np.ndarray]) -> Damage:
    def damage(d: Path) -> None:
        np.save(d / f"{name}.npy", make(np.load(d / f"{name}.npy")), allow_pickle=True)
    return damage


def purchases(**parts: Callable[[np.ndarray], np.ndarray] | None) -> Damage:
    def damage(d: Path) -> None:
        with np.load(d / PURCHASES) as z:
            arrays = {k: z[k] for k in z.files}
        for k, make in parts.items():
            if make is None:
                del arrays[k]
            else:
                arrays[k] = make(arrays[k])
        np.savez(d / PURCHASES, **arrays)
    return damage


def metadata(change: Callable[[dict], object]) -> Damage:
    def damage(d: Path) -> None:
        meta = json.loads((d / METADATA).read_text())
        change(meta)
        (d / METADATA).write_text(json.dumps(meta))
    return damage


def npy_header(descr: str, shape: tuple) -> bytes:
    header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}"
    header += " " * (118 - len(header)) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode()


def huge_member_in_npz(d: Path) -> None:
    """indptr declares 10^11 int64 (745 GiB) inside a tiny zip."""
    with np.load(d / PURCHASES) as z:
        arrays = {k: z[k] for k in z.files}
    with zipfile.ZipFile(d / PURCHASES, "w") as zf:
        for k, v in arrays.items():
            buf = io.BytesIO()
            np.save(buf, v)
            zf.writestr(f"{k}.npy", npy_header("<i8", (10**11,)) + b"\0" * 64 if k == "indptr" else buf.getvalue())


def nan_at(value: float) -> Callable[[np.ndarray], np.ndarray]:
    def make(a: np.ndarray) -> np.ndarray:
        a = np.array(a)
        a.flat[len(a.flat) // 2] = value
        return a
    return make


# --------------------------------------------------------------------------- the corpus: (id, damage, words)
FILES = [f"{name}.npy" for name in ARRAYS] + [PURCHASES, METADATA]
WHOLE_FILE = [
    (f"{how}-{name}", damage(name), (name,))
    for name in FILES
    for how, damage in [("empty", lambda n: raw(n, b"")), ("truncated-half", lambda n: truncate(n, 0.5)),
                        ("truncated-in-header", lambda n: truncate(n, 0.05)),
                        ("garbage", lambda n: raw(n, b"\x00" * 7))]
]
WRONG_CONTENT = [
    ("user-factors-nan", array("user_factors", nan_at(np.nan)), ("user_factors.npy", "NaN")),
    ("item-factors-inf", array("item_factors", nan_at(np.inf)), ("item_factors.npy", "infinite")),
    ("item-factors-minus-inf", array("item_factors", nan_at(-np.inf)), ("item_factors.npy",)),
    ("user-factors-int", array("user_factors", lambda a: a.astype(np.int64)), ("user_factors.npy", "int64")),
    ("user-factors-float16", array("user_factors", lambda a: a.astype(np.float16)), ("user_factors.npy", "float16")),
    ("item-factors-text", array("item_factors", lambda a: a.astype(str)), ("item_factors.npy",)),
    ("item-factors-complex", array("item_factors", lambda a: a.astype(np.complex64)), ("item_factors.npy",)),
    ("item-factors-bool", array("item_factors", lambda a: a.astype(bool)), ("item_factors.npy",)),
    ("item-factors-object-pickle", array("item_factors", lambda a: a.astype(object)), ("item_factors.npy",)),
    ("user-factors-3d", array("user_factors", lambda a: a[..., None]), ("user_factors",)),
    ("user-factors-1d", array("user_factors", lambda a: a.ravel()), ("user_factors",)),
    ("factors-rank-0", lambda d: (array("user_factors", lambda a: a[:, :0])(d),
                                  array("item_factors", lambda a: a[:, :0])(d)), ("rank 0",)),
    ("factors-ranks-differ", array("item_factors", lambda a: a[:, :3]), ("ranks differ",)),
    ("user-factors-fewer-rows", array("user_factors", lambda a: a[:-1]), ("user_factors",)),
    ("item-factors-more-rows", array("item_factors", lambda a: np.vstack([a, a[:1]])), ("item_factors",)),
    ("customer-ids-int", array("customer_ids", lambda a: np.arange(len(a))), ("customer_ids.npy", "text")),
    ("customer-ids-bytes", array("customer_ids", lambda a: a.astype("S")), ("customer_ids.npy",)),
    ("customer-ids-2d", array("customer_ids", lambda a: a[:, None]), ("customer_ids.npy",)),
    ("customer-ids-scalar", array("customer_ids", lambda a: np.array("x")), ("customer_ids.npy",)),
    ("customer-ids-duplicated", array("customer_ids", lambda a: np.array(["same"] * len(a))),
     ("customer_ids.npy", "twice")),
    ("product-ids-one-short", array("product_ids", lambda a: a[:-1]), ("products",)),
    ("product-ids-duplicated", array("product_ids", lambda a: np.concatenate([a[:1], a[:-1]])),
     ("product_ids.npy", "twice")),
    ("product-names-int", array("product_names", lambda a: np.arange(len(a))), ("product_names.npy",)),
    ("product-names-one-long", array("product_names", lambda a: np.append(a, "x")), ("product_names",)),
    ("popularity-text", array("product_popularity", lambda a: a.astype(str)), ("product_popularity.npy",)),
    ("popularity-float-nan", array("product_popularity", lambda a: np.full(len(a), np.nan)),
     ("product_popularity.npy",)),
    ("popularity-negative", array("product_popularity", lambda a: -a - 1), ("product_popularity.npy", "negative")),
    ("popularity-2d", array("product_popularity", lambda a: np.stack([a, a], 1)), ("product_popularity.npy",)),
    ("first-seen-text", array("product_first_seen", lambda a: a.astype(str)), ("product_first_seen.npy",)),
    ("first-seen-int", array("customer_first_seen", lambda a: a.astype(np.int64)), ("customer_first_seen.npy",)),
    ("first-seen-one-short", array("customer_first_seen", lambda a: a[:-1]), ("customer_first_seen",)),
    ("new-products-out-of-range", array("new_products", lambda a: np.array([10**6], np.int32)), ("new_products",)),
    ("new-products-negative", array("new_products", lambda a: np.array([-1], np.int32)), ("new_products",)),
    ("new-products-float", array("new_products", lambda a: a.astype(float)), ("new_products.npy",)),
    ("new-customers-text", array("new_customers", lambda a: np.array(["a"])), ("new_customers.npy",)),
    ("purchases-no-indptr", purchases(indptr=None), (PURCHASES, "indptr")),
    ("purchases-no-shape", purchases(shape=None), (PURCHASES, "shape")),
    ("purchases-shape-text", purchases(shape=lambda a: np.array(["a", "b"])), (PURCHASES,)),
    ("purchases-shape-huge", purchases(shape=lambda a: np.array([10**12, 10**12])), ("purchases shape",)),
    ("purchases-shape-3d", purchases(shape=lambda a: np.append(a, 1)), ("purchases shape",)),
    ("purchases-indices-negative", purchases(indices=lambda a: -a - 1), (PURCHASES, "CSR")),
    ("purchases-indices-too-big", purchases(indices=lambda a: a + 10**6), (PURCHASES,)),
    ("purchases-indices-float", purchases(indices=lambda a: a.astype(np.float32)), (PURCHASES, "indices")),
    ("purchases-indptr-decreasing", purchases(indptr=lambda a: a[::-1].copy()), (PURCHASES, "CSR")),
    ("purchases-indptr-not-from-0", purchases(indptr=lambda a: a + 1), (PURCHASES,)),
    ("purchases-data-nan", purchases(data=nan_at(np.nan)), (PURCHASES, "finite")),
    ("purchases-data-short", purchases(data=lambda a: a[:-1]), (PURCHASES, "CSR")),
    ("purchases-data-text", purchases(data=lambda a: a.astype(str)), (PURCHASES, "data")),
    ("npy-declares-huge-shape", raw("user_factors.npy", npy_header("<f4", (10**12, 4)) + b"\0" * 64),
     ("user_factors.npy",)),
    ("npy-huge-header", raw("user_factors.npy", b"\x93NUMPY\x01\x00\xf0\xff" + b" " * 70_000), ("user_factors.npy",)),
    ("npz-member-declares-745-gib", huge_member_in_npz, (PURCHASES,)),
    ("npz-is-an-npy", lambda d: shutil.copy(d / "user_factors.npy", d / PURCHASES), (PURCHASES,)),
    ("npy-is-a-directory", lambda d: ((d / "item_factors.npy").unlink(), (d / "item_factors.npy").mkdir()),
     ("item_factors.npy",)),
    ("npy-symlink-loop", lambda d: ((d / "item_factors.npy").unlink(),
                                    (d / "item_factors.npy").symlink_to(d / "item_factors.npy")),
     ("item_factors.npy",)),
    ("npz-is-a-directory", lambda d: ((d / PURCHASES).unlink(), (d / PURCHASES).mkdir()), (PURCHASES,)),
    ("file-missing", lambda d: (d / "new_customers.npy").unlink(), ("new_customers.npy", "missing")),
]
METADATA_CASES = [
    ("metadata-list", raw(METADATA, b"[1, 2]"), (METADATA, "object")),
    ("metadata-string", raw(METADATA, b'"v1"'), (METADATA, "object")),
    ("metadata-not-utf8", raw(METADATA, b"\xff\xfe{}"), (METADATA,)),
    ("metadata-deep", raw(METADATA, b"[" * 100_000), (METADATA,)),
    ("metadata-a-directory", lambda d: ((d / METADATA).unlink(), (d / METADATA).mkdir()), (METADATA,)),
    ("metadata-no-format", metadata(lambda m: m.pop("format_version")), ("format",)),
    ("metadata-format-text", metadata(lambda m: m.update(format_version="1")), ("format",)),
    ("metadata-format-true", metadata(lambda m: m.update(format_version=True)), ("format",)),
    ("metadata-no-version", metadata(lambda m: m.pop("model_version")), (METADATA, "model_version")),
    ("metadata-version-number", metadata(lambda m: m.update(model_version=7)), (METADATA, "model_version")),
    ("metadata-version-empty", metadata(lambda m: m.update(model_version="")), ("model_version",)),
    ("metadata-version-header-injection", metadata(lambda m: m.update(model_version="v1\r\nX-Evil: 1")),
     ("model_version", "header")),
    ("metadata-version-non-ascii", metadata(lambda m: m.update(model_version="v\u00e9\U0001F600")), ("model_version",)),
    ("metadata-version-10k-chars", metadata(lambda m: m.update(model_version="v" * 10_000)), ("model_version",)),
    ("metadata-hyperparameters-text", metadata(lambda m: m.update(hyperparameters="oops")),
     (METADATA, "hyperparameters must be a JSON object")),
    ("metadata-hyperparameters-pairs", metadata(lambda m: m.update(hyperparameters=[["reco_item", 5]])),
     ("hyperparameters must be a JSON object",)),
    ("metadata-reco-item-text", metadata(lambda m: m["hyperparameters"].update(reco_item="abc")),
     ("hyperparameters.reco_item",)),
    ("metadata-reco-item-0", metadata(lambda m: m["hyperparameters"].update(reco_item=0)),
     ("hyperparameters.reco_item", "[1, 1000]")),
    ("metadata-reco-item-1e9", metadata(lambda m: m["hyperparameters"].update(reco_item=10**9)),
     ("hyperparameters.reco_item",)),
    ("metadata-reco-item-null", metadata(lambda m: m["hyperparameters"].update(reco_item=None)),
     ("hyperparameters.reco_item",)),
    ("metadata-exclude-purchased-text", metadata(lambda m: m["hyperparameters"].update(exclude_purchased="false")),
     ("hyperparameters.exclude_purchased",)),
    ("metadata-exclude-popular-negative", metadata(lambda m: m["hyperparameters"].update(exclude_popular=-3)),
     ("hyperparameters.exclude_popular",)),
    ("metadata-include-new-float", metadata(lambda m: m["hyperparameters"].update(include_new=1.5)),
     ("hyperparameters.include_new",)),
    ("metadata-als-text", metadata(lambda m: m.update(als="x")), ("als must be a JSON object",)),
    ("metadata-als-alpha-text", metadata(lambda m: m["als"].update(alpha="x")), ("als.alpha",)),
    ("metadata-als-alpha-nan", metadata(lambda m: m["als"].update(alpha=float("nan"))), ("als.alpha",)),
    ("metadata-als-reg-null", metadata(lambda m: m["als"].update(reg_param=None)), ("als.reg_param",)),
    ("metadata-als-implicit-text", metadata(lambda m: m["als"].update(implicit_prefs="false")),
     ("als.implicit_prefs",)),
]
CORPUS = WHOLE_FILE + WRONG_CONTENT + METADATA_CASES


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    return write_synthetic(tmp_path_factory.mktemp("pristine") / "model")


def test_the_corpus_covers_every_file_and_has_unique_ids(pristine):
    assert sorted(p.name for p in pristine.iterdir()) == sorted(FILES)
    assert len({c[0] for c in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("case_id, damage, words", CORPUS, ids=[c[0] for c in CORPUS])
def test_corrupt_model_is_a_503_naming_the_file(pristine, tmp_path, case_id, damage, words):
    model = tmp_path / "model"
    shutil.copytree(pristine, model)
    damage(model)
    with pytest.raises(ModelError) as err:
        load_model(model)
    reason = str(err.value)
    for w in words:
        assert w in reason, reason
    assert len(reason) < 1200, "the reason stays readable"
    client = create_app(model, Settings(workers=1)).test_client()  # the server still starts ...
    ping = client.get("/ping")
    assert ping.status_code == 503 and ping.get_json() == {"error": reason, "status": 503}  # ... and says why
    resp = client.post("/invocations", data=b'{"customer_id": "17850"}', headers={"Content-Type": "application/json"})
    assert resp.status_code == 503 and resp.get_json()["error"] == reason


@pytest.mark.parametrize("case_id, damage", [
    ("fortran-order-factors", array("user_factors", np.asfortranarray)),
    ("big-endian-factors", array("item_factors", lambda a: a.astype(">f4"))),
    ("float64-factors", array("user_factors", lambda a: a.astype(np.float64))),
    ("unknown-metadata-keys", metadata(lambda m: m.update(extra={"a": [1]}, hyperparameters={
        **m["hyperparameters"], "from_a_newer_version": 1}))),
    ("no-hyperparameters-or-als-section", metadata(lambda m: (m.pop("hyperparameters"), m.pop("als")))),
], ids=lambda v: v if isinstance(v, str) else "")
def test_unusual_but_valid_files_still_serve(pristine, tmp_path, case_id, damage):
    model = tmp_path / "model"
    shutil.copytree(pristine, model)
    damage(model)
    client = create_app(model, Settings(workers=1)).test_client()
    assert client.get("/ping").status_code == 200
    for body in ({"customer_id": "17850", "k": 3}, {"item_id": "85123A"}, {"items": ["85123A"]}, "nobody"):
        resp = client.post("/invocations", json=body)
        assert resp.status_code == 200, resp.get_data(as_text=True)
        assert "NaN" not in resp.get_data(as_text=True)
