"""API Gateway's Cognito user pool authorizer, as the local API front plays it (api/local_front.py).

For a method with the authorizer, API Gateway reads the `Authorization` header, verifies the ID
token against the pool's JWKS (signature, issuer, expiry; and we also check the audience, the
app client id, as the stack's identity validation expression makes API Gateway do), answers 401
itself when that fails - the Lambda never runs - and otherwise passes the claims to the Lambda
in `requestContext.authorizer.claims`, every value a string: numbers as text, `exp` and `iat` as
"Tue Apr 04 18:39:39 UTC 2023", lists (`cognito:groups`) as "a,b".
"""
from __future__ import annotations

import time
from typing import Any, Iterable, Mapping

from .jwt import KeySet, TokenError

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
DATE_CLAIMS = ("exp", "iat")


def gateway_time(epoch: float) -> str:
    t = time.gmtime(epoch)
    return (f"{DAYS[t.tm_wday]} {MONTHS[t.tm_mon - 1]} {t.tm_mday:02d} {t.tm_hour:02d}:{t.tm_min:02d}:"
            f"{t.tm_sec:02d} UTC {t.tm_year}")


def gateway_claims(claims: Mapping[str, Any]) -> dict[str, str]:
    """Verified claims as API Gateway hands them to a REST API Lambda: all strings."""
    out = {}
    for name, value in claims.items():
        if name in DATE_CLAIMS and isinstance(value, (int, float)) and not isinstance(value, bool):
            out[name] = gateway_time(value)
        elif isinstance(value, list):
            out[name] = ",".join(str(v) for v in value)
        elif isinstance(value, bool):
            out[name] = "true" if value else "false"
        else:
            out[name] = str(value)
    return out


class CognitoAuthorizer:
    """`authorize(header)` -> the `requestContext.authorizer` object; TokenError -> a 401."""

    def __init__(self, keys: KeySet, issuer: str, audiences: Iterable[str]):
        self.keys = keys
        self.issuer = issuer
        self.audiences = tuple(audiences)

    def authorize(self, header: str | None) -> dict[str, Any]:
        token = str(header or "").strip()
        if token[:7].lower() == "bearer ":
            token = token[7:].strip()
        if not token:
            raise TokenError("no Authorization header")
        claims = self.keys.verify(token, self.issuer, self.audiences)
        if claims.get("token_use") != "id":
            raise TokenError("not an ID token")
        return {"claims": gateway_claims(claims)}
