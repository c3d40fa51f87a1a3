"""Loading one model of a multi-model endpoint: find it under the URL SageMaker gives, validate it once,
measure what a worker needs to serve it, and register it (serve/models/registry.py).

A model that fails validation is a 400 naming the file (the message load_model gives), never a dead
worker; a model that does not fit the budget is a 507 (SageMaker then unloads idle models and retries).
"""
from __future__ import annotations

import logging
import time
import tracemalloc
from pathlib import Path

from ...core.artifact import METADATA, load_model
from ...core.errors import ModelError
from ...core.recommender import Recommender
from .. import answer_size, plain
from ..codecs import HttpError
from .registry import MIB, Conflict, Entry, OverBudget, Registry, new_generation

log = logging.getLogger("alsreco.serve")


def model_path(url: str) -> Path:
    """The model directory at `url`: the directory itself, or its one subdirectory holding metadata.json
    (a model.tar.gz made from the model directory rather than its contents)."""
    root = Path(url)
    if not root.is_dir():
        raise HttpError(400, f"no model directory at {url} (url must be the directory the model was extracted to)")
    if (root / METADATA).is_file():
        return root
    inner = [d for d in root.iterdir() if d.is_dir() and (d / METADATA).is_file()]
    if len(inner) == 1:
        return inner[0]
    raise HttpError(400, f"model at {url} is incomplete: {METADATA} is missing (training not finished, or not a "
                         "model.tar.gz written by train?)")


def mapped_bytes(path: Path) -> int:
    """The memory-mapped part of a model: its .npy files and purchases.npz (metadata.json is read)."""
    return sum(p.stat().st_size for pattern in ("*.npy", "*.npz") for p in path.glob(pattern))


def build(path: Path, check_content: bool = True) -> Recommender:
    """A Recommender over the model at `path`; HttpError 400 naming what is wrong with it."""
    try:
        return Recommender(load_model(path, mmap=True, check_content=check_content))
    except ModelError as exc:
        raise HttpError(400, str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - anything a bad model makes the scorer raise is the model's fault
        raise HttpError(400, f"model at {path} cannot be served: {type(exc).__name__}: {exc}") from None


def measured(path: Path) -> tuple[Recommender, int]:
    """`build(path)` ready to answer (its scorer and answer sizes made), and the bytes it allocated: what
    every worker serving it holds on top of the shared mapped files."""
    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    try:
        rec = build(path)
        plain.warm(rec)
        answer_size.sizes_of(rec)
        return rec, max(0, tracemalloc.get_traced_memory()[0] - before)
    finally:
        if not tracing:
            tracemalloc.stop()


def load(registry: Registry, name: str, url: str) -> tuple[Entry, Recommender]:
    """Validate, measure and register model `name` from `url`; 409 / 507 / 400 as HttpError."""
    with registry.lock(name):  # one load per name at a time: a second waits, then finds it loaded (409)
        if registry.get(name) is not None:
            raise HttpError(409, f"model {name!r} is loaded already (unload it first to load it again)")
        path = model_path(url)
        mapped = mapped_bytes(path)
        try:
            registry.check_room(mapped)  # before any work
        except OverBudget as exc:
            raise HttpError(507, f"cannot load model {name!r}: {exc}; unload models first") from None
        started = time.monotonic()
        rec, private = measured(path)
        entry = Entry(model_name=name, url=url, path=str(path), mapped_bytes=mapped, private_bytes=private,
                      version=rec.version, customers=len(rec.customer_index), products=len(rec.product_ids),
                      load_seconds=round(time.monotonic() - started, 3), generation=new_generation())
        try:
            registry.register(entry)
        except Conflict:
            raise HttpError(409, f"model {name!r} is loaded already") from None
        except OverBudget as exc:
            raise HttpError(507, f"cannot load model {name!r}: {exc}; unload models first") from None
    log.info("loaded model %s (version %s) from %s: %d customers, %d products, %.1f MB mapped, %.1f MB per "
             "worker, %.2fs", _shown(name), entry.version, path, entry.customers, entry.products, mapped / MIB,
             private / MIB, entry.load_seconds)
    return entry, rec


def _shown(name: str) -> str:
    return repr(name[:200])
