"""The page's response headers - above all its Content-Security-Policy - in one place: CloudFront
sends them for the deployed page (infra/page.py), the local page server for `make web` and the
browser tests (api/local_front.py).

The page runs only its own scripts and styles (no inline script, no `eval`, nothing from another
host), may talk only to its own origin (catalogue.json), the API and the sign-in service, and may
not be framed. A script injected into it could not send what it reads anywhere else.
"""
from __future__ import annotations

from typing import Sequence


def content_security_policy(connect_to: Sequence[str]) -> str:
    """The policy; `connect_to` are the origins `fetch` may reach besides the page's own."""
    return "; ".join((
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src " + " ".join(("'self'", *connect_to)),
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ))


def security_headers(connect_to: Sequence[str]) -> dict[str, str]:
    """Every header the page is served with, besides Content-Type and caching."""
    return {
        "Content-Security-Policy": content_security_policy(connect_to),
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "strict-origin-when-cross-origin",
    }
