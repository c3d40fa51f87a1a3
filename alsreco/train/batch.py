"""Batch recommendations for every known customer, streamed to CSV block by block.

Scoring is `Recommender.ranker` (core/scoring.py): blocks of at most `cells` scores and
`group_size` customers, the model's default rules, flat arrays out. Each block becomes CSV
text with pyarrow compute kernels over those arrays (ids taken from arrays built once,
scores formatted from integers), written as one buffer: no Python object per output row.
The text is what `csv.writer` wrote before: `\\r\\n` line ends, minimal quoting, scores with
6 decimals.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..core.artifact import Model
from ..core.recommender import Recommender
from ..core.scoring import BLOCK_CELLS, REASONS, Ranked
from .ticker import Ticker

log = logging.getLogger(__name__)

HEADER = ("customer_id", "rank", "product_id", "score", "reason")
EOL = "\r\n"  # csv.writer's line end


def write_recommendations(model: Model, path: Path, cells: int = BLOCK_CELLS, threads: int = 1) -> int:
    """Top `reco_item` for every customer with the model's default rules and `batch_filter`; returns
    rows written.

    Customers are scored at most `group_size` (and `cells` // products) at a time so memory
    stays bounded, each block's top-k on `threads` threads; the file is written under a
    temporary name and renamed when complete.
    """
    hp = model.metadata.get("hyperparameters", {})
    n, group = int(hp.get("reco_item", 10)), int(hp.get("group_size", 10000))
    rec = Recommender(model)
    ranker = rec.ranker(n, rec.batch_rules(), cells=cells, max_rows=group, threads=threads)
    writer = BlockWriter(model.customer_ids, model.product_ids)
    total = len(model.customer_ids)
    ticker = Ticker("recommendations", total, "customers scored")

    def blocks() -> Iterator[tuple[pa.Buffer, int]]:
        done = 0
        for chunk in ranker.blocks(np.arange(total)):
            ranked = ranker.rank(chunk)
            yield writer.lines(ranked), len(ranked)
            done += len(chunk)
            ticker.tick(done)

    rows = write_csv_blocks(path, HEADER, blocks())
    log.info("recommendations: %d rows for %d customers in %.1f s (%d thread(s)) -> %s", rows, total,
             ticker.seconds(), threads, path)
    return rows


def write_csv_blocks(path: Path, header: Sequence[str], blocks: Iterable[tuple[pa.Buffer, int]]) -> int:
    """`header`, then each block's CSV text, to `path` under a temporary name renamed when complete
    (removed on any failure: no half-written file is left behind); returns the rows written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    rows = 0
    try:
        with open(tmp, "wb") as fh:
            fh.write((",".join(header) + EOL).encode())
            for text, n in blocks:
                fh.write(text)
                rows += n
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return rows


class BlockWriter:
    """CSV text of `Ranked` blocks; the id columns are converted (and quoted) once."""

    def __init__(self, customer_ids: np.ndarray, product_ids: np.ndarray):
        self.customers = csv_fields(customer_ids)
        self.products = csv_fields(product_ids)
        self.reasons = pa.array([r + EOL for r in REASONS])

    def lines(self, ranked: Ranked) -> pa.Buffer:
        if not len(ranked):
            return pa.py_buffer(b"")
        text = pc.binary_join_element_wise(
            self.customers.take(pa.array(ranked.customers)), ",",
            pc.cast(pa.array(ranked.rank), pa.string()), ",",
            self.products.take(pa.array(ranked.products)), ",",
            format_scores(ranked.scores), ",",
            self.reasons.take(pa.array(ranked.reasons)), "")
        return concatenated(text)


def csv_fields(ids: np.ndarray) -> pa.StringArray:
    """`ids` as CSV fields, quoted like csv.writer's QUOTE_MINIMAL when they hold , \" \\r or \\n."""
    arr = pa.array(np.asarray(ids).astype(str), type=pa.string())
    needs = pc.match_substring_regex(arr, '[,"\r\n]')
    if pc.any(needs).as_py():
        quoted = pc.binary_join_element_wise('"', pc.replace_substring(arr, '"', '""'), '"', "")
        arr = pc.if_else(needs, quoted, arr)
    return arr


def format_scores(scores: np.ndarray) -> pa.StringArray:
    """float32 scores as text with 6 decimals, exactly like f"{round(float(s), 6):.6f}".

    |s| x 10^6 is exact in float64 for a float32 s (24 + 14 significant bits), so rounding it
    half-to-even gives the correctly rounded 6th decimal; the sign comes from the float
    (-0.000000 included, as Python prints it)."""
    s = np.asarray(scores, dtype=np.float64)
    micro = np.rint(np.abs(s) * 1e6).astype(np.int64)
    whole = pc.cast(pa.array(micro // 1_000_000), pa.string())
    frac = pc.utf8_lpad(pc.cast(pa.array(micro % 1_000_000), pa.string()), width=6, padding="0")
    sign = pc.if_else(pa.array(np.signbit(s)), "-", "")
    return pc.binary_join_element_wise(sign, whole, ".", frac, "")


def concatenated(text: pa.StringArray) -> pa.Buffer:
    """The characters of all strings of `text`, back to back (its data buffer, no copy)."""
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int32)
    start, end = int(offsets[text.offset]), int(offsets[text.offset + len(text)])
    return text.buffers()[2].slice(start, end - start)
