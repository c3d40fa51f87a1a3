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
MAX_PING_BYTES = 1 << 16


def signature(model_dir: Path) -> Signature:
    """(inode, mtime, size) of the model's metadata.json; None when there is none."""
    try:
        st = os.stat(Path(model_dir) / METADATA)
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


def ping(unix_socket: Path, timeout_s: float = 2.0) -> tuple[int | None, bytes]:
    """(HTTP status, body) of GET /ping straight from gunicorn's socket; (None, b"") if it does not answer."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout_s)
            s.connect(str(unix_socket))
            s.sendall(b"GET /ping HTTP/1.0\r\nHost: localhost\r\n\r\n")
            chunks = []
            while len(data := s.recv(65536)) and sum(map(len, chunks)) < MAX_PING_BYTES:
                chunks.append(data)
    except OSError:
        return None, b""
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].split()
    return (int(status[1]) if len(status) >= 2 and status[1].isdigit() else None), body
