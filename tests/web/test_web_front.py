"""`make web`'s script end to end (--once): serve + API front + page, one request through all."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


def test_web_front_once(trained_model_dir, tmp_path):
    out = subprocess.run([sys.executable, str(REPO / "scripts" / "web_front.py"), "--model-dir",
                          str(trained_model_dir), "--web-port", "0", "--api-port", "0", "--once"],
                         capture_output=True, text=True, timeout=180,
                         env={**os.environ, "XDG_CACHE_HOME": str(tmp_path)})
    assert out.returncode == 0, out.stdout + out.stderr
    assert "web: anonymous visitor -> " in out.stdout and "(customer " in out.stdout
    assert "web: ... after looking at " in out.stdout and "web: events: table " in out.stdout      # issue 26
    assert "demo login: staff@example.com" in out.stdout
    assert not list((tmp_path / "alsreco" / "web").glob("serve-*"))      # its run directory is cleaned up
