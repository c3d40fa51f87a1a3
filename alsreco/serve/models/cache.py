"""One worker's attached models: the Recommenders it serves, least recently used first out.

A model loaded by any worker is in the host's registry; a worker attaches it on its first request for
it (memory-maps the files another worker validated, builds its own id indexes) and keeps it while it is
used. What the attached models hold beyond the shared files is bounded by the worker's share of what the
loaded models' files leave of the budget: past it the idle models used longest ago are dropped (they
stay loaded on the host and are attached again when asked for). A model unloaded by another worker is
dropped within a second by a sweeper thread, so its memory is given back although this worker may get no
request for it.
"""
from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass

from ...core.recommender import Recommender
from ..codecs import HttpError
from .loading import build
from .registry import MIB, Registry

log = logging.getLogger("alsreco.serve")
SWEEP_SECONDS = 1.0


@dataclass
class Attached:
    rec: Recommender
    stamp: tuple[int, int]  # the registry entry's (inode, mtime) it was attached under
    private_bytes: int


class ModelCache:
    def __init__(self, registry: Registry):
        self.registry = registry
        self.attached: OrderedDict[str, Attached] = OrderedDict()
        self.lock = threading.RLock()
        self.attaches = self.evictions = 0
        self._sweeper_pid: int | None = None
        self._seen_version = -1

    def recommender(self, name: str) -> Recommender:
        """The loaded model `name`, attached on first use; 404 when it is not loaded."""
        self._ensure_sweeper()
        stamp = self.registry.stamp(name)
        with self.lock:
            got = self.attached.get(name)
            if stamp is None:
                if got is not None:
                    self._drop(name)
                raise HttpError(404, f"model {name[:200]!r} is not loaded (POST /models loads it)")
            if got is not None and got.stamp == stamp:
                self.attached.move_to_end(name)
                return got.rec
            entry = self.registry.get(name)
            if entry is None:  # unloaded between the stat and the read
                raise HttpError(404, f"model {name[:200]!r} is not loaded (POST /models loads it)")
            try:
                rec = build(entry.path, check_content=False)  # checked once, when it was loaded
            except HttpError as exc:
                raise HttpError(503, f"loaded model {name[:200]!r} cannot be read any more ({exc}); unload and "
                                     "load it again") from None
            self.attaches += 1
            self._keep(name, Attached(rec, stamp, entry.private_bytes))
            return rec

    def put(self, name: str, rec: Recommender, private_bytes: int) -> None:
        """A model this worker has just loaded (and so need not attach)."""
        stamp = self.registry.stamp(name)
        if stamp is not None:
            with self.lock:
                self._keep(name, Attached(rec, stamp, private_bytes))

    def drop(self, name: str) -> None:
        with self.lock:
            self._drop(name)

    def held(self) -> int:
        return sum(a.private_bytes for a in self.attached.values())

    def sweep(self) -> None:
        """Drop the attached models that were unloaded (or loaded again) since."""
        version = self.registry.version()
        if version == self._seen_version:
            return
        self._seen_version = version
        with self.lock:
            for name in [n for n, a in self.attached.items() if self.registry.stamp(n) != a.stamp]:
                self._drop(name)

    # ------------------------------------------------------------------ internals
    def _keep(self, name: str, attached: Attached) -> None:
        self._drop(name)
        self.attached[name] = attached
        room = self.registry.worker_room()
        while len(self.attached) > 1 and self.held() > room:
            oldest = next(iter(self.attached))
            self._drop(oldest)
            self.evictions += 1
            log.info("worker %d dropped idle model %r (%.1f MB held of %.0f MB)", os.getpid(), oldest[:200],
                     self.held() / MIB, room / MIB)

    def _drop(self, name: str) -> None:
        self.attached.pop(name, None)

    def _ensure_sweeper(self) -> None:
        """One sweeper thread per worker process (threads do not survive gunicorn's fork)."""
        if self._sweeper_pid == os.getpid():
            return
        self._sweeper_pid = os.getpid()
        threading.Thread(target=self._sweep_forever, name="alsreco-model-sweeper", daemon=True).start()

    def _sweep_forever(self) -> None:
        stop = threading.Event()
        while not stop.wait(SWEEP_SECONDS):
            try:
                self.sweep()
            except OSError:  # the run directory is going away: the server is stopping
                return
