"""RESULTS.md section for `make bench-catalog` (benchmarks/catalog.py): new-product placement quality,
the cost of a filter, the memory of a catalogue; and their goal rows."""
from __future__ import annotations

from typing import Any

PLACEMENT_GOAL = "new products placed by attributes: NDCG@10 above random placement and above best-seller-in-" \
                 "category (interval above zero)"
FILTER_GOAL = 1.3
MEMORY_GOAL_MB = 100.0


def verdict_above(ci: list[float]) -> str:
    """met when the whole interval is above zero, not met when it is wholly below, else within noise."""
    lo, hi = ci
    return "met" if lo > 0 else "not met" if hi < 0 else "within noise"


def verdict_at_most(ci: list[float], goal: float) -> str:
    lo, hi = ci
    return "met" if hi <= goal else "not met" if lo > goal else "within noise"


def catalog_section(c: dict[str, Any] | None) -> tuple[str, list[list[Any]]]:
    if not c:
        return "", []
    q, cost, mem = c["placement_quality"], c["filter_cost"], c["memory"]
    goals: list[list[Any]] = []
    lines = ["\n## Catalogue: new-product placement, filters, memory\n",
             f"`make bench-catalog` at commit `{c.get('commit', '?')}`, {c.get('created', '?')}; load average "
             f"{c.get('loadavg_before')} before, {c.get('loadavg_after')} after (this machine is shared: timings "
             "under load are noisier). Method: benchmarks/catalog.py's docstring.\n",
             "### New products placed by their attributes (bundled sample, shipped defaults)\n",
             "Held-out products' purchases hidden at training; the catalog channel gives every product its name and "
             "median unit price. Test customers rank the held-out products.\n",
             "| seed | held-out products | test customers | attributes NDCG@10 | random | best seller in category "
             "| attributes hit@10 | random | best seller in category |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in q["runs"]:
        lines.append(f"| {r['seed']} | {r['held_out_products']} | {r['test_customers']} | "
                     f"{r['attributes']['ndcg']:.3f} | {r['random']['ndcg']:.3f} | "
                     f"{r['category_best_seller']['ndcg']:.3f} | {r['attributes']['hit']:.3f} | "
                     f"{r['random']['hit']:.3f} | {r['category_best_seller']['hit']:.3f} |")
    lines.append("")
    for metric in ("ndcg", "hit"):
        for base in ("random", "category_best_seller"):
            d = q[metric][f"minus_{base}"]
            lines.append(f"- {metric.upper()}@10, attributes − {base.replace('_', ' ')}: {d['mean']:+.3f}, 95% "
                         f"bootstrap interval [{d['ci95'][0]:+.3f}, {d['ci95'][1]:+.3f}] over {d['customers']} "
                         "customers (seeds pooled)")
    worst = min((q["ndcg"]["minus_random"], q["ndcg"]["minus_category_best_seller"]), key=lambda d: d["ci95"][0])
    goals.append([PLACEMENT_GOAL, f"NDCG@10 {q['ndcg']['attributes']:.3f} vs {q['ndcg']['random']:.3f} / "
                  f"{q['ndcg']['category_best_seller']:.3f}", f"smaller margin's interval [{worst['ci95'][0]:+.3f}, "
                  f"{worst['ci95'][1]:+.3f}]", verdict_above(worst["ci95"])])
    m = c["model"]
    lines += ["", f"### Filter cost (in process, {m['products']:,} products × {m['attributes']} attributes, rank "
              f"{m['rank']})\n",
              "`INCLUDE ItemID WHERE Items.brand IN ($brands) AND Items.price >= $lo AND Items.price < $hi` "
              "(1,000 brands), one customer, k=10, timed in alternation with the same request unfiltered.\n",
              "| values | pairs | unfiltered ms (median) | filtered ms (median) | ratio | 95% interval |",
              "|---|---|---|---|---|---|"]
    for label in ("distinct_values", "repeated_values"):
        r = cost[label]
        lines.append(f"| {label.replace('_', ' ')} | {r['pairs']} | {r['unfiltered_ms_median']:.2f} | "
                     f"{r['filtered_ms_median']:.2f} | {r['ratio']:.2f} | [{r['ratio_ci95'][0]:.2f}, "
                     f"{r['ratio_ci95'][1]:.2f}] |")
    r = cost["distinct_values"]
    goals.append([f"a filtered request (IN over 1,000 values + a range; other values each time) ≤ {FILTER_GOAL}× an "
                  "unfiltered one, in process, 100k products", f"{r['ratio']:.2f}×",
                  f"interval [{r['ratio_ci95'][0]:.2f}, {r['ratio_ci95'][1]:.2f}]",
                  verdict_at_most(r["ratio_ci95"], FILTER_GOAL)])
    added = mem["added_pss_mb"]
    runs = mem["runs"]
    lines += ["", f"### Memory ({mem['workers']} workers)\n",
              "Total PSS of the serve process tree after every worker answered filtered requests with `fields`, "
              f"without and with the catalogue files ({mem['catalogue_files_mb']} MB of attribute files, mmapped), "
              f"{len(runs)} fresh servers each:\n",
              "| run | without (MB) | with (MB) | added (MB) |", "|---|---|---|---|"]
    for i, r in enumerate(runs, 1):
        lines.append(f"| {i} | {r['without_catalogue']['total_pss_mb']} | {r['with_catalogue']['total_pss_mb']} | "
                     f"{r['added_pss_mb']:+.1f} |")
    lo, hi = min(added), max(added)
    status = ("met" if hi <= MEMORY_GOAL_MB else "not met" if lo > MEMORY_GOAL_MB else "within noise") \
        if mem["workers"] == 4 else "not measured at 4 workers"
    goals.append([f"a catalogue of 100k products × 20 attributes adds ≤ {MEMORY_GOAL_MB:.0f} MB of PSS to a 4-worker "
                  "server", f"{lo:+.1f} to {hi:+.1f} MB ({len(added)} runs)",
                  f"worst run {MEMORY_GOAL_MB - hi:+.1f} MB under the goal", status])
    return "\n".join(lines) + "\n", [[*g[:-1], f"**{g[-1]}**"] for g in goals]  # bold, as every goal row
