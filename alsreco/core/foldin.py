"""The ALS user step against fixed item factors: a customer factor from a basket (fold-in) or from
stored ratings plus this session's items. Pure numpy, shared by serving (`Recommender`)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SESSION_WEIGHT = 1.0  # a session item adds this x the customer's mean stored rating to its rating


@dataclass(frozen=True)
class UserStep:
    """What one ALS user step needs: item factors Y (float32), YᵀY (float64, one per fit) and the fit's
    settings. A model of `fits` > 1 fits (`als_fits`) stores their factors side by side, each scaled by
    1/sqrt(fits): the step is solved for each fit on its own columns (with its own, unscaled factors)."""

    item_factors: np.ndarray
    yty: np.ndarray  # (fits, rank, rank): each fit's YᵀY, unscaled
    implicit: bool
    alpha: float
    reg_param: float
    fits: int = 1

    @classmethod
    def of(cls, item_factors: np.ndarray, implicit: bool, alpha: float, reg_param: float,
           fits: int = 1) -> "UserStep":
        y = np.asarray(item_factors).astype(np.float64)
        fits = fits if fits >= 1 and y.shape[1] % fits == 0 else 1
        rank = y.shape[1] // fits
        yty = np.stack([fits * (y[:, k * rank:(k + 1) * rank].T @ y[:, k * rank:(k + 1) * rank])
                        for k in range(fits)])
        return cls(np.asarray(item_factors), yty, implicit, alpha, reg_param, fits)

    def solve(self, items: np.ndarray, ratings: np.ndarray | None = None) -> np.ndarray:
        """A customer factor from `items` (product indices) with `ratings` (default 1 each): exactly
        Spark's user step (for each fit, on its columns).

        Implicit: (YᵀY + α Σ_i r_i y_i y_iᵀ + λ n I) x = Σ_{i: r_i > 0} (1 + α r_i) y_i,
        n = items with r_i > 0 (Spark's λ scaling; confidence uses |r_i|);
        explicit: (Σ_i y_i y_iᵀ + λ n I) x = Σ_i r_i y_i, n = all items (ridge)."""
        items = np.asarray(items, dtype=np.int64)
        if ratings is None:  # a basket: each product once, rating 1
            items = np.unique(items)
            ratings = np.ones(len(items))
        r = np.asarray(ratings, dtype=np.float64)
        scale = np.sqrt(self.fits)
        y_all = self.item_factors[items].astype(np.float64) * scale
        rank = y_all.shape[1] // self.fits
        parts = [self._solve(y_all[:, k * rank:(k + 1) * rank], self.yty[k], r) for k in range(self.fits)]
        return (np.concatenate(parts) / scale).astype(np.float32)

    def _solve(self, y: np.ndarray, yty: np.ndarray, r: np.ndarray) -> np.ndarray:
        rank = y.shape[1]
        if self.implicit:
            positive = r > 0
            a = yty + self.alpha * (y.T @ (np.abs(r)[:, None] * y))
            a += self.reg_param * int(positive.sum()) * np.eye(rank)
            b = y.T @ np.where(positive, 1.0 + self.alpha * r, 0.0)
        else:
            a = y.T @ y + self.reg_param * len(r) * np.eye(rank)
            b = y.T @ r
        try:
            return np.linalg.solve(a, b)
        except np.linalg.LinAlgError:  # singular (λ = 0 and too few items): least norm
            return np.linalg.lstsq(a, b, rcond=None)[0]

    def with_session(self, stored_items: np.ndarray, stored: np.ndarray, session: np.ndarray) -> np.ndarray:
        """A known customer's factor with this session's items as extra events: the user step over the
        stored ratings with each session item's rating raised by SESSION_WEIGHT x mean(stored) (one more
        product of the customer's typical weight, whatever the ranking_type's scale). Spark's last
        half-iteration solves the same system without the session, so an empty session gives back the
        trained factor."""
        stored = np.asarray(stored, dtype=np.float64)
        weight = SESSION_WEIGHT * (float(np.abs(stored).mean()) if len(stored) else 1.0)
        items = np.concatenate([np.asarray(stored_items, dtype=np.int64), np.asarray(session, dtype=np.int64)])
        r = np.concatenate([stored, np.full(len(session), weight)])
        uniq, inverse = np.unique(items, return_inverse=True)
        return self.solve(uniq, np.bincount(inverse, weights=r, minlength=len(uniq)))
