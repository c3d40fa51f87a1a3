"""The container tier's precondition, as a test of its own.

Without a Docker engine this is the only test collected here, and it skips with a one-line
reason; with CI=true it fails instead (see conftest.py).
"""
from __future__ import annotations

import subprocess

import pytest

pytestmark = pytest.mark.container


def test_docker_engine_is_reachable(docker_engine):
    r = subprocess.run([docker_engine, "version", "--format", "{{.Server.Os}}/{{.Server.Arch}}"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().startswith("linux/")
