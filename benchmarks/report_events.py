"""RESULTS.md's section for benchmarks/events_live.py (`make bench-events`): the events route's latency
through the local front, and freshness (an event -> the very next list)."""
from __future__ import annotations

from typing import Any

TITLE = "## 4. Live events (the local chain)"


def _ms(p: dict[str, Any]) -> str:
    lo, hi = p["ci95"]
    return f"{p['value']:.1f} ({lo:.1f}–{hi:.1f})"


def _load(r: dict[str, Any]) -> str:
    return f"{r['loadavg_before'][0]} → {r['loadavg_after'][0]}"


def events_section(doc: dict[str, Any] | None) -> tuple[str, list[list[Any]]]:
    """(markdown, goal rows) for RESULTS.md."""
    if doc is None:
        return f"{TITLE}\n\nNot measured yet: `make bench-events`.\n", []
    rows = [[r["concurrency"], r["requests"], _ms(r["p50_ms"]), _ms(r["p99_ms"]), r["rps"], r["non_2xx"], _load(r)]
            for r in doc["events_route"]]
    f = doc["freshness"]
    changed = f["event_to_changed_list_ms"]
    out = ["", TITLE, "",                      # a blank line after the section before (it ends in a table)
           f"Through `make web`'s chain ({doc['chain']}; {doc['model']['source']}, {doc['model']['products']:,} "
           "products). DynamoDB, Firehose and S3 are moto on the same cores, one request at a time "
           "(api/local_moto.py): these are the stand-in chain's figures, not AWS's. Load: 1-minute load average "
           "before → after each run (2 = both cores busy).", "",
           "### POST /events (one `view` per request, keep-alive, a new visit every 20 events per client)", "",
           "| concurrency | requests | p50 ms (95% CI) | p99 ms (95% CI) | req/s | non-2xx | load |",
           "|---|---|---|---|---|---|---|",
           *["| " + " | ".join(str(c) for c in row) + " |" for row in rows], "",
           "### Freshness: an event, then the very next list", "",
           f"{f['trials']} new visits each sent one `view` and at once asked for their list: "
           f"**{f['reflected_by_next_request']}/{f['trials']}** of those very next lists were the endpoint's own "
           f"answer for the viewed product (one-sided 95% lower bound {f['lower_bound_95']:.3f}). From sending the "
           f"event to having the changed list: p50 {_ms(changed['p50'])} ms, p99 {_ms(changed['p99'])} ms "
           f"(load {_load(f)}).", ""]
    goal = [f"live events: the very next list reflects an event (≥ {f['goal_min']:.0%} of events, 95% lower bound)",
            f"{f['reflected_by_next_request']}/{f['trials']} (lower bound {f['lower_bound_95']:.3f})",
            f"{f['lower_bound_95'] - f['goal_min']:+.3f}", "**met**" if f["met"] else "**not met**"]
    return "\n".join(out), [goal]
