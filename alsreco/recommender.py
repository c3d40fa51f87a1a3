"""Top-N products for customers, with business rules, over the float32 factors of a `Model`.

Pure numpy: no Spark, no disk I/O after construction. Everything that does not depend on
the request (id -> index dicts, popularity order, new-product set, YᵀY for fold-in) is
computed once in `Recommender.__init__`; a block of customers is scored with one matrix
product and cut with `np.argpartition`.

Rules and their precedence (the same for the HTTP API and for `train`):

1. The pool is every product, or only `candidates` when given.
2. Removed from the pool: `exclude_items`, the top-`exclude_popular` best sellers (by
   distinct customers, ties by product id) and, when `exclude_purchased`, what the customer
   bought plus the request's `items` (basket).
3. `include_items` are forced in first, in request order, with reason `forced`. They are
   explicit, so they survive steps 1-2 except `exclude_items`, which beats everything.
4. Then up to `include_new` new products (`model.new_products`) taken from the pool, the
   best-scoring ones for this customer, with reason `new_product`.
5. The remaining slots up to N are the best-scoring products left in the pool, reason
   `model` (or `popular` when the customer has no factor: unknown and no known basket).

All filtering happens before the top-N cut, so a list is short only when the pool is.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from . import hyperparameters
from .artifact import Model

BLOCK_ROWS = 1024  # at most this many customers per matrix product ...
PLAN_CACHE_SIZE = 256  # resolved rule sets kept per worker
BLOCK_CELLS = 1 << 22  # ... and at most this many scores (16 MB of float32 per score matrix)


@dataclass(frozen=True)
class Rules:
    """Business rules; product ids are strings as in `model.product_ids`."""

    exclude_purchased: bool = True  # a.k.a. filter_already_liked_items
    exclude_popular: int = 0
    include_new: int = 0
    exclude_items: tuple[str, ...] = ()  # a.k.a. filter_items
    include_items: tuple[str, ...] = ()
    candidates: tuple[str, ...] | None = None  # None = the whole catalogue

    @classmethod
    def from_hyperparameters(cls, hp: Mapping[str, Any]) -> "Rules":
        d = hyperparameters.defaults()
        get = lambda name: hp.get(name, d[name])  # noqa: E731
        return cls(exclude_purchased=bool(get("exclude_purchased")),
                   exclude_popular=int(get("exclude_popular")), include_new=int(get("include_new")))


@dataclass(frozen=True)
class Request:
    """One customer. `None` rule fields fall back to the model's defaults."""

    customer_id: str | None = None
    k: int | None = None
    items: tuple[str, ...] = ()  # basket / browsing history
    exclude_purchased: bool | None = None
    exclude_popular: int | None = None
    include_new: int | None = None
    exclude_items: tuple[str, ...] = ()
    include_items: tuple[str, ...] = ()
    candidates: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Recommendation:
    product_id: str
    score: float
    reason: str  # model | new_product | forced | popular
    name: str = ""


@dataclass
class Prediction:
    customer_id: str | None
    known: bool
    recommendations: list[Recommendation]
    unknown_items: list[str] = field(default_factory=list)


@dataclass
class _Plan:
    """Rules resolved to product indices."""

    blocked: np.ndarray  # bool (n_products,): not in the pool
    forced: np.ndarray  # int, request order, never blocked by exclude_items
    new: np.ndarray  # int, new products still in the pool and not forced
    exclude_purchased: bool
    include_new: int
    unknown: list[str]


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
        y = self.item_factors.astype(np.float64)
        self.yty = y.T @ y
        self._plans: dict[Rules, _Plan] = {}

    # ----------------------------------------------------------------- public API
    def recommend(self, request: Request) -> Prediction:
        """Top-N for one customer: known (its factor), unknown with `items` (fold-in) or
        unknown without (popularity)."""
        return self.recommend_many([request])[0]

    def recommend_many(self, requests: Sequence[Request]) -> list[Prediction]:
        """Like `recommend` for each request, in order; requests sharing k and rules are
        scored together as one block."""
        groups: dict[tuple, list[int]] = {}
        prepared = []
        for pos, req in enumerate(requests):
            k = self.default_k if req.k is None else int(req.k)
            rules = self.rules_for(req)
            idx = self.customer_index.get(req.customer_id) if req.customer_id is not None else None
            basket, unknown = self._resolve(req.items)
            vector = None
            if idx is not None:
                vector = self.user_factors[idx]
            elif len(basket):
                vector = self.fold_in(basket)
            bought = self.model.purchases.row(idx) if idx is not None else np.empty(0, np.int32)
            bought = np.union1d(bought, basket) if len(basket) else bought
            prepared.append((req, idx is not None, vector, bought, unknown))
            groups.setdefault((k, rules, vector is None), []).append(pos)
        out: list[Prediction | None] = [None] * len(requests)
        for (k, rules, cold), positions in groups.items():
            plan = self.plan(rules)
            step = self._block_rows()
            for start in range(0, len(positions), step):
                chunk = positions[start:start + step]
                vectors = None if cold else np.stack([prepared[p][2] for p in chunk]).astype(np.float32)
                lists = self._rank(vectors, [prepared[p][3] for p in chunk], plan, k)
                for p, recs in zip(chunk, lists):
                    req, known, _, _, unknown = prepared[p]
                    out[p] = Prediction(req.customer_id, known, recs, _unique(unknown + plan.unknown))
        return out  # type: ignore[return-value]

    def recommend_block(self, customer_indices: np.ndarray, n: int,
                        rules: Rules | None = None) -> list[list[Recommendation]]:
        """Batch API for `train`: top-`n` for known customers given by model index.

        Returns one list of `Recommendation` per index, in the order given, best first
        (forced items, then new products, then model picks; see the module docstring).
        `rules=None` uses the defaults the model was trained with. Memory is bounded by
        scoring at most `BLOCK_ROWS` customers (and `BLOCK_CELLS` scores) per matrix product.
        """
        plan = self.plan(self.default_rules if rules is None else rules)
        idx = np.asarray(customer_indices, dtype=np.int64)
        out: list[list[Recommendation]] = []
        step = self._block_rows()
        for start in range(0, len(idx), step):
            chunk = idx[start:start + step]
            bought = [self.model.purchases.row(int(i)) for i in chunk]
            out.extend(self._rank(self.user_factors[chunk], bought, plan, int(n)))
        return out

    def rules_for(self, req: Request) -> Rules:
        d = self.default_rules
        return dataclasses.replace(
            d,
            exclude_purchased=d.exclude_purchased if req.exclude_purchased is None else req.exclude_purchased,
            exclude_popular=d.exclude_popular if req.exclude_popular is None else req.exclude_popular,
            include_new=d.include_new if req.include_new is None else req.include_new,
            exclude_items=tuple(req.exclude_items), include_items=tuple(req.include_items),
            candidates=None if req.candidates is None else tuple(req.candidates))

    def fold_in(self, items: np.ndarray) -> np.ndarray:
        """A factor for a customer who bought `items` (product indices, rating 1 each):
        one ALS least-squares step against the fixed item factors, regularised like Spark
        (λ·n). Implicit: (YᵀY + αY_IᵀY_I + λnI) x = (1+α) Y_Iᵀ1; explicit: ridge."""
        y = self.item_factors[np.unique(items)].astype(np.float64)
        n, rank = y.shape
        ridge = self.reg_param * n * np.eye(rank)
        if self.implicit:
            a = self.yty + self.alpha * (y.T @ y) + ridge
            b = (1.0 + self.alpha) * y.sum(axis=0)
        else:
            a = y.T @ y + ridge
            b = y.sum(axis=0)
        try:
            x = np.linalg.solve(a, b)
        except np.linalg.LinAlgError:  # singular (λ = 0 and too few items): least norm
            x = np.linalg.lstsq(a, b, rcond=None)[0]
        return x.astype(np.float32)

    def plan(self, rules: Rules) -> _Plan:
        """`rules` resolved to product indices; cached, since most requests share a few rule sets
        (resolving costs a pass over the catalogue: ~8 ms at 100k products)."""
        cached = self._plans.get(rules)
        if cached is None:
            if len(self._plans) >= PLAN_CACHE_SIZE:
                self._plans.pop(next(iter(self._plans)))
            cached = self._plans[rules] = self._plan(rules)
        return cached

    def _plan(self, rules: Rules) -> _Plan:
        n_products = len(self.product_ids)
        excluded, unknown = self._resolve(rules.exclude_items)
        forced, unknown_f = self._resolve(rules.include_items, keep_order=True)
        forced = forced[~np.isin(forced, excluded)]
        blocked = np.zeros(n_products, dtype=bool)
        if rules.candidates is not None:
            pool, unknown_c = self._resolve(rules.candidates)
            blocked[:] = True
            blocked[pool] = False
            unknown += unknown_c
        blocked[excluded] = True
        blocked[self.popular_order[:max(0, int(rules.exclude_popular))]] = True
        new = self.new_products[~blocked[self.new_products] & ~np.isin(self.new_products, forced)]
        return _Plan(blocked, forced, new, bool(rules.exclude_purchased), max(0, int(rules.include_new)),
                     _unique(unknown_f + unknown))

    # ----------------------------------------------------------------- internals
    def _block_rows(self) -> int:
        return max(1, min(BLOCK_ROWS, BLOCK_CELLS // len(self.product_ids)))

    def _resolve(self, ids: Iterable[str], keep_order: bool = False) -> tuple[np.ndarray, list[str]]:
        known, unknown = [], []
        for pid in ids:
            i = self.product_index.get(pid)
            (unknown if i is None else known).append(pid if i is None else i)
        arr = np.asarray(list(dict.fromkeys(known)), dtype=np.int64)
        return (arr if keep_order else np.unique(arr)), unknown

    def _rank(self, vectors: np.ndarray | None, bought: list[np.ndarray], plan: _Plan,
              n: int) -> list[list[Recommendation]]:
        rows = len(bought)
        if vectors is None:  # no factor: popularity, with unique keys so ties are deterministic
            shown = np.broadcast_to(self.popularity_score, (rows, len(self.product_ids)))
            keys = np.tile(self.popularity_key, (rows, 1))
            reason = "popular"
        else:
            shown = vectors @ self.item_factors.T
            keys = shown.copy()
            reason = "model"
        keys[:, plan.blocked] = -np.inf
        if plan.exclude_purchased and rows:
            lens = [len(b) for b in bought]
            keys[np.repeat(np.arange(rows), lens), np.concatenate(bought).astype(np.int64)] = -np.inf
        forced = plan.forced[:n]
        keys[:, forced] = -np.inf
        picks: list[list[tuple[int, str]]] = [[(int(f), "forced") for f in forced] for _ in range(rows)]
        n_new = min(plan.include_new, n - len(forced))
        if n_new > 0 and len(plan.new):
            new_keys = keys[:, plan.new]
            order = np.argsort(-new_keys, axis=1, kind="stable")[:, :n_new]
            for r in range(rows):
                chosen = [int(plan.new[j]) for j in order[r] if np.isfinite(new_keys[r, j])]
                picks[r] += [(c, "new_product") for c in chosen]
                keys[r, chosen] = -np.inf
        for r, best in enumerate(_top(keys, n - len(forced))):
            picks[r] += [(int(i), reason) for i in best][:n - len(picks[r])]
        return [[self._recommendation(i, float(shown[r, i]), why) for i, why in row]
                for r, row in enumerate(picks)]

    def _recommendation(self, i: int, score: float, reason: str) -> Recommendation:
        return Recommendation(self.product_ids[i], round(score, 6), reason, self.product_names[i])


def _top(keys: np.ndarray, n: int) -> list[np.ndarray]:
    """Per row, the indices of the `n` largest finite keys, best first (ties by index)."""
    rows, cols = keys.shape
    n = min(max(n, 0), cols)
    if n == 0:
        return [np.empty(0, np.int64)] * rows
    part = np.argpartition(keys, cols - n, axis=1)[:, cols - n:] if n < cols else \
        np.tile(np.arange(cols), (rows, 1))
    vals = np.take_along_axis(keys, part, axis=1)
    out = []
    for r in range(rows):
        order = np.lexsort((part[r], -vals[r]))
        out.append(part[r][order][np.isfinite(vals[r][order])])
    return out


def _index(ids: list[str]) -> dict[str, int]:
    return {pid: i for i, pid in enumerate(ids)}


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))
