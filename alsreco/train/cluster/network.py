"""Host names, interface addresses and the Spark master's JSON state."""
from __future__ import annotations

import fcntl
import json
import logging
import socket
import struct
import time
import urllib.request
from typing import Any, Callable, Mapping

from ...core.errors import AlgorithmError
from ..spark.ports import MASTER_UI_PORT

log = logging.getLogger(__name__)


def resolve(host: str, deadline: float, sleep: Callable[[float], None] = time.sleep,
            lookup: Callable[[str], str] = socket.gethostbyname) -> str:
    """The host's IPv4 address, retrying DNS until `deadline` (a time.monotonic() value)."""
    delay = 0.5
    while True:
        try:
            return lookup(host)
        except OSError as exc:
            if time.monotonic() >= deadline:
                raise AlgorithmError(f"host name {host!r} did not resolve before the deadline: {exc}") from None
            log.info("waiting for DNS of %s (%s)", host, exc)
            sleep(delay)
            delay = min(delay * 2, 5.0)


def interface_address(name: str | None) -> str | None:
    """IPv4 address of a network interface (SIOCGIFADDR), None if unknown."""
    if not name:
        return None
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            packed = fcntl.ioctl(s.fileno(), 0x8915, struct.pack("256s", name[:15].encode()))
        return socket.inet_ntoa(packed[20:24])
    except OSError:
        log.warning("network interface %s has no IPv4 address; binding by host name", name)
        return None


def get_json(url: str, timeout_s: float = 3.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout_s) as resp:  # noqa: S310 - cluster-internal http
        return json.loads(resp.read().decode())


def master_state(host: str, port: int = MASTER_UI_PORT) -> dict[str, Any]:
    return get_json(f"http://{host}:{port}/json/")


def alive_workers(state: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [w for w in state.get("workers", []) if w.get("state") == "ALIVE"]


def missing_workers(state: Mapping[str, Any], hosts: tuple[str, ...], addresses: Mapping[str, str]) -> list[str]:
    """Hosts without an ALIVE worker in the master's state (workers register by name or IP)."""
    seen = {w.get("host") for w in alive_workers(state)}
    return [h for h in hosts if h not in seen and addresses.get(h) not in seen]
