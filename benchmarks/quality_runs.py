"""Bookkeeping of `benchmarks.quality`: the configurations it runs, which settings a run had (to resume an
interrupted benchmark), per-seed summaries, and the defaults against the best `implicit` library setting."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from . import common, quality_trends
from .quality_data import WINDOW_DAYS, K

SEED_SETTING = {"ranking_type": "count", "implicit_prefs": False, "als_rank": 10, "max_itter": 5,
                "reg_param": 0.01}
GRID = (  # each applied on top of the defaults; points equal to the defaults are dropped (sample only)
    {"als_fits": 1},  # one ALS fit (the defaults before als_fits): what averaging 4 fits adds
    {"reg_param": 0.05},  # the best mean over both protocols in a wider in-process grid (alpha, reg, rank, iterations)
    {"ranking_type": "incident", "alpha": 1.0},
    {"ranking_type": "log_qty", "alpha": 10.0, "max_itter": 10},  # the defaults before issue 9's benchmark
)
WEIGHTINGS = ("bm25", "tfidf", "log")  # each on top of the defaults, on every dataset
TUNE_BUDGET = 180
METRICS = (f"precision_at_{K}", f"recall_at_{K}", f"ndcg_at_{K}", f"map_at_{K}", "coverage")
MODEL_KEYS = (*common.MODEL_KEYS, "weighting", "bm25_k1", "bm25_b", "tune", "tune_budget_seconds", "eval_days",
              "eval_protocol", "trend_window_days", "trend_min_support", "blend_weight", "blend_signal")


def model_settings(hp: dict[str, Any]) -> dict[str, Any]:
    defaults = common.hp_defaults()
    return {k: hp.get(k, defaults[k]) for k in MODEL_KEYS}


def run_key(protocol: str, seed: int, settings: dict[str, Any]) -> str:
    return json.dumps([protocol, seed, model_settings(settings)], sort_keys=True)


def finished_runs(work: Path, digests: dict[str, str], commit: str) -> dict[str, Path]:
    """Completed `train` runs under `work` (model written) by (protocol, seed, model settings), so an
    interrupted benchmark resumes instead of re-training. The protocol is recognised by the exact
    bytes of the training file; settings and seed come from the model's own metadata. Only runs of this
    very commit count (the defaults and the code are part of what a run measured); with uncommitted
    changes ("+changes") nothing is reused, as the code a run saw cannot be told apart."""
    out: dict[str, Path] = {}
    if not commit or "+" in commit:
        return out
    by_digest = {d: p for p, d in digests.items()}
    for meta_path in work.glob("*/model/metadata.json"):
        base = meta_path.parent.parent
        data = base / "input" / "data" / "training" / "train.csv"
        if not data.is_file() or not (base / "run.json").is_file():
            continue
        if json.loads((base / "run.json").read_text()).get("commit") != commit:
            continue
        pname = by_digest.get(hashlib.sha256(data.read_bytes()).hexdigest())
        hp = json.loads(meta_path.read_text()).get("hyperparameters", {})
        if pname is None:
            continue
        out[run_key(pname, int(hp["seed"]), hp)] = base
    return out


def configurations(smoke: bool, dataset: str, grid: int = len(GRID), tune_budget: int = TUNE_BUDGET
                   ) -> list[dict[str, Any]]:
    """Name, hyperparameter overrides (`per_protocol`: extra ones per protocol) and settings of each run."""
    defaults = model_settings(common.hp_defaults())
    configs = [{"name": "defaults", "overrides": {}, "settings": defaults, "is_default": True, "kind": "train"}]
    if smoke:
        return configs
    off = {"eval_days": 0}  # the ALS alone: no held-out choice (half-life off, no blend)
    seen = {json.dumps(defaults, sort_keys=True)}

    def add(name: str, overrides: dict[str, Any], kind: str = "train", per_protocol=None) -> None:
        overrides = {**off, **overrides}
        s = {**defaults, **overrides}
        key = json.dumps([s, per_protocol], sort_keys=True)
        if key in seen:
            return
        seen.add(key)
        configs.append({"name": name, "overrides": overrides, "settings": s, "is_default": False, "kind": kind,
                        **({"per_protocol": per_protocol} if per_protocol else {})})

    add(quality_trends.NO_CHOICE, {})
    if dataset == "trend":  # the trend dataset: the defaults against the no-choice defaults and the baselines
        return configs
    if dataset == "sample" and grid > 0:
        add("seed setting (explicit, counts, rank 10, 5 it, reg 0.01)", SEED_SETTING)
        for g in GRID[:grid]:
            add("grid: " + ", ".join(f"{k}={v}" for k, v in g.items()), g)
    for w in WEIGHTINGS:
        add(f"weighting={w}", {"weighting": w})
    add(f"tune ({tune_budget} s budget)", {"tune": True, "tune_budget_seconds": tune_budget, "eval_days": WINDOW_DAYS},
        kind="tune", per_protocol={p: {"eval_protocol": p} for p in ("time_window", "last_basket")})
    return configs


def summary(per_seed: list[dict[str, float]]) -> dict[str, Any]:
    return {m: common.mean_std([r[m] for r in per_seed]) for m in METRICS}


def versus_implicit(configs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per protocol: the defaults' and tune's mean NDCG@10 against the best `implicit` setting's (picked
    on this very test set)."""
    nd = f"ndcg_at_{K}"
    out: dict[str, Any] = {}
    libs = [c for c in configs if c["kind"] == "implicit"]
    for p in {p for c in configs for p in c["results"]}:
        have = [c for c in libs if p in c["results"]]
        if not have:
            continue
        best = max(have, key=lambda c: c["results"][p]["summary"][nd]["mean"])
        row = {"implicit_best": best["name"], "implicit_best_mean": best["results"][p]["summary"][nd]["mean"],
               "implicit_best_std": best["results"][p]["summary"][nd]["std"]}
        for who, pick in (("defaults", lambda c: c.get("is_default")), ("tune", lambda c: c["kind"] == "tune")):
            c = next((c for c in configs if pick(c) and p in c["results"]), None)
            if c is not None:
                s = c["results"][p]["summary"][nd]
                row[who] = {"mean": s["mean"], "std": s["std"],
                            "minus_implicit_best": s["mean"] - row["implicit_best_mean"]}
        out[p] = row
    return out
