"""What a recommendation request asks for and what it gets back: plain frozen dataclasses
shared by the recommender, the HTTP codecs and batch scoring, and the rules resolved to a `Plan`.

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
6. A filter (core/filters) beats everything: what it takes out is never listed, forced and new
   products included (docs/catalog.md says how it is evaluated). Promotion and exploration slots
   (core/slots.py) come from the pool left after all of these.

All filtering happens before the top-N cut, so a list is short only when the pool is.
"""
from __future__ import annotations

import copy
import dataclasses
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from . import hyperparameters
from .filters.operands import Spec


@dataclass(frozen=True)
class Rules:
    """Business rules; product ids are strings as in `model.product_ids`."""

    exclude_purchased: bool = True  # a.k.a. filter_already_liked_items
    exclude_popular: int = 0
    include_new: int = 0
    exclude_items: tuple[str, ...] = ()  # a.k.a. filter_items
    include_items: tuple[str, ...] = ()
    candidates: tuple[str, ...] | None = None  # None = the whole catalogue
    filters: Spec | None = None  # filter expressions / names over the catalogue (core/filters)

    def for_request(self, req: "Request") -> "Rules":
        """These (a model's default) rules with what `req` overrides; the defaults themselves for the
        common request, so plans cached by rules are shared."""
        if (req.item_id is None and req.exclude_purchased is None and req.exclude_popular is None
                and req.include_new is None and not req.exclude_items and not req.include_items
                and req.candidates is None and req.filters is None):
            return self
        if req.item_id is not None:  # no customer: nothing was bought
            exclude_purchased = False
        else:
            exclude_purchased = self.exclude_purchased if req.exclude_purchased is None else req.exclude_purchased
        return dataclasses.replace(
            self, exclude_purchased=exclude_purchased,
            exclude_popular=self.exclude_popular if req.exclude_popular is None else req.exclude_popular,
            include_new=self.include_new if req.include_new is None else req.include_new,
            exclude_items=tuple(req.exclude_items), include_items=tuple(req.include_items),
            candidates=None if req.candidates is None else tuple(req.candidates), filters=req.filters)

    @classmethod
    def from_hyperparameters(cls, hp: Mapping[str, Any]) -> "Rules":
        d = hyperparameters.defaults()
        get = lambda name: hp.get(name, d[name])  # noqa: E731
        return cls(exclude_purchased=bool(get("exclude_purchased")),
                   exclude_popular=int(get("exclude_popular")), include_new=int(get("include_new")))


PENALTY_SHARE = 16  # a plan blocking more than 1/16 of the products carries a penalty row
NEG_INF_BITS = np.uint32(0xFF800000)  # float32 -inf; 0 bits are 0.0


@dataclass
class Plan:
    """Rules resolved to product indices (the precedence above).

    A request's filters on product attributes are `lazy` (`with_filters`): not in `pool_blocked`, so a
    one-customer list evaluates them on its best-scored candidates only (lists.pick, topk.top_k_where);
    `blocked` is the whole truth, their mask included, built on first use (blocks of rows, batch)."""

    pool_blocked: np.ndarray  # bool (n_products,): not in the pool, the lazy filters aside
    forced: np.ndarray  # int, request order, never blocked by exclude_items
    new: np.ndarray  # int, new products still in the pool and not forced
    exclude_purchased: bool
    include_new: int
    unknown: list[str]
    dynamic: list = field(default_factory=list)  # filters on the customer's own purchases (per row)
    lazy: list = field(default_factory=list)  # static filters evaluated where needed (Bound.removed_at)

    def __post_init__(self) -> None:
        self.blocked_idx = np.flatnonzero(self.pool_blocked)  # the same, as indices (cheap when few)
        # 0 / -inf per product, for plans blocking much of the catalogue (a selective filter): one
        # add costs ~0.02 ms at 100k products where the scattered write of 75k indices costs ~0.25 ms
        self.penalty = None
        if len(self.blocked_idx) * PENALTY_SHARE > len(self.pool_blocked):
            self.penalty = (self.pool_blocked.astype(np.uint32) * NEG_INF_BITS).view(np.float32)
        self._lazy_mask: np.ndarray | None = None
        self._blocked: np.ndarray | None = None
        self.uses = 0  # requests ranked with this plan (Recommender.plan: a lazy plan used twice gets whole)

    def lazy_mask(self) -> np.ndarray:
        """What the lazy filters take out, over all products (once)."""
        if self._lazy_mask is None:
            out = np.zeros(len(self.pool_blocked), dtype=bool)
            for b in self.lazy:
                out |= b.removed()
            self._lazy_mask = out
        return self._lazy_mask

    @property
    def blocked(self) -> np.ndarray:
        """bool (n_products,): not in the pool, every filter included (once)."""
        if not self.lazy:
            return self.pool_blocked
        if self._blocked is None:
            self._blocked = self.pool_blocked | self.lazy_mask()
        return self._blocked

    def with_filters(self, bounds: list) -> "Plan":
        """This plan (of the same rules without filters) with a request's bound filters: those on product
        attributes `lazy` (out of the forced and new products now, of the candidates when ranking), those
        on the customer's purchases per row. Costs nothing proportional to the catalogue."""
        static = [b for b in bounds if b.static]
        out = copy.copy(self)
        out.forced = self.forced[~removed_at(static, self.forced)]
        # new products are listed only with include_new > 0 (here and in every batch ranker): when none are
        # asked for, none are evaluated (a request's filter costs ~0.02 ms per 50 products)
        out.new = self.new[~removed_at(static, self.new)] if self.include_new > 0 else self.new[:0]
        out.dynamic = [*self.dynamic, *(b for b in bounds if not b.static)]
        out.lazy, out._lazy_mask, out._blocked = [*self.lazy, *static], None, None
        return out

    def first_groups(self, k: int) -> int:
        """How many groups `topk.top_k_where` starts with for k products: about twice the candidates k
        survivors need at the share of products these lazy filters kept before (one round, most often)."""
        share = 1.0
        for b in self.lazy:
            share *= b.compiled.kept_share
        return int(min(2 * k / max(share, 1e-3), 1 << 30)) + 1

    def whole(self) -> "Plan":
        """This plan with its lazy filters in the pool mask: for rules asked again (a named filter, repeated
        values), where one mask over the catalogue is cheaper than ranking candidates on every request."""
        if not self.lazy:
            return self
        return Plan(self.blocked, self.forced, self.new, self.exclude_purchased, self.include_new, self.unknown,
                    self.dynamic)

    @classmethod
    def resolve(cls, rules: Rules, resolve: Callable[..., tuple[np.ndarray, list[str]]], n_products: int,
                popular_order: np.ndarray, new_products: np.ndarray,
                bind: Callable[[Spec], list] | None = None) -> "Plan":
        """`resolve(ids, keep_order=False)` -> (product indices, unknown ids); `popular_order` is
        best sellers first; `new_products` the model's new products; `bind(spec)` the request's
        filters bound to their values (FilterError: a 400). A filter beats everything, forced
        products included."""
        excluded, unknown = resolve(rules.exclude_items)
        forced, unknown_f = resolve(rules.include_items, keep_order=True)
        bounds = bind(rules.filters) if rules.filters is not None and bind is not None else []
        gone = np.zeros(n_products, dtype=bool)  # what exclude_items and the filters take out
        gone[excluded] = True
        for b in bounds:
            if b.static:
                gone |= b.removed()
        forced = forced[~gone[forced]]
        blocked = np.zeros(n_products, dtype=bool)
        if rules.candidates is not None:
            pool, unknown_c = resolve(rules.candidates)
            blocked[:] = True
            blocked[pool] = False
            unknown += unknown_c
        blocked |= gone
        blocked[popular_order[:max(0, int(rules.exclude_popular))]] = True
        new = new_products[~blocked[new_products] & ~np.isin(new_products, forced)]
        return cls(blocked, forced, new, bool(rules.exclude_purchased), max(0, int(rules.include_new)),
                   _unique(unknown_f + unknown), [b for b in bounds if not b.static])


def removed_at(bounds: list, at: np.ndarray) -> np.ndarray:
    """bool per product of `at`: taken out by any of the static filters `bounds`."""
    out = np.zeros(len(at), dtype=bool)
    for b in bounds:
        out |= b.removed_at(at)
    return out


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


@dataclass(frozen=True)
class Request:
    """One customer, or one product (`item_id`: the products most similar to it). `None` rule
    fields fall back to the model's defaults."""

    customer_id: str | None = None
    k: int | None = None
    items: tuple[str, ...] = ()  # basket / browsing history
    exclude_purchased: bool | None = None
    exclude_popular: int | None = None
    include_new: int | None = None
    exclude_items: tuple[str, ...] = ()
    include_items: tuple[str, ...] = ()
    candidates: tuple[str, ...] | None = None
    item_id: str | None = None  # similar products: no customer, `exclude_purchased` does not apply
    trending: bool = False  # a Trending-Now list instead of the customer's scores (core/trends.py)
    blend: float | None = None  # the trend blend's weight; None = the model's (metadata.json blend.weight)
    filters: Spec | None = None  # `filter` + `filter_values` (core/filters)
    promotion: Promotion | None = None
    exploration_weight: float | None = None  # None: the model's default
    exploration_item_age_days: int | None = None
    seed: int | None = None  # makes exploration reproducible
    fields: tuple[str, ...] = ()  # attributes returned with each product


@dataclass(frozen=True)
class Promotion:
    """`share` of the list's slots for the best-scoring products the filter selects."""

    filters: Spec
    share: float


@dataclass(slots=True)
class Recommendation:
    product_id: str
    score: float
    reason: str  # model | similar | new_product | forced | popular | trending | promoted | exploration
    name: str = ""
    attributes: dict[str, Any] | None = None  # the request's `fields`


def new_recommendation_id() -> str:
    """A unique id for one answered list (uuid4, 32 hex digits), so a site can attribute clicks and
    sales to the list it showed."""
    return uuid.uuid4().hex


@dataclass
class Prediction:
    """One answered list: for a customer (`customer_id`) or, with `item_id` set, for a product."""

    customer_id: str | None
    known: bool
    recommendations: list[Recommendation]
    unknown_items: list[str] = field(default_factory=list)
    item_id: str | None = None
    recommendation_id: str = field(default_factory=new_recommendation_id)
    fields: tuple[str, ...] = ()  # the attributes each recommendation carries
