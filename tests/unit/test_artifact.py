import json

import numpy as np
import pytest

from alsreco.core import artifact
from alsreco.core.errors import ModelError


def tiny_model(**overrides):
    fields = dict(
        customer_ids=np.array(["c1", "c2"]), product_ids=np.array(["p1", "p2", "p3"]),
        product_names=np.array(["one", "two", ""]),
        user_factors=np.ones((2, 4), np.float32), item_factors=np.arange(12, dtype=np.float32).reshape(3, 4),
        purchases=artifact.Purchases.from_coo(np.array([0, 1]), np.array([2, 0]), np.array([1.0, 2.0]), (2, 3)),
        product_popularity=np.array([1, 0, 1], np.int32),
        product_first_seen=np.array(["2020-01-01"] * 3, dtype="datetime64[D]"),
        customer_first_seen=np.array(["2020-01-01"] * 2, dtype="datetime64[D]"),
        new_products=np.array([2], np.int32), new_customers=np.array([], np.int32),
        metadata={"model_version": "v1"},
    )
    fields.update(overrides)
    return artifact.Model(**fields)


def test_round_trip_without_pickle(tmp_path):
    artifact.write_model(tiny_model(), tmp_path)
    loaded = artifact.load_model(tmp_path)
    assert loaded.version == "v1" and loaded.rank == 4
    assert loaded.product_ids.tolist() == ["p1", "p2", "p3"]
    assert np.array_equal(loaded.item_factors, np.arange(12, dtype=np.float32).reshape(3, 4))
    assert loaded.purchases.row(1).tolist() == [0] and loaded.purchases.row_data(1).tolist() == [2.0]
    assert isinstance(loaded.user_factors, np.memmap)
    for f in tmp_path.glob("*.npy"):  # every array loads with pickling disabled
        np.load(f, allow_pickle=False)
    assert not list(tmp_path.glob(".staging-*"))


def test_metadata_is_last_and_required(tmp_path):
    artifact.write_model(tiny_model(), tmp_path)
    (tmp_path / "metadata.json").unlink()
    with pytest.raises(ModelError, match="incomplete: metadata.json is missing"):
        artifact.load_model(tmp_path)


def test_missing_array_and_bad_format(tmp_path):
    artifact.write_model(tiny_model(), tmp_path)
    (tmp_path / "item_factors.npy").unlink()
    with pytest.raises(ModelError, match="item_factors.npy is missing"):
        artifact.load_model(tmp_path)
    artifact.write_model(tiny_model(), tmp_path)
    meta = json.loads((tmp_path / "metadata.json").read_text())
    meta["format_version"] = 99
    (tmp_path / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="format 99 is not supported"):
        artifact.load_model(tmp_path)
    with pytest.raises(ModelError, match="no model directory"):
        artifact.load_model(tmp_path / "nope")


def test_inconsistent_model_is_refused_before_writing(tmp_path):
    with pytest.raises(ModelError, match="item_factors rows != products"):
        artifact.write_model(tiny_model(item_factors=np.ones((2, 4), np.float32)), tmp_path)
    assert not (tmp_path / "metadata.json").exists()


def test_failed_write_leaves_previous_model_incomplete_not_mixed(tmp_path, monkeypatch):
    artifact.write_model(tiny_model(), tmp_path)
    real_replace = artifact.os.replace
    calls = []

    def failing_replace(src, dst):
        calls.append(dst)
        if len(calls) == 3:
            raise OSError("disk full")
        return real_replace(src, dst)

    monkeypatch.setattr(artifact.os, "replace", failing_replace)
    with pytest.raises(OSError):
        artifact.write_model(tiny_model(metadata={"model_version": "v2"}), tmp_path)
    monkeypatch.undo()
    assert not (tmp_path / "metadata.json").exists()  # half-swapped: refused by readers
    assert not list(tmp_path.glob(".staging-*"))
    with pytest.raises(ModelError):
        artifact.load_model(tmp_path)


def test_the_purchases_archive_is_memory_mapped_when_stored_uncompressed(tmp_path):
    """np.savez stores its members uncompressed: served models map them (every worker shares the pages);
    a compressed archive is read as before."""
    from alsreco.core.artifact import PURCHASES, load_model
    from alsreco.core.npz_map import mapped_npz
    from tests.unit.conftest import write_synthetic

    model_dir = write_synthetic(tmp_path / "model")
    mapped = load_model(model_dir, mmap=True).purchases
    assert all(isinstance(a, np.memmap) for a in (mapped.indptr, mapped.indices, mapped.data))
    read = load_model(model_dir, mmap=False).purchases
    assert not isinstance(read.indices, np.memmap) and mapped.shape == read.shape
    for name in ("indptr", "indices", "data"):
        np.testing.assert_array_equal(getattr(mapped, name), getattr(read, name))
    with np.load(model_dir / PURCHASES) as z:
        members = {k: z[k] for k in z.files}
    np.savez_compressed(model_dir / PURCHASES, **members)
    assert mapped_npz(model_dir / PURCHASES) is None
    again = load_model(model_dir, mmap=True).purchases
    np.testing.assert_array_equal(again.indices, read.indices)
