"""`als_fits`: a model of several ALS fits (factors side by side, each scaled by 1/sqrt(n)) scores the
mean of the fits, folds customers in per fit, and is refused when its metadata does not match."""
import json

import numpy as np
import pytest

from alsreco.core import artifact
from alsreco.core.errors import ModelError
from alsreco.core.foldin import UserStep
from alsreco.core.recommender import Recommender
from alsreco.train import als

from .conftest import make_model
from .test_artifact import tiny_model


def _members(n: int, rank: int = 3, n_users: int = 5, n_items: int = 9, seed: int = 0):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((n_users, rank)).astype(np.float32),
             rng.standard_normal((n_items, rank)).astype(np.float32)) for _ in range(n)]


def test_combined_factors_score_the_mean_of_the_fits():
    members = _members(3)
    users, items = als.combine(members)
    assert users.shape == (5, 9) and items.shape == (9, 9) and users.dtype == np.float32
    np.testing.assert_allclose(users @ items.T, np.mean([u @ v.T for u, v in members], axis=0), rtol=1e-5, atol=1e-6)
    one = _members(1)
    assert als.combine(one)[0] is one[0][0]  # one fit: its factors as they are


def test_auto_fits_follow_the_data_size():
    hp = {"als_fits": 0, "seed": 3}
    assert als.fits_for(hp, als.AUTO_FITS_BELOW - 1) == als.AUTO_FITS
    assert als.fits_for(hp, als.AUTO_FITS_BELOW) == 1
    assert als.fits_for({**hp, "als_fits": 2}, 10**9) == 2 and als.fits_for({**hp, "als_fits": 1}, 10) == 1
    assert [als.member_seed(hp, k) for k in range(3)] == [3, 3 + als.SEED_STRIDE, 3 + 2 * als.SEED_STRIDE]


@pytest.mark.parametrize("implicit", [True, False])
def test_fold_in_is_each_fits_user_step_side_by_side(implicit):
    members = _members(2, n_items=12)
    _, items = als.combine(members)
    step = UserStep.of(items, implicit, alpha=5.0, reg_param=0.1, fits=2)
    basket, ratings = np.array([1, 4, 7]), np.array([2.0, 1.0, 3.0])
    alone = [UserStep.of(v, implicit, alpha=5.0, reg_param=0.1).solve(basket, ratings) for _, v in members]
    np.testing.assert_allclose(step.solve(basket, ratings), np.concatenate(alone) / np.sqrt(2), rtol=1e-5, atol=1e-6)
    # one joint solve over all columns is a different (wrong) model: the test can tell them apart
    joint = UserStep.of(items, implicit, alpha=5.0, reg_param=0.1).solve(basket, ratings)
    assert not np.allclose(joint, step.solve(basket, ratings), atol=1e-3)


def test_a_fit_count_that_does_not_divide_the_factors_falls_back_to_one_step():
    items = _members(1, rank=3)[0][1]
    assert UserStep.of(items, True, 5.0, 0.1, fits=2).fits == 1


def test_recommender_reads_the_fit_count_and_empty_sessions_keep_each_trained_factor():
    m = make_model()
    m.user_factors, m.item_factors = als.combine([(m.user_factors, m.item_factors),
                                                  (m.user_factors[:, ::-1].copy(), m.item_factors[:, ::-1].copy())])
    m.metadata["als"]["fits"] = 2
    rec = Recommender(m)
    assert rec.user_step.fits == 2
    # make the stored user factors what each fit's last user step solves; an empty session gives them back
    m.user_factors = np.stack([rec.session_factor(u, np.empty(0, np.int64)) for u in range(len(m.customer_ids))])
    rec = Recommender(m)
    for u in range(len(m.customer_ids)):
        np.testing.assert_allclose(rec.session_factor(u, np.empty(0, np.int64)), m.user_factors[u], atol=1e-6)


@pytest.mark.parametrize("fits, ok", [(1, True), (2, True), (4, True), (3, False), (0, False), ("2", False)])
def test_model_metadata_fit_count_must_divide_the_rank(tmp_path, fits, ok):
    artifact.write_model(tiny_model(metadata={"model_version": "v1", "als": {"fits": fits}}), tmp_path)
    if ok:
        assert artifact.load_model(tmp_path).metadata["als"]["fits"] == fits
    else:
        with pytest.raises(ModelError, match="als.fits"):
            artifact.load_model(tmp_path)
    assert json.loads((tmp_path / "metadata.json").read_text())["als"]["fits"] == fits
