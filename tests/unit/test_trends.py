"""Issue 23 without Spark: time decay and trending against plain references, the hyperparameters, the
held-out choices (half-life, blend, the evaluation window) on fakes, and the blend in scoring."""
from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd
import pytest

from alsreco.core import hyperparameters as h
from alsreco.core import trends as core_trends
from alsreco.core.errors import UserError
from alsreco.core.recommender import Recommender
from alsreco.core.rules import Request, Rules
from alsreco.core.scoring import BlockRanker
from alsreco.train import blend, metrics, ratings, recency, trends, windows
from alsreco.train.evaluate import Scored

from .conftest import CUSTOMERS, PRODUCTS, make_model

AS_OF = pd.Timestamp("2020-03-31")


def frame(seed: int = 0, lines: int = 400) -> pd.DataFrame:
    """Purchase lines over 40 days: 30 customers, 12 products, random times of day."""
    rng = np.random.default_rng(seed)
    dates = AS_OF + pd.Timedelta(days=1) - pd.to_timedelta(rng.uniform(0, 40, lines), unit="D")
    return pd.DataFrame({"customer": [f"c{x}" for x in rng.integers(0, 30, lines)],
                         "product": [f"p{x:02d}" for x in rng.integers(0, 12, lines)],
                         "quantity": rng.integers(1, 5, lines).astype(float), "date": dates,
                         "invoice": "", "description": ""})


def reference_trends(df: pd.DataFrame, as_of: pd.Timestamp, window: int, support: int) -> dict[str, tuple]:
    """Plain loops: per product, the distinct buyers of each window, and the score by its definition."""
    end = as_of + pd.Timedelta(days=1)
    out = {}
    for product in sorted(set(df["product"])):
        recent, before = set(), set()
        for c, p, d in zip(df["customer"], df["product"], df["date"]):
            if p != product:
                continue
            age = (end - d) / pd.Timedelta(days=1)  # days before the end of the as-of day
            if 0 < age <= window:
                recent.add(c)
            elif window < age <= 2 * window:
                before.add(c)
        rise = (len(recent) - len(before)) / math.sqrt(len(before) + 1)
        out[product] = (len(recent), len(before), rise if len(recent) >= support and rise > 0 else 0.0)
    return out


@pytest.mark.parametrize("window, support", [(7, 1), (7, 3), (3, 2), (30, 5)])
def test_trending_equals_a_plain_reference(window, support):
    df = frame()
    hp = {**h.defaults(), "trend_window_days": window, "trend_min_support": support}
    products = np.array(sorted(set(df["product"])))
    got = trends.compute(df, products, AS_OF, hp)
    want = reference_trends(df, AS_OF, window, support)
    assert got.recent.dtype == np.int32 and got.trending.dtype == np.float32
    assert got.recent.tolist() == [want[p][0] for p in products]
    np.testing.assert_allclose(got.trending, [want[p][2] for p in products], rtol=1e-6)
    assert (got.trending > 0).any() or window == 30  # the frame has rising products at short windows


def test_trending_score_rules():
    score = core_trends.trending_score(np.array([10, 10, 4, 2, 0, 9]), np.array([0, 20, 0, 0, 0, 3]), 3)
    assert score.tolist() == pytest.approx([10.0, 0.0, 4.0, 0.0, 0.0, 3.0])  # falling, below support: 0


@pytest.mark.parametrize("kind", ["count", "total_qty", "incident", "log_qty"])
@pytest.mark.parametrize("half_life", [0.0, 2.0, 9.5])
def test_decayed_ratings_equal_a_plain_reference(kind, half_life):
    df = frame(1, 150)
    hp = {**h.defaults(), "ranking_type": kind, "recency_half_life_days": half_life}
    r = ratings.build(df, hp, AS_OF)
    end = AS_OF + pd.Timedelta(days=1)
    want: dict[tuple[str, str], list[float]] = {}
    for c, p, q, d in zip(df["customer"], df["product"], df["quantity"], df["date"]):
        w = 0.5 ** (((end - d) / pd.Timedelta(days=1)) / half_life) if half_life else 1.0
        got = want.setdefault((c, p), [0.0, 0.0])
        got[0] += w
        got[1] += w * q
    for u, i, value in zip(r.user, r.item, r.rating):
        count, qty = want[(r.customer_ids[u], r.product_ids[i])]
        expected = {"count": count, "total_qty": qty, "incident": 1.0, "log_qty": math.log1p(qty)}[kind]
        assert value == pytest.approx(expected, rel=1e-5)
    assert len(r.rating) == len(want)


def test_auto_hyperparameters_parse_and_name_themselves_when_wrong():
    d = h.defaults()
    assert d["recency_half_life_days"] == d["blend_weight"] == d["blend_signal"] == "auto"
    hp = h.merge([("t", {"recency_half_life_days": '"AUTO"', "blend_weight": "0.5", "blend_signal": "recent"})])
    assert (hp["recency_half_life_days"], hp["blend_weight"], hp["blend_signal"]) == ("auto", 0.5, "recent")
    assert h.merge([("t", {"recency_half_life_days": "14"})])["recency_half_life_days"] == 14.0
    assert ratings.half_life(d) == 0.0 and ratings.half_life({"recency_half_life_days": 7.0}) == 7.0
    for name, bad in (("recency_half_life_days", "often"), ("recency_half_life_days", "-1"), ("blend_weight", "11"),
                      ("blend_weight", "nan"), ("blend_signal", "sales"), ("trend_window_days", "0")):
        with pytest.raises(UserError, match=f"hyperparameter '{name}'"):
            h.merge([("hyperparameters.json", {name: bad})])
    assert "auto, or a number in [0, 3650]" in h.markdown_table()


# ----------------------------------------------------------------- choices on held-out data (fakes)
class FakeHoldout:
    """What recency.choose and blend.choose read from evaluate.Holdout: rows, k, the baselines, the signals,
    `score` (a fit per half-life) and `rank` (factors + bias -> per-customer NDCG)."""

    def __init__(self, n: int = 300, k: int = 10, baselines=(0.05, 0.08, 0.02), gains=None, signals=None):
        self.rows, self.k, self.protocol, self.span_days = np.arange(n), k, "time_window", 365
        self.baselines = {name: Scored({f"ndcg_at_{k}": v}, np.full(n, v))
                          for name, v in zip(("popularity", "recent", "trending"), baselines)}
        self.gains = gains or {}  # half-life -> per-customer NDCG
        self.signals = signals or {s: np.full(4, i + 1.0, dtype=np.float32) for i, s in enumerate(h.BLEND_SIGNALS)}
        self.fits: list[float] = []
        self.ranked: list[tuple] = []

    def score(self, hp, keep=False):
        days = hp["recency_half_life_days"]
        self.fits.append(days)
        ndcg = self.gains[days]
        return Scored({f"ndcg_at_{self.k}": float(ndcg.mean())}, ndcg, 1.0, ("u", "v") if keep else None)

    def fitted(self, hp):
        return self.score(hp, keep=True)

    def forget(self, keep=None):
        pass

    def bias(self, blend):
        return None if not blend or not blend[1] else np.float32(blend[1]) * self.signals[blend[0]]

    def rank(self, users, items, blend=None, subset=None):
        bias = self.bias(blend)
        self.ranked.append((bias, subset))
        n = len(self.rows) if subset is None else len(subset)
        # the NDCG this fake gives: 0.1 alone; with a bias, a peak at total bias 0.5 (signal x weight)
        value = 0.1 if bias is None else 0.1 + 0.05 * math.exp(-((float(bias[0]) - 0.5) ** 2) * 8)
        noise = np.random.default_rng(len(self.ranked)).normal(0, 0.001, n)
        return Scored({f"ndcg_at_{self.k}": value}, value + noise)


def test_recency_auto_is_off_without_a_trend_and_fits_nothing(caplog):
    fake = FakeHoldout(baselines=(0.10, 0.08, 0.02))
    with caplog.at_level(logging.INFO):
        fitted, meta, scored = recency.choose(fake, h.defaults())
    assert fitted["recency_half_life_days"] == 0.0 and scored is None and fake.fits == []
    assert meta["reason"] == "no trend" and meta["trend_check"]["has_trend"] is False
    assert "no trend, half-life off" in caplog.text


def test_recency_auto_fits_nothing_when_the_recent_lead_is_inside_the_noise(caplog):
    n = 300
    swing = np.where(np.arange(n) % 2, 0.1, -0.096)  # recent leads by +0.002 on average, +-0.1 per customer
    fake = FakeHoldout(n=n, baselines=(0.05, 0.052, 0.02))
    fake.baselines["recent"] = Scored({"ndcg_at_10": 0.052}, 0.05 + swing)
    with caplog.at_level(logging.INFO):
        fitted, meta, scored = recency.choose(fake, h.defaults())
    assert fake.fits == [] and scored is None and fitted["recency_half_life_days"] == 0.0
    check = meta["trend_check"]
    lo, hi = check["recent_vs_popularity_ci80"]
    assert check["has_trend"] is False and lo < 0.002 < hi and lo < 0 < hi
    assert "beyond the noise" in caplog.text
    # the same lead on every customer is beyond any noise: the candidates are fitted
    steady = FakeHoldout(n=n, baselines=(0.05, 0.052, 0.02), gains={d: np.full(n, 0.1) for d in (0, 7, 14, 30, 90)})
    recency.choose(steady, h.defaults())
    assert steady.fits == [0.0, 7.0, 14.0, 30.0, 90.0]


def test_recency_auto_picks_a_half_life_only_beyond_noise(caplog):
    n = 300
    rng = np.random.default_rng(0)
    base = rng.uniform(0, 0.2, n)
    gains = {0.0: base, 7.0: base + 0.03, 14.0: base + rng.normal(0.05, 0.01, n), 30.0: base + 0.01, 90.0: base}
    fake = FakeHoldout(gains=gains)
    with caplog.at_level(logging.INFO):
        fitted, meta, scored = recency.choose(fake, h.defaults())
    assert fake.fits == [0.0, 7.0, 14.0, 30.0, 90.0]
    assert fitted["recency_half_life_days"] == meta["half_life_days"] == 14.0 and scored.factors == ("u", "v")
    assert [c["half_life_days"] for c in meta["candidates"]] == [0.0, 7.0, 14.0, 30.0, 90.0]
    assert "metric: recency.half_life_14.ndcg_at_10=" in caplog.text
    assert "auto chose a half-life of 14 days" in caplog.text
    # a lead within the noise keeps it off
    swing = np.where(np.arange(n) % 2, 0.1, -0.096)  # +0.002 on average, +-0.1 per customer
    noisy = {d: base + (swing if d == 7.0 else 0.0) for d in gains}
    with caplog.at_level(logging.INFO):
        fitted, meta, _ = recency.choose(FakeHoldout(gains=noisy), h.defaults())
    assert meta["half_life_days"] == fitted["recency_half_life_days"] == 0.0
    [seven] = meta["examined"]
    assert seven["candidate"] == 7.0 and not seven["beats_noise"] and seven["difference"] == pytest.approx(0.002)
    assert "(7 days, NDCG@10 +0.0020 over off) is within the noise" in caplog.text
    # explicit: used as given, nothing fitted; a short data span drops the long candidates
    fake = FakeHoldout(gains=gains)
    assert recency.choose(fake, {**h.defaults(), "recency_half_life_days": 30.0})[0]["recency_half_life_days"] == 30.0
    assert fake.fits == [] and recency.candidates(10) == [0.0, 7.0, 14.0, 30.0]


def test_blend_weight_and_signal_are_chosen_on_the_holdout(caplog):
    signals = {"trending": np.full(4, 0.1, np.float32), "recent": np.full(4, 1.0, np.float32),
               "popularity": np.full(4, 0.05, np.float32)}
    fake = FakeHoldout(signals=signals)
    with caplog.at_level(logging.INFO):
        meta, served = blend.choose(fake, h.defaults(), ("u", "v"))
    # the fake peaks where weight x signal = 0.5: recent at weight 0.5 (trending would need 5, popularity 10)
    assert (meta["signal"], meta["weight"]) == ("recent", 0.5) and meta["chosen_by"] == "auto"
    assert served.metrics["ndcg_at_10"] == pytest.approx(0.15) and meta["examined"][0]["beats_noise"]
    assert len(meta["candidates"]) == 3 * len(blend.WEIGHTS) and "metric: blend.weight=0.5" in caplog.text
    # explicit weight: used as given, the signal chosen at it; explicit 0: no blend
    meta, _ = blend.choose(FakeHoldout(signals=signals), {**h.defaults(), "blend_weight": 5.0}, ("u", "v"))
    assert (meta["signal"], meta["weight"], meta["chosen_by"]) == ("trending", 5.0, "hyperparameter")
    meta, served = blend.choose(FakeHoldout(signals=signals), {**h.defaults(), "blend_weight": 0.0,
                                                               "blend_signal": "popularity"}, ("u", "v"))
    assert (meta["weight"], meta["signal"]) == (0.0, "popularity") and served.metrics["ndcg_at_10"] == 0.1


def test_blend_that_does_not_help_beyond_noise_is_off():
    class Flat(FakeHoldout):
        def rank(self, users, items, blend=None, subset=None):
            bias, n = self.bias(blend), len(self.rows)
            ndcg = np.random.default_rng(0 if bias is None else int(float(bias[0]) * 1000)).uniform(0, 0.2, n)
            return Scored({"ndcg_at_10": float(ndcg.mean())}, ndcg)

    meta, _ = blend.choose(Flat(n=50), h.defaults(), ("u", "v"))
    assert meta["weight"] == 0.0 and not any(r["beats_noise"] for r in meta["examined"])


def test_a_choice_that_loses_on_the_other_protocol_is_vetoed(caplog):
    """The best half-life on the primary held-out part costs the other protocol's customers beyond noise:
    the next best that does not is taken; the blend likewise."""
    n = 300
    base = np.random.default_rng(1).uniform(0, 0.2, n)
    gains = {0.0: base, 7.0: base + 0.06, 14.0: base + 0.04, 30.0: base + 0.01, 90.0: base}
    other = FakeHoldout(gains={0.0: base, 7.0: base - 0.03, 14.0: base + 0.0, 30.0: base, 90.0: base})
    fake = FakeHoldout(gains=gains)
    with caplog.at_level(logging.INFO):
        fitted, meta, _ = recency.choose(fake, h.defaults(), lambda: other)
    assert fitted["recency_half_life_days"] == 14.0 and other.fits == [7.0, 0.0, 14.0, 0.0]
    assert [(r["candidate"], r["other_protocol"]["vetoed"]) for r in meta["examined"]] == [(7.0, True), (14.0, False)]
    assert "(7 days, NDCG@10 +0.0600 over off) loses on the other protocol's held-out part" in caplog.text

    class Other(FakeHoldout):  # the blend costs this part's customers whatever the weight
        def rank(self, users, items, blend=None, subset=None):
            bias = self.bias(blend)
            value = 0.1 - (0.0 if bias is None else 0.02)
            return Scored({"ndcg_at_10": value}, np.full(len(self.rows), value))

    sec = Other(gains={0.0: base})
    fitted = {**h.defaults(), "recency_half_life_days": 0.0}
    meta, _ = blend.choose(FakeHoldout(), h.defaults(), ("u", "v"), fitted, lambda: sec)
    assert meta["weight"] == 0.0 and len(meta["examined"]) > 12  # every candidate that beats the ALS alone
    beating = [r for r in meta["examined"] if r["beats_noise"]]
    assert beating and all(r["other_protocol"]["vetoed"] for r in beating)


def test_blend_search_samples_large_holdouts(monkeypatch):
    monkeypatch.setattr(blend, "MAX_CUSTOMERS", 40)
    fake = FakeHoldout(n=100)
    meta, _ = blend.choose(fake, h.defaults(), ("u", "v"))
    subsets = [s for _, s in fake.ranked]
    assert [len(s) for s in subsets if s is not None] == [40] * (1 + 3 * len(blend.WEIGHTS))
    assert subsets[-2:] == [None, None]  # the chosen blend and the ALS alone, on every test customer
    assert meta["searched_customers"] == 40 and meta["test_customers"] == 100


class FakePrepared:
    """`split(protocol, start)` -> a fake split whose holdout has `customers[(protocol, days)]` rows."""

    def __init__(self, customers: dict, returning: dict, first_date: str = "2019-01-01"):
        self.customers, self._returning, self.asked, self.first_date = customers, returning, [], first_date

    def split(self, protocol, start):
        days = (AS_OF - start).days + 1 if protocol == "time_window" else 0
        self.asked.append((protocol, days))
        n = self.customers.get((protocol, days))
        return None if n is None else (protocol, days, n)

    def returning(self, start):
        return self._returning.get((AS_OF - start).days + 1, 0)


class FakeWindowHoldout:
    def __init__(self, split, protocol):
        self.rows, self.protocol, self.released = np.arange(split[2]), protocol, False

    def release(self):
        self.released = True


def test_thin_time_window_is_widened_and_says_so(caplog):
    prepared = FakePrepared({("time_window", 3): 20, ("time_window", 6): 60, ("time_window", 12): 130},
                            {6: 80, 12: 150, 24: 300})
    hp = {**h.defaults(), "eval_days": 3}
    with caplog.at_level(logging.WARNING):
        holdout, info = windows.choose(hp, AS_OF, prepared, FakeWindowHoldout)
    assert len(holdout.rows) == 130 and info["eval_days"] == 12 and info["widened"]["from_days"] == 3
    assert prepared.asked == [("time_window", 3), ("time_window", 12)]  # 6 days: too few returning customers
    assert info["widened"]["tried"] == {3: {"test_customers": 20}, 6: {"returning_customers": 80},
                                        12: {"test_customers": 130}}
    assert "widened the time window to the last 12 days" in caplog.text
    assert windows.widths(3, 455) == [3, 6, 12, 24, 48, 90] and windows.widths(3, 13) == [3, 6]
    assert windows.widths(30, 40) == [30]


def test_thin_time_window_falls_back_to_the_last_basket_and_says_so(caplog):
    prepared = FakePrepared({("time_window", 3): 5, ("time_window", 6): 8, ("last_basket", 0): 400}, {6: 120},
                            first_date="2020-03-19")  # 13 days of data: windows of 3 and 6 days
    with caplog.at_level(logging.WARNING):
        holdout, info = windows.choose({**h.defaults(), "eval_days": 3}, AS_OF, prepared, FakeWindowHoldout)
    assert holdout.protocol == "last_basket" and len(holdout.rows) == 400
    assert info["fallback"]["protocol"] == "last_basket" and "(3 days: 5; 6 days: 8)" in info["fallback"]["reason"]
    assert prepared.asked == [("time_window", 3), ("time_window", 6), ("last_basket", 0)]
    assert "fell back to holding out each customer's last basket" in caplog.text
    # nothing anywhere: None (the evaluation is skipped; tune fails, see the integration tests)
    holdout, _ = windows.choose({**h.defaults(), "eval_days": 3}, AS_OF, FakePrepared({}, {}), FakeWindowHoldout)
    assert holdout is None


def test_tune_that_cannot_run_is_a_user_error_naming_why():
    from alsreco.train import evaluate

    class Empty:
        first_date = "2020-03-01"

        def split(self, protocol, start):
            return None

        def returning(self, start):
            return 0

    with pytest.raises(UserError, match="tune=true cannot run: .*held-out data or the data before it is empty"):
        evaluate.run(None, {**h.defaults(), "tune": True}, AS_OF, Empty())
    out = evaluate.run(None, h.defaults(), AS_OF, Empty())
    assert "skipped" in out.metrics and out.fitted["recency_half_life_days"] == 0.0 and out.blend["weight"] == 0.0


# ----------------------------------------------------------------- the blend in scoring and serving
def trend_model(**hp):
    m = make_model(**hp)
    n = len(PRODUCTS)
    m.product_recent = np.zeros(n, dtype=np.int32)
    m.product_trending = np.zeros(n, dtype=np.float32)
    m.product_recent[[5, 17, 9]] = [8, 10, 3]
    m.product_trending[[5, 17, 9]] = [4.0, 2.5, 1.0]
    m.metadata["blend"] = {"weight": 1.0, "signal": "recent"}
    return m


def test_recommendations_add_the_blend_and_blend_0_is_the_als_alone():
    m = trend_model()
    rec = Recommender(m)
    signal = core_trends.signal("recent", m.product_popularity, m.product_recent, m.product_trending)
    assert signal.max() == 1.0 and signal[17] == 1.0 and signal[5] == pytest.approx(0.8)
    cid = CUSTOMERS[0]  # cluster A: the ALS scores B products ~0.05
    served = rec.recommend(Request(customer_id=cid, k=3))
    alone = rec.recommend(Request(customer_id=cid, k=3, blend=0))
    assert PRODUCTS[17] in [r.product_id for r in served.recommendations]  # B's recent best seller, blended in
    assert PRODUCTS[17] not in [r.product_id for r in alone.recommendations]
    u = m.user_factors[0] @ m.item_factors.T
    for r in served.recommendations:
        i = PRODUCTS.index(r.product_id)
        assert r.score == pytest.approx(float(u[i] + 1.0 * signal[i]), abs=1e-6)
    heavy = rec.recommend(Request(customer_id=cid, k=2, blend=10))
    assert [r.product_id for r in heavy.recommendations] == [PRODUCTS[17], PRODUCTS[5]]
    # batch: the ranker adds the same blend (recommendations.csv); blend=0 there too
    ranked = rec.ranker(3).rank(np.array([0]))
    assert [PRODUCTS[i] for i in ranked.products] == [r.product_id for r in served.recommendations]
    np.testing.assert_allclose(ranked.scores, [r.score for r in served.recommendations], atol=1e-6)
    assert [PRODUCTS[i] for i in rec.ranker(3, blend=0).rank(np.array([0])).products] == \
        [r.product_id for r in alone.recommendations]
    assert [r.product_id for r in rec.recommend_block(np.array([0]), 3)[0]] == \
        [r.product_id for r in served.recommendations]


def test_similar_products_are_blended_only_when_asked():
    rec = Recommender(trend_model())
    plain = rec.recommend(Request(item_id=PRODUCTS[0], k=3))
    assert plain.recommendations == rec.recommend(Request(item_id=PRODUCTS[0], k=3, blend=0)).recommendations
    asked = rec.recommend(Request(item_id=PRODUCTS[0], k=3, blend=10))
    assert asked.recommendations[0].product_id == PRODUCTS[17]


def test_trending_list_order_rules_and_models_without_trend_arrays():
    rec = Recommender(trend_model())
    anon = rec.recommend(Request(trending=True, k=4))
    assert [r.product_id for r in anon.recommendations][:3] == [PRODUCTS[5], PRODUCTS[17], PRODUCTS[9]]
    assert [r.reason for r in anon.recommendations] == ["trending"] * 4
    assert [r.score for r in anon.recommendations][:3] == [4.0, 2.5, 1.0] and anon.customer_id is None
    # then by recent buyers, then all-time buyers: the 4th is the best seller (tie broken by product id)
    assert anon.recommendations[3].product_id == "22960"
    # a known customer's purchases are excluded (exclude_purchased), and the rules apply
    buyer = CUSTOMERS[10]  # bought B[0] = PRODUCTS[12] and B[1 + 0]
    listed = rec.recommend(Request(customer_id=buyer, trending=True, k=4, exclude_items=(PRODUCTS[5],)))
    ids = [r.product_id for r in listed.recommendations]
    assert listed.known and ids[:2] == [PRODUCTS[17], PRODUCTS[9]] and not {PRODUCTS[12], PRODUCTS[13]} & set(ids)
    # an old model (no trend arrays): a list still comes, in best-seller order, and no blend
    old = Recommender(make_model())
    assert old.blend_weight == 0.0 and old.bias(None) is None
    assert [r.product_id for r in old.recommend(Request(trending=True, k=2)).recommendations] == ["22960", "85123A"]


def test_block_ranker_bias_is_added_before_the_rules():
    m = trend_model()
    bias = np.linspace(0, 1, len(PRODUCTS)).astype(np.float32)
    plain = BlockRanker(m.user_factors, m.item_factors, m.purchases, 5, forced=np.array([3]))
    biased = BlockRanker(m.user_factors, m.item_factors, m.purchases, 5, forced=np.array([3]), bias=bias)
    chunk = np.arange(len(CUSTOMERS))
    a, b = plain.rank(chunk), biased.rank(chunk)
    np.testing.assert_allclose(b.scores, m.user_factors[b.customers].__mul__(1).dot(m.item_factors.T)[
        np.arange(len(b.products)), b.products] + bias[b.products], atol=1e-6)
    assert not np.array_equal(a.products, b.products)


def test_relevant_take_selects_rows():
    rel = metrics.Relevant.from_sets([{1, 2}, {3}, set(), {4, 5, 6}])
    sub = rel.take(np.array([3, 1]))
    assert sub.indptr.tolist() == [0, 3, 4] and sub.indices.tolist() == [4, 5, 6, 3]


def test_default_rules_are_unchanged_by_the_trend_fields():
    assert Recommender(trend_model()).rules_for(Request(customer_id="x", trending=True, blend=0.3)) == \
        Rules.from_hyperparameters(h.defaults())
