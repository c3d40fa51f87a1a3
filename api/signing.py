"""Ids the API hands out and takes back, signed so that only the API can make them.

* A visitor's session id: `<uuid4>.<issued epoch>.<signature>`. The API issues it (the first
  POST /events without one) and the page keeps it for the visit; every request that carries it
  is checked before the session's events are read or written. A made-up, edited or truncated id,
  or one issued with another key, is a 400 naming `session_id`: nobody can pick a session id
  (such as another visitor's uuid), and guessing one means guessing 122 random bits and a
  128-bit signature. After `max_age` seconds the id is expired (`None` from `session`): a leaked
  id stops working with the visit.
* A list's recommendation id: `<endpoint's recommendation_id>.<model version, base64url>.<signature>`.
  Events carry it back, and the model version it names is what clicks, add-to-carts and
  purchases are counted under (api/metrics.py) - a client cannot invent model versions.

HMAC-SHA256 (truncated to 128 bits) over a purpose prefix, so a session id is never a valid
recommendation id or the other way round. Standard library only.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import uuid

from .errors import ApiError

SESSION = re.compile(r"^([0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12})\.(\d{1,12})\."
                     r"([A-Za-z0-9_-]{22})$")
RECOMMENDATION = re.compile(r"^([0-9A-Za-z-]{1,64})\.([A-Za-z0-9_-]{1,88})\.([A-Za-z0-9_-]{22})$")
MAX_SESSION_CHARS = 80
MAX_RECOMMENDATION_CHARS = 200
NOT_OURS = "{field}: not a {what} this API issued"
MIN_KEY_BYTES = 32


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """Issues and checks session ids and recommendation ids with one secret key."""

    def __init__(self, key: bytes):
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(f"the signing key must be at least {MIN_KEY_BYTES} bytes")
        self._key = bytes(key)

    def _mac(self, purpose: str, text: str) -> str:
        return _b64(hmac.new(self._key, f"{purpose}:{text}".encode(), hashlib.sha256).digest()[:16])

    # ------------------------------------------------------------------ sessions
    def new_session(self, now: float) -> str:
        sid = str(uuid.uuid4())
        issued = str(int(now))
        return f"{sid}.{issued}.{self._mac('session', f'{sid}.{issued}')}"

    def session(self, token: object, now: float, max_age: float, field: str = "session_id") -> str | None:
        """The session's uuid; None when the id has expired; ApiError(400) when it is not ours."""
        if not isinstance(token, str):
            raise ApiError(400, f"{field}: must be a string (the session_id an earlier answer gave)")
        if len(token) > MAX_SESSION_CHARS:
            raise ApiError(400, f"{field}: longer than {MAX_SESSION_CHARS} characters")
        m = SESSION.match(token)
        if not m or not hmac.compare_digest(m.group(3), self._mac("session", f"{m.group(1)}.{m.group(2)}")):
            raise ApiError(400, NOT_OURS.format(field=field, what="session id") +
                           "; send none to start a session")
        issued = int(m.group(2))
        if issued > now + 300:                     # signed by us, but from the future: a clock or key problem
            raise ApiError(400, NOT_OURS.format(field=field, what="session id"))
        return None if now - issued > max_age else m.group(1)

    # ------------------------------------------------------------- recommendations
    def recommendation_id(self, rec_id: str, model_version: str) -> str:
        version = _b64(str(model_version).encode("utf-8"))
        return f"{rec_id}.{version}.{self._mac('recommendation', f'{rec_id}.{version}')}"

    def recommendation(self, token: object, field: str) -> tuple[str, str]:
        """(the endpoint's recommendation_id, the model version) of an id we issued; ApiError(400) otherwise."""
        if not isinstance(token, str):
            raise ApiError(400, f"{field}: must be a string (the recommendation_id of the list)")
        if len(token) > MAX_RECOMMENDATION_CHARS:
            raise ApiError(400, f"{field}: longer than {MAX_RECOMMENDATION_CHARS} characters")
        m = RECOMMENDATION.match(token)
        if not m or not hmac.compare_digest(m.group(3), self._mac("recommendation", f"{m.group(1)}.{m.group(2)}")):
            raise ApiError(400, NOT_OURS.format(field=field, what="recommendation_id"))
        try:
            version = _unb64(m.group(2)).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):      # signed by us: cannot happen, but never a 500
            raise ApiError(400, NOT_OURS.format(field=field, what="recommendation_id")) from None
        return m.group(1), version
