"""The OIDC token authorizer: API Gateway's Lambda (TOKEN) authorizer for a retailer's own
identity provider (the stack's `-c oidc_issuer=... -c oidc_audience=...`), doing what the
Cognito authorizer does for a user pool.

API Gateway calls it with `{"type": "TOKEN", "authorizationToken": "<Authorization header>",
"methodArn": "arn:aws:execute-api:<region>:<account>:<api>/<stage>/<METHOD>/<path>"}`. A token
that passes api/jwt.py's checks (RS256 signature by a key of the issuer's JWKS, issuer, audience,
expiry) gets an Allow policy for the API's signed-in routes and its claims in the context, which
API Gateway hands to the handler as `requestContext.authorizer.claims` (JSON text: context values
must be strings). Anything else raises "Unauthorized", API Gateway's 401. The policy names the
whole stage (`<api>/<stage>/*/*`) because API Gateway caches it per token.
"""
from __future__ import annotations

import json
import logging
import os
from typing import Any, Mapping

from .jwt import KeySet, TokenError, discover_jwks_url, fetch_json
from .settings import AuthorizerSettings, ConfigError

log = logging.getLogger("alsreco.api.authorizer")
UNAUTHORIZED = "Unauthorized"            # the exact text API Gateway turns into a 401
PASSED_CLAIMS = ("iss", "aud", "sub", "exp", "token_use", "client_id")


def bearer(header: Any) -> str:
    text = str(header or "").strip()
    return text[7:].strip() if text[:7].lower() == "bearer " else text


def stage_arn(method_arn: str) -> str:
    """arn:...:<api>/<stage>/* from a method ARN."""
    resource, _, path = str(method_arn).partition("/")
    stage = path.split("/", 1)[0]
    if not resource.startswith("arn:") or not stage:
        raise ValueError(f"not a method ARN: {str(method_arn)[:120]!r}")
    return f"{resource}/{stage}/*/*"


class Authorizer:
    def __init__(self, settings: AuthorizerSettings, keys: KeySet):
        self.settings = settings
        self.keys = keys

    def __call__(self, event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
        token = bearer(event.get("authorizationToken") if isinstance(event, Mapping) else None)
        try:
            claims = self.keys.verify(token, self.settings.issuer, self.settings.audiences)
        except TokenError as exc:
            log.info("token refused: %s", exc)
            raise Exception(UNAUTHORIZED) from None  # noqa: TRY002 - API Gateway's contract
        keep = (*PASSED_CLAIMS, self.settings.customer_claim, self.settings.groups_claim)
        passed = {name: claims[name] for name in keep if name in claims}
        return {
            "principalId": str(claims.get("sub") or "unknown"),
            "policyDocument": {"Version": "2012-10-17", "Statement": [{
                "Action": "execute-api:Invoke", "Effect": "Allow", "Resource": stage_arn(event["methodArn"])}]},
            "context": {"claims": json.dumps(passed, separators=(",", ":"))},
        }


def from_settings(settings: AuthorizerSettings) -> Authorizer:
    url = settings.jwks_url or (lambda: discover_jwks_url(settings.issuer, fetch_json))
    return Authorizer(settings, KeySet(url))


_STATE: dict[str, Authorizer] = {}


def lambda_handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """The authorizer function's handler (`api.authorizer.lambda_handler`)."""
    authorizer = _STATE.get("authorizer")
    if authorizer is None:
        logging.getLogger("alsreco").setLevel(logging.INFO)
        try:
            settings = AuthorizerSettings.from_env(os.environ)
        except ConfigError:
            log.exception("bad configuration")
            raise Exception(UNAUTHORIZED) from None  # noqa: TRY002 - fail closed
        authorizer = _STATE["authorizer"] = from_settings(settings)
    return authorizer(event, context)
