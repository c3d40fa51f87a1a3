"""Picking up a model that appears after `serve` started, one model version at a time.

The app loads the model once, in the gunicorn master before the workers fork, so every worker
serves the same version. When there was no (loadable) model at that moment, the supervisor
watches `metadata.json` (written last by `train`) and, when it appears or changes, restarts
gunicorn so that the new generation loads it — workers never load models on their own.
"""
from __future__ import annotations

import os
import socket
from pathlib import Path

from ..core.artifact import METADATA

Signature = tuple[int, int, int] | None


def signature(model_dir: Path) -> Signature:
    """(inode, mtime, size) of the model's metadata.json; None when there is none."""
    try:
        st = os.stat(Path(model_dir) / METADATA)
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


def ping_status(unix_socket: Path, timeout_s: float = 2.0) -> int | None:
    """HTTP status of GET /ping straight from gunicorn's socket; None if it does not answer."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout_s)
            s.connect(str(unix_socket))
            s.sendall(b"GET /ping HTTP/1.0\r\nHost: localhost\r\n\r\n")
            head = s.recv(64).split(b"\r\n", 1)[0].split()
        return int(head[1]) if len(head) >= 2 and head[1].isdigit() else None
    except OSError:
        return None
