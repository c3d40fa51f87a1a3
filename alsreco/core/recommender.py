"""Top-N products for customers, with business rules, over the float32 factors of a `Model`.

Pure numpy: no Spark, no disk I/O after construction. Everything that does not depend on
the request (id -> index dicts, popularity order, new-product set, YᵀY for fold-in) is
computed once in `Recommender.__init__`; a block of customers is scored with one matrix
product and cut with `np.argpartition`.

The rules and their precedence (the same for the HTTP API and for `train`) are in core/rules.py.

Similar products (`Request.item_id`): the same rules, with the cosine similarity to the item
(core/similar.py) as the score and `similar` as the reason; there is no customer, so
`exclude_purchased` does not apply, and the item itself is never in its own list (not even when
forced). An unknown item gets best sellers (`popular`), like an unknown customer.

A known customer with `items` (this session's views / basket) is scored with a factor re-solved
from the stored ratings plus the session items (`session_factor`), not the trained one.

The trend blend (core/trends.py, docs/trends.md): a customer's scores are the ALS scores plus
weight x the blend signal (the model's `metadata.json` blend, or the request's `blend`), before the
rules, so forced, new-product and model picks all rank by the sum. Similar products are blended only
when the request asks (`blend`): the model's weight was chosen for customer scores, not cosines.
`trending: true` asks for a Trending-Now list instead (reason `trending`, score the trending score),
under the same rules (a known customer's purchases excluded).
"""
from __future__ import annotations

import dataclasses
import threading
from typing import Iterable, Sequence

import numpy as np

from . import hyperparameters, trends
from .artifact import Model
from .catalog_rules import CatalogRules, batch_spec
from .filters import FilterError, Pairs, removed
from .foldin import UserStep
from .lists import pick
from .rules import Plan, Prediction, Recommendation, Request, Rules
from .scoring import BLOCK_CELLS as BATCH_CELLS
from .scoring import BlockRanker
from .similar import unit_rows

BLOCK_ROWS = 1024  # at most this many customers per matrix product ...
PLAN_CACHE_SIZE = 256  # resolved rule sets kept per worker
BLOCK_CELLS = 1 << 22  # ... and at most this many scores (16 MB of float32 per score matrix)
MODEL, SIMILAR, COLD, TRENDING = "model", "similar", "popular", "trending"  # how a block is scored = its reason
_NONE = np.empty(0, dtype=np.int64)


class Recommender:
    def __init__(self, model: Model):
        self.model = model
        self.version = model.version
        meta = model.metadata
        hp = hyperparameters.defaults()
        hp.update(meta.get("hyperparameters") or {})
        als = meta.get("als") or {}
        self.default_k = int(hp["reco_item"])
        self.default_rules = Rules.from_hyperparameters(hp)
        self.implicit = bool(als.get("implicit_prefs", hp["implicit_prefs"]))
        self.reg_param = float(als.get("reg_param", hp["reg_param"]))
        self.alpha = float(als.get("alpha", hp["alpha"]))
        self.fits = int(als.get("fits", 1))

        self.user_factors = np.asarray(model.user_factors)  # views over the mmapped files
        self.item_factors = np.asarray(model.item_factors)
        self.product_ids: list[str] = [str(x) for x in model.product_ids.tolist()]
        self.product_names: list[str] = [str(x) for x in model.product_names.tolist()]
        self.customer_index = _index([str(x) for x in model.customer_ids.tolist()])
        self.product_index = _index(self.product_ids)
        n_products = len(self.product_ids)
        popularity = np.asarray(model.product_popularity, dtype=np.int64)
        # best sellers first; ties by product id so the order never depends on file order
        self.popular_order = np.lexsort((np.asarray(self.product_ids), -popularity))
        self.popularity_score = (popularity / max(1, len(self.customer_index))).astype(np.float32)
        self.popularity_key = np.empty(n_products, dtype=np.float32)  # unique keys: no ties
        self.popularity_key[self.popular_order] = np.arange(n_products, 0, -1, dtype=np.float32)
        self.new_products = np.asarray(model.new_products, dtype=np.int64)
        blend = meta.get("blend") or {}
        self.blend_weight = float(blend.get("weight", 0.0))
        self.blend_signal = trends.signal(blend.get("signal", "recent"), popularity, model.product_recent,
                                          model.product_trending)
        self.trending_score = np.zeros(n_products, dtype=np.float32) if model.product_trending is None \
            else np.asarray(model.product_trending, dtype=np.float32)
        trending_order = trends.trending_order(model.product_trending, model.product_recent, popularity,
                                               np.asarray(self.product_ids))
        self.trending_key = np.empty(n_products, dtype=np.float32)  # unique keys, like popularity_key
        self.trending_key[trending_order] = np.arange(n_products, 0, -1, dtype=np.float32)
        self.user_step = UserStep.of(self.item_factors, self.implicit, self.alpha, self.reg_param, self.fits)
        self.unit_items = unit_rows(self.item_factors)  # float32, |row| = 1: cosine = one matrix product
        self.cat = CatalogRules(model, self.product_index, hp, self.product_ids)  # filters, slots, attributes
        self._plans: dict[Rules, Plan] = {}
        self._plans_lock = threading.Lock()  # gunicorn gthread workers serve requests in threads

    # ----------------------------------------------------------------- public API
    def recommend(self, request: Request) -> Prediction:
        """Top-N for one customer: known (its factor; re-solved with `items`), unknown with `items`
        (fold-in) or unknown without (popularity); or, with `item_id`, the products most similar to it."""
        return self.recommend_many([request])[0]

    def recommend_many(self, requests: Sequence[Request]) -> list[Prediction]:
        """Like `recommend` for each request, in order; requests sharing k, rules and kind
        (customer factor, similar products, popularity) are scored together as one block."""
        groups: dict[tuple, list[int]] = {}
        prepared = []
        for pos, req in enumerate(requests):
            k = self.default_k if req.k is None else int(req.k)
            rules = self.rules_for(req)
            row = self._prepare_item(req) if req.item_id is not None else self._prepare_customer(req)
            prepared.append(row)
            groups.setdefault((k, rules, row[0], self.blend_for(req, row[0])), []).append(pos)
        out: list[Prediction | None] = [None] * len(requests)
        for (k, rules, kind, weight), positions in groups.items():
            plan = self.plan(rules)
            step = self._block_rows()
            for start in range(0, len(positions), step):
                chunk = [prepared[p] for p in positions[start:start + step]]
                if kind in (COLD, TRENDING):
                    shown = None
                elif kind == SIMILAR:
                    shown = self.unit_items[[row[2] for row in chunk]] @ self.unit_items.T
                else:
                    shown = self._scores([row[2] for row in chunk])
                if weight and shown is not None:
                    shown += np.float32(weight) * self.blend_signal
                masked = [row[3] if kind == SIMILAR or plan.exclude_purchased else _NONE for row in chunk]
                drop = [row[2] for row in chunk] if kind == SIMILAR else None
                bought = [_NONE if kind == SIMILAR else row[3] for row in chunk]
                extras = [row[1] if self.cat.asks_more(row[1]) else None for row in chunk]
                lists = self._rank(shown, masked, plan, k, kind, drop, bought, extras)
                for p, row, recs in zip(positions[start:start + step], chunk, lists):
                    req, known, unknown = row[1], row[4], row[5]
                    out[p] = Prediction(req.customer_id, known, recs, _unique(unknown + plan.unknown),
                                        item_id=req.item_id, fields=req.fields)
        return out  # type: ignore[return-value]

    def _prepare_customer(self, req: Request) -> tuple:
        """(kind, request, factor, products masked under exclude_purchased, known, unknown ids)."""
        idx = self.customer_index.get(req.customer_id) if req.customer_id is not None else None
        basket, unknown = self._resolve(req.items)
        vector = None
        if req.trending:  # no factor needed: the list is the Trending-Now order
            bought = self.model.purchases.row(idx) if idx is not None else _NONE
            return TRENDING, req, None, np.union1d(bought, basket) if len(basket) else bought, idx is not None, unknown
        if idx is not None:
            vector = self.session_factor(idx, basket) if len(basket) else self.user_factors[idx]
        elif len(basket):
            vector = self.fold_in(basket)
        bought = self.model.purchases.row(idx) if idx is not None else _NONE
        bought = np.union1d(bought, basket) if len(basket) else bought
        return (COLD if vector is None else MODEL), req, vector, bought, idx is not None, unknown

    def _prepare_item(self, req: Request) -> tuple:
        """(kind, request, product index, products masked (the item itself), known, unknown ids)."""
        idx = self.product_index.get(req.item_id)
        if idx is None:  # unknown item: best sellers, like an unknown customer
            return COLD, req, None, _NONE, False, [req.item_id]
        return SIMILAR, req, idx, np.array([idx], dtype=np.int64), True, []

    def recommend_block(self, customer_indices: np.ndarray, n: int,
                        rules: Rules | None = None) -> list[list[Recommendation]]:
        """Batch API for `train`: top-`n` for known customers given by model index.

        Returns one list of `Recommendation` per index, in the order given, best first
        (forced items, then new products, then model picks; see the module docstring).
        `rules=None` uses the defaults the model was trained with; the model's blend applies. Memory is
        bounded by scoring at most `BLOCK_ROWS` customers (and `BLOCK_CELLS` scores) per matrix product.
        """
        plan = self.plan(self.default_rules if rules is None else rules)
        bias = self.bias(None)
        idx = np.asarray(customer_indices, dtype=np.int64)
        out: list[list[Recommendation]] = []
        step = self._block_rows()
        for start in range(0, len(idx), step):
            chunk = idx[start:start + step]
            bought = [self.model.purchases.row(int(i)) if plan.exclude_purchased else _NONE for i in chunk]
            scores = self.user_factors[chunk] @ self.item_factors.T
            out.extend(self._rank(scores if bias is None else scores + bias, bought, plan, int(n), MODEL))
        return out

    def ranker(self, n: int, rules: Rules | None = None, cells: int = BATCH_CELLS,
               max_rows: int | None = None, threads: int = 1, blend: float | None = None) -> BlockRanker:
        """Vectorised batch API: a `BlockRanker` giving, for blocks of known customers (model
        indices), the same lists as `recommend_block` as flat arrays (core/scoring.py), scoring
        at most `cells` customers x products per block and `max_rows` customers; `threads` for
        each block's top-k; `blend` the trend blend's weight (None = the model's)."""
        plan = self.plan(self.default_rules if rules is None else rules)
        row_removed = None
        if plan.dynamic:
            purchases, n_products = self.model.purchases, len(self.product_ids)

            def row_removed(chunk: np.ndarray) -> np.ndarray:
                rows, products = purchases.block_cells(chunk)
                return removed(plan.dynamic, n_products, Pairs(rows, products, len(chunk)))

        return BlockRanker(self.user_factors, self.item_factors, self.model.purchases, n,
                           blocked=plan.blocked, forced=plan.forced, new=plan.new, include_new=plan.include_new,
                           exclude_purchased=plan.exclude_purchased, cells=cells, max_rows=max_rows,
                           threads=threads, bias=self.bias(blend), row_removed=row_removed)

    def blend_for(self, req: Request, kind: str) -> float:
        """The blend weight of a request scored as `kind`: the request's, else the model's for a customer's
        scores; similar products only when asked; none for popularity and Trending-Now lists."""
        if kind == MODEL:
            return self.blend_weight if req.blend is None else float(req.blend)
        return float(req.blend or 0.0) if kind == SIMILAR else 0.0

    def bias(self, blend: float | None) -> np.ndarray | None:
        """weight x the blend signal per product (None when the weight is 0); `blend` None = the model's."""
        weight = self.blend_weight if blend is None else float(blend)
        return np.float32(weight) * self.blend_signal if weight > 0 else None

    def batch_rules(self) -> Rules:
        """The model's default rules with its `batch_filter` (train's recommendations.csv)."""
        hp = hyperparameters.defaults()
        hp.update(self.model.metadata.get("hyperparameters") or {})
        spec = batch_spec(hp)
        return self.default_rules if spec is None else dataclasses.replace(self.default_rules, filters=spec)

    def check(self, req: Request) -> None:
        """Raise FilterError (a 400) for what only the model can tell is wrong in `req`: a filter
        naming an unknown attribute or a value of the wrong type, a field it has not."""
        try:
            self.plan(self.rules_for(req), again=False)  # the request itself asks for it next
        except FilterError as exc:
            raise FilterError(f"filter: {exc}") from None
        self.cat.check(req)

    def rules_for(self, req: Request) -> Rules:
        return self.default_rules.for_request(req)

    def fold_in(self, items: np.ndarray, ratings: np.ndarray | None = None) -> np.ndarray:
        """A customer factor from `items` (product indices) with `ratings` (default 1 each): one
        ALS least-squares step against the fixed item factors (core/foldin.py)."""
        return self.user_step.solve(items, ratings)

    def session_factor(self, customer: int, session: np.ndarray) -> np.ndarray:
        """A known customer's factor re-solved from the stored ratings (purchases.npz) plus this
        session's items as extra events (core/foldin.py)."""
        p = self.model.purchases
        return self.user_step.with_session(p.row(customer), p.row_data(customer), session)

    def plan(self, rules: Rules, again: bool = True) -> Plan:
        """`rules` resolved to product indices; cached, since most requests share a few rule sets
        (resolving costs a pass over the catalogue: ~8 ms at 100k products). A plan with lazy filters
        (a request's own values) used by a second request (`again`: not `check`, which the same request
        calls first) gets their whole mask once (`Plan.whole`)."""
        cached = self._plans.get(rules)
        if cached is not None and cached.lazy and again:
            cached.uses += 1
        if cached is None or cached.uses > 1:
            cached = self._plan(rules) if cached is None else cached.whole()
            cached.uses = int(again)
            with self._plans_lock:
                if len(self._plans) >= PLAN_CACHE_SIZE and rules not in self._plans:
                    self._plans.pop(next(iter(self._plans)))
                self._plans[rules] = cached
        return cached

    def _plan(self, rules: Rules) -> Plan:
        """Filters join the (cached) plan of the same rules without them, lazily (rules.Plan): a request's
        own filter values cost nothing proportional to the catalogue until a block of rows needs the mask."""
        if rules.filters is None:
            return Plan.resolve(rules, self._resolve, len(self.product_ids), self.popular_order, self.new_products)
        return self.plan(dataclasses.replace(rules, filters=None)).with_filters(self.cat.filters.bind(rules.filters))

    # ----------------------------------------------------------------- internals
    def _scores(self, factors: list[np.ndarray]) -> np.ndarray:
        """rows x products scores for customer factors; one row is a matrix-vector product."""
        if len(factors) == 1:
            return (self.item_factors @ np.asarray(factors[0], dtype=np.float32))[None, :]
        return np.stack(factors).astype(np.float32) @ self.item_factors.T

    def _block_rows(self) -> int:
        return max(1, min(BLOCK_ROWS, BLOCK_CELLS // len(self.product_ids)))

    def _resolve(self, ids: Iterable[str], keep_order: bool = False) -> tuple[np.ndarray, list[str]]:
        if not ids:
            return _NONE, []
        known, unknown = [], []
        for pid in ids:
            i = self.product_index.get(pid)
            (unknown if i is None else known).append(pid if i is None else i)
        arr = np.asarray(list(dict.fromkeys(known)), dtype=np.int64)
        return (arr if keep_order else np.unique(arr)), unknown

    def _rank(self, shown: np.ndarray | None, masked: list[np.ndarray], plan: Plan, n: int,
              kind: str, drop: list[int] | None = None, bought: list[np.ndarray] | None = None,
              extras: list[Request | None] | None = None) -> list[list[Recommendation]]:
        """Lists for a block of rows. `shown` (rows x products) are the scores, None = popularity;
        `masked[r]` are never picked for row r except when forced; `drop[r]` (similar products: the
        item itself) is never listed, not even when forced; `bought[r]` is what the plan's filters on
        Purchases.* read; `extras[r]`, a request asking for promotion / exploration slots or fields."""
        rows = len(masked)
        if shown is None and kind == TRENDING:  # Trending-Now order, unique keys
            shown = np.broadcast_to(self.trending_score, (rows, len(self.product_ids)))
            keys = np.tile(self.trending_key, (rows, 1))
        elif shown is None:  # no factor: popularity, with unique keys so ties are deterministic
            shown = np.broadcast_to(self.popularity_score, (rows, len(self.product_ids)))
            keys = np.tile(self.popularity_key, (rows, 1))
        else:
            keys = shown.copy()
        gone = removed(plan.dynamic, len(self.product_ids), bought or [_NONE] * rows) if plan.dynamic else None
        arrange = None
        if extras is not None and any(e is not None for e in extras):
            def arrange(r: int, picks: list[int], reasons: list[str], n_forced: int, pool: np.ndarray):
                req = extras[r]
                if req is None:
                    return picks, reasons, ()
                picks, reasons = self.cat.arrange(req, picks, reasons, n_forced, n, pool,
                                                  (bought or [_NONE] * rows)[r])
                return picks, reasons, req.fields

        return pick(keys, shown, masked, plan, n, kind, drop, self.product_ids, self.product_names, gone,
                    arrange, self.cat.attributes)

def _index(ids: list[str]) -> dict[str, int]:
    return {pid: i for i, pid in enumerate(ids)}


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))
