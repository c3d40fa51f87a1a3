"""Bookkeeping of `benchmarks.quality`: which settings a run had (to resume an interrupted benchmark),
per-seed summaries, and the defaults against the best `implicit` library setting."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from . import common
from .quality_data import K

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
