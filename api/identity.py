"""Who is asking: the shopper (or staff member) named by the authorizer's verified claims.

API Gateway verifies the token before the Lambda runs (the Cognito authorizer, or the OIDC token
authorizer of api/authorizer.py) and passes its claims in the proxy event:
* Cognito user pool authorizer: `requestContext.authorizer.claims`, an object whose values are all
  strings (`exp` as "Tue Apr 04 18:39:39 UTC 2023", a list such as `cognito:groups` as
  "a,b" or "[a b]");
* a Lambda (token) authorizer: `requestContext.authorizer.claims`, the JSON text the authorizer put
  in its context (context values must be strings).

The identity comes from there only, never from the request body. When the settings name an issuer
and audiences (the stack sets both), the claims must carry them - a second check, because the
Cognito authorizer accepts an ID token of any app client of the pool. No claims, the wrong issuer
or audience, an access token where an ID token is expected, or a past `exp` is a 401: never a
fallback to another identity, nor to the anonymous answer.
"""
from __future__ import annotations

import calendar
import json
import re
import time
from dataclasses import dataclass
from typing import Any, Mapping

from .errors import ApiError
from .settings import Settings

SIGN_IN = "sign-in required: send a signed-in shopper's ID token in the Authorization header"
MAX_ID_CHARS = 64
MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                                      "Nov", "Dec"), start=1)}
_GATEWAY_TIME = re.compile(r"^\w{3} (\w{3}) (\d{1,2}) (\d\d):(\d\d):(\d\d) (?:UTC|GMT) (\d{4})$")


@dataclass(frozen=True)
class Identity:
    customer_id: str       # from the configured claim (or its fallback)
    staff: bool            # member of the staff group
    subject: str           # `sub`, for the log


def claims_of(event: Mapping[str, Any]) -> dict[str, Any] | None:
    """The verified claims API Gateway put in the event, or None (no authorizer ran)."""
    context = event.get("requestContext") if isinstance(event, Mapping) else None
    authorizer = context.get("authorizer") if isinstance(context, Mapping) else None
    claims = authorizer.get("claims") if isinstance(authorizer, Mapping) else None
    if isinstance(claims, str):
        try:
            claims = json.loads(claims)
        except ValueError:
            return None
    return claims if isinstance(claims, dict) and claims else None


def epoch(value: Any) -> float | None:
    """A claim's time: a number, its text, or API Gateway's "Tue Apr 04 18:39:39 UTC 2023"."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value or "").strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    m = _GATEWAY_TIME.match(text)
    if not m or m.group(1) not in MONTHS:
        return None
    month, day, hh, mm, ss, year = MONTHS[m.group(1)], *(int(g) for g in m.groups()[1:])
    return float(calendar.timegm((year, month, day, hh, mm, ss)))


def groups_of(value: Any) -> set[str]:
    """A groups claim as a set: a list, "a,b", "[a b]" or "[a, b]"."""
    if isinstance(value, list):
        return {str(v) for v in value}
    text = str(value or "").strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    return {part for part in re.split(r"[,\s]+", text) if part}


def signed_in(event: Mapping[str, Any], settings: Settings, now: float | None = None) -> Identity:
    """The Identity of a signed-in route's caller; ApiError(401) when the claims do not hold one."""
    claims = claims_of(event)
    if claims is None:
        raise ApiError(401, SIGN_IN)
    if settings.token_issuer and claims.get("iss") != settings.token_issuer:
        raise ApiError(401, "the token was not issued for this API")
    if settings.token_audiences:
        aud = claims.get("aud") if claims.get("aud") is not None else claims.get("client_id")
        auds = aud if isinstance(aud, list) else [a for a in re.split(r"[,\s\[\]]+", str(aud or "")) if a]
        if not set(settings.token_audiences) & {str(a) for a in auds}:
            raise ApiError(401, "the token was not issued for this API")
    if claims.get("token_use") not in (None, "id"):
        raise ApiError(401, "an ID token is needed here, not an access token")
    expiry = epoch(claims.get("exp"))
    if expiry is not None and (time.time() if now is None else now) >= expiry:
        raise ApiError(401, "the sign-in has expired: sign in again")
    customer = claims.get(settings.customer_claim)
    if customer in (None, "") and settings.customer_claim_fallback:
        customer = claims.get(settings.customer_claim_fallback)
    customer = str(customer or "").strip()
    if not customer or len(customer) > MAX_ID_CHARS:
        raise ApiError(401, "the token names no customer")
    return Identity(customer_id=customer, staff=settings.staff_group in groups_of(claims.get(settings.groups_claim)),
                    subject=str(claims.get("sub") or ""))
