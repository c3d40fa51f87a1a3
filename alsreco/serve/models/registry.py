"""The host's loaded models: one JSON file per model in a directory every worker shares.

SageMaker's multi-model contract loads, lists and unloads models by `model_name`; any gunicorn worker
may get any of those calls, so what is loaded lives on disk (the supervisor's run directory), not in a
worker: a worker validates the model once, measures it and registers it here, and every worker
attaches it on its first request (serve/models/cache.py). Changes happen under a host-wide lock
(`flock`), and a load holds a per-name lock, so concurrent loads of one name do the work once.

The budget (`Budget`): the loaded models' mapped files (shared by all workers through the page cache)
come first; what they leave is split between the workers for the models each keeps attached (its own id
indexes, lists of ids and names). A load is refused (507), so that SageMaker unloads others, when its
files and one worker's share of it per worker would not fit next to the loaded models' files.
"""
from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

from ...core.settings import Settings
from ...train.spark.resources import memory_limit_bytes

MIB = 1024 * 1024
ENTRIES = "entries"
LOCKS = "locks"


@dataclass(frozen=True)
class Budget:
    total: int  # bytes for models on this host
    workers: int

    @classmethod
    def of(cls, settings: Settings, limit: int | None = None) -> "Budget":
        """`ALSRECO_MODEL_MEMORY_MB`, else `ALSRECO_MODEL_MEMORY_FRACTION` of the container's memory."""
        if settings.model_memory_mb:
            total = settings.model_memory_mb * MIB
        else:
            total = int(settings.model_memory_fraction * (limit if limit is not None else memory_limit_bytes()))
        return cls(total, max(1, settings.workers))

    def per_worker(self, mapped: int) -> int:
        """For the models one worker keeps attached, when the loaded models' files take `mapped` bytes."""
        return max(0, (self.total - mapped) // self.workers)

    def fits(self, mapped: int, new_mapped: int, new_private: int) -> bool:
        """Does a model fit next to loaded files of `mapped` bytes: its files, and each worker able to attach it?"""
        return mapped + new_mapped + self.workers * new_private <= self.total


@dataclass(frozen=True)
class Entry:
    model_name: str
    url: str  # the directory SageMaker gave (POST /models)
    path: str  # the model directory inside it (url itself, or its one subdirectory holding the model)
    mapped_bytes: int  # .npy files, memory-mapped: shared by every worker
    private_bytes: int  # what one worker allocates to serve it (measured when it was loaded)
    version: str
    customers: int
    products: int
    load_seconds: float
    generation: str  # this load (unloaded and loaded again = a new generation)

    def describe(self) -> dict:
        """The contract's view of a loaded model."""
        return {"modelName": self.model_name, "modelUrl": self.url}


class Conflict(Exception):
    """The name is loaded already (409)."""


class OverBudget(Exception):
    """Loading it would exceed the memory budget (507)."""


class Registry:
    def __init__(self, root: Path, budget: Budget):
        self.root, self.budget = Path(root), budget
        self.entries = self.root / ENTRIES
        self.locks = self.root / LOCKS
        self.entries.mkdir(parents=True, exist_ok=True)
        self.locks.mkdir(parents=True, exist_ok=True)
        self._mapped: tuple[int, int] = (-1, 0)  # (version, bytes)

    # ------------------------------------------------------------------ reading
    def path(self, name: str) -> Path:
        return self.entries / (_key(name) + ".json")

    def stamp(self, name: str) -> tuple[int, int] | None:
        """(inode, mtime) of the model's entry: what changes when it is unloaded or loaded again; None if
        it is not loaded. One stat: cheap enough for every request."""
        try:
            st = os.stat(self.path(name))
        except OSError:
            return None
        return st.st_ino, st.st_mtime_ns

    def get(self, name: str) -> Entry | None:
        return _read(self.path(name))

    def all(self) -> list[Entry]:
        """Every loaded model, by name."""
        found = (_read(p) for p in self.entries.glob("*.json"))
        return sorted((e for e in found if e is not None), key=lambda e: e.model_name)

    def page(self, token: str | None, size: int) -> tuple[list[Entry], str | None]:
        """Up to `size` models after the one `token` names (ValueError for a token this did not make)."""
        after = _untoken(token) if token else None
        rest = [e for e in self.all() if after is None or e.model_name > after]
        page = rest[:size]
        return page, (_token(page[-1].model_name) if len(rest) > size else None)

    def version(self) -> int:
        """Changes whenever a model is loaded or unloaded."""
        return os.stat(self.entries).st_mtime_ns

    def mapped(self) -> int:
        """The loaded models' mapped bytes (read again only when a model was loaded or unloaded since)."""
        version = self.version()
        if self._mapped[0] != version:
            self._mapped = (version, sum(e.mapped_bytes for e in self.all()))
        return self._mapped[1]

    def worker_room(self) -> int:
        """What one worker may keep attached now."""
        return self.budget.per_worker(self.mapped())

    # ------------------------------------------------------------------ changing
    @contextlib.contextmanager
    def lock(self, name: str | None = None) -> Iterator[None]:
        """The host-wide lock (name None) or one model name's: held across processes (flock)."""
        path = self.locks / ("registry" if name is None else _key(name))
        with open(path, "a+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def check_room(self, mapped_bytes: int, private_bytes: int = 0) -> None:
        """OverBudget when a model of this size would not fit next to the loaded ones."""
        used = self.mapped()
        if not self.budget.fits(used, mapped_bytes, private_bytes):
            b = self.budget
            raise OverBudget(f"its files take {mapped_bytes / MIB:.1f} MB and each of the {b.workers} workers needs "
                             f"{private_bytes / MIB:.1f} MB to serve it, next to {used / MIB:.1f} MB of loaded models' "
                             f"files, in a budget of {b.total / MIB:.0f} MB (ALSRECO_MODEL_MEMORY_MB / _FRACTION)")

    def register(self, entry: Entry) -> None:
        """Record a loaded model (Conflict if the name is taken, OverBudget if it does not fit)."""
        with self.lock():
            if self.path(entry.model_name).exists():
                raise Conflict(entry.model_name)
            self.check_room(entry.mapped_bytes, entry.private_bytes)
            tmp = self.entries / f".tmp-{uuid.uuid4().hex}"
            tmp.write_text(json.dumps(asdict(entry)))
            os.replace(tmp, self.path(entry.model_name))

    def remove(self, name: str) -> bool:
        with self.lock():
            try:
                self.path(name).unlink()
            except FileNotFoundError:
                return False
        return True


def new_generation() -> str:
    return uuid.uuid4().hex


def _key(name: str) -> str:
    return hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:40]


def _read(path: Path) -> Entry | None:
    try:
        return Entry(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):  # gone (unloaded meanwhile) or half-written by a crash
        return None


def _token(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode("utf-8", "surrogatepass")).decode("ascii")


def _untoken(token: str) -> str:
    try:
        return base64.b64decode(token.encode("ascii"), altchars=b"-_", validate=True).decode("utf-8", "surrogatepass")
    except (ValueError, UnicodeError):
        raise ValueError(f"next_page_token {token[:60]!r} is not one this server gave") from None
