"""Everything the Lambda is configured with, read once from the environment at cold start.

`Settings.from_env(os.environ)` is called by the entry point (api/handler.py) the first time the
container handles a request; every other function takes the Settings object it needs.

| variable | default | meaning |
|---|---|---|
| `ENDPOINT_NAME` | (required) | SageMaker endpoint to invoke |
| `ALLOWED_ORIGIN` | (none: no CORS) | the page's origin, e.g. `https://shop.example.com`; several: commas; `*` = any |
| `CONNECT_TIMEOUT` | `2` | seconds to connect to the SageMaker runtime |
| `READ_TIMEOUT` | `8` | seconds to wait for the endpoint's answer (keep below the Lambda timeout) |
| `MAX_ATTEMPTS` | `2` | total attempts per call (botocore standard retries: throttling, 5xx) |
| `MAX_BODY_BYTES` | `16384` | largest request body accepted (413 beyond) |
| `MAX_K` | `100` | largest `k` a caller may ask for |
| `MAX_IDS` | `100` | longest id list (`items`, `exclude_items`, ...) a caller may send |
| `SAGEMAKER_ENDPOINT_URL` | (AWS) | talk to this URL instead, e.g. a local `serve` (tests, `make web`) |
| `AWS_REGION` | set by Lambda | region of the runtime client |
| `CUSTOMER_CLAIM` | `custom:customer_id` | the verified token's claim holding the shopper's customer id |
| `CUSTOMER_CLAIM_FALLBACK` | `sub` | the claim used when that one is absent; empty = none (401 instead) |
| `GROUPS_CLAIM` | `cognito:groups` | the claim listing the user's groups |
| `STAFF_GROUP` | `staff` | members of this group may look up any customer (POST /staff/recommendations) |
| `TOKEN_ISSUER` | (not checked) | the authorizer's claims must carry this `iss` |
| `TOKEN_AUDIENCES` | (not checked) | and one of these `aud` / `client_id` (commas); the stack sets both |
| `OIDC_ISSUER`, `OIDC_AUDIENCES` | | the OIDC token authorizer's (api/authorizer.py) issuer and audiences |
| `OIDC_JWKS_URL` | (discovered) | its key set; default: `jwks_uri` of the issuer's OpenID configuration |
| `EVENTS_TABLE` | (none: no events routes) | DynamoDB table of each shopper's recent events (docs/live.md) |
| `EVENTS_STREAM` | (none: not kept for training) | Firehose stream that lands the events in S3 |
| `SIGNING_SECRET_ARN` | | Secrets Manager secret whose value signs session and recommendation ids (cold start) |
| `SIGNING_KEY` | | the key itself, at least 32 characters (local runs and tests; the stack uses the secret) |
| `EVENTS_ENDPOINT_URL` | (AWS) | DynamoDB, Firehose and Secrets Manager at this URL instead (moto: tests, `make web`) |
| `EVENT_WEIGHTS` | `view=1,add_to_cart=2,purchase=4` | a visit product's score per event (api/behaviour.py) |
| `VISIT_TTL_HOURS` | `24` | events are kept this long after a shopper's last one (TTL); session ids last this long |
| `VISIT_EVENTS` | `50` | newest events kept per shopper |
| `VISIT_ITEMS` | `20` | at most this many of the visit's products are folded into a list |
| `MAX_EVENTS` | `25` | events per POST /events |
| `MAX_EVENT_AGE_HOURS` | `24` | the oldest `timestamp` accepted |
| `STORE_TIMEOUT` | `1` | seconds to connect to / wait for DynamoDB and Firehose (then: answered without the visit) |
| `METRICS_NAMESPACE` | `Alsreco/Storefront` | CloudWatch namespace of the EMF metric lines (api/metrics.py) |
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from .schema import event_types

# a visit product's score per event type (api/behaviour.py); remove_from_cart takes add_to_cart's away.
# The same defaults as `train`'s event_weight_* hyperparameters (alsreco/core/hyperparameters.py).
DEFAULT_WEIGHTS = {"view": 1.0, "add_to_cart": 2.0, "purchase": 4.0}


class ConfigError(ValueError):
    """A missing or malformed environment variable (the Lambda cannot start)."""


def _list(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in env.get(name, "").split(",") if v.strip())


def _number(env: Mapping[str, str], name: str, default: float, low: float, high: float, kind=float):
    raw = env.get(name, "").strip()
    if not raw:
        return kind(default)
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a {kind.__name__}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}={raw!r} is outside [{low}, {high}]")
    return value


def _key(env: Mapping[str, str]) -> bytes | None:
    raw = env.get("SIGNING_KEY", "")
    if raw and len(raw.encode()) < 32:
        raise ConfigError("SIGNING_KEY is shorter than 32 characters")
    return raw.encode() if raw else None


def _weights(env: Mapping[str, str]) -> tuple[tuple[str, float], ...]:
    """EVENT_WEIGHTS="view=1,add_to_cart=2,purchase=4": every type but remove_from_cart, >= 0."""
    raw = env.get("EVENT_WEIGHTS", "").strip()
    if not raw:
        return tuple(DEFAULT_WEIGHTS.items())
    out: dict[str, float] = {}
    for part in raw.split(","):
        name, _, value = part.partition("=")
        name = name.strip()
        if name not in event_types() or name not in DEFAULT_WEIGHTS:
            raise ConfigError(f"EVENT_WEIGHTS: {name!r} is not one of {', '.join(DEFAULT_WEIGHTS)} "
                              "(remove_from_cart takes add_to_cart's weight away)")
        try:
            out[name] = float(value)
        except ValueError:
            raise ConfigError(f"EVENT_WEIGHTS: {part.strip()!r} is not name=number") from None
        if not 0 <= out[name] <= 1000:
            raise ConfigError(f"EVENT_WEIGHTS: {name} must be in [0, 1000]")
    missing = set(DEFAULT_WEIGHTS) - set(out)
    if missing:
        raise ConfigError(f"EVENT_WEIGHTS: no weight for {', '.join(sorted(missing))}")
    return tuple((k, out[k]) for k in DEFAULT_WEIGHTS)


@dataclass(frozen=True)
class Settings:
    endpoint_name: str
    allowed_origins: tuple[str, ...] = ()
    connect_timeout: float = 2.0
    read_timeout: float = 8.0
    max_attempts: int = 2
    max_body_bytes: int = 16384
    max_k: int = 100
    max_ids: int = 100
    endpoint_url: str | None = None
    region: str = "us-east-1"
    customer_claim: str = "custom:customer_id"
    customer_claim_fallback: str = "sub"
    groups_claim: str = "cognito:groups"
    staff_group: str = "staff"
    token_issuer: str | None = None
    token_audiences: tuple[str, ...] = ()
    events_table: str | None = None
    events_stream: str | None = None
    signing_secret_arn: str | None = None
    signing_key: bytes | None = None
    events_endpoint_url: str | None = None
    event_weights: tuple[tuple[str, float], ...] = tuple(DEFAULT_WEIGHTS.items())
    visit_ttl_hours: float = 24.0
    visit_events: int = 50
    visit_items: int = 20
    max_events: int = 25
    max_event_age_hours: float = 24.0
    store_timeout: float = 1.0
    metrics_namespace: str = "Alsreco/Storefront"

    @property
    def weights(self) -> dict[str, float]:
        return dict(self.event_weights)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "Settings":
        name = env.get("ENDPOINT_NAME", "").strip()
        if not name:
            raise ConfigError("ENDPOINT_NAME is not set: the SageMaker endpoint to invoke")
        origins = tuple(o.strip().rstrip("/") for o in env.get("ALLOWED_ORIGIN", "").split(",") if o.strip())
        if env.get("EVENTS_TABLE", "").strip() and not (env.get("SIGNING_KEY") or env.get("SIGNING_SECRET_ARN")):
            raise ConfigError("EVENTS_TABLE is set without SIGNING_SECRET_ARN (or SIGNING_KEY): session ids "
                              "cannot be signed")
        return cls(
            endpoint_name=name,
            allowed_origins=origins,
            connect_timeout=_number(env, "CONNECT_TIMEOUT", 2, 0.1, 60),
            read_timeout=_number(env, "READ_TIMEOUT", 8, 0.1, 900),
            max_attempts=_number(env, "MAX_ATTEMPTS", 2, 1, 10, int),
            max_body_bytes=_number(env, "MAX_BODY_BYTES", 16384, 64, 6 * 1024 * 1024, int),
            max_k=_number(env, "MAX_K", 100, 1, 1000, int),
            max_ids=_number(env, "MAX_IDS", 100, 1, 10000, int),
            endpoint_url=env.get("SAGEMAKER_ENDPOINT_URL", "").strip() or None,
            region=env.get("AWS_REGION", "").strip() or env.get("AWS_DEFAULT_REGION", "").strip() or "us-east-1",
            customer_claim=env.get("CUSTOMER_CLAIM", "").strip() or "custom:customer_id",
            customer_claim_fallback=env.get("CUSTOMER_CLAIM_FALLBACK", "sub").strip(),
            groups_claim=env.get("GROUPS_CLAIM", "").strip() or "cognito:groups",
            staff_group=env.get("STAFF_GROUP", "").strip() or "staff",
            token_issuer=env.get("TOKEN_ISSUER", "").strip() or None,
            token_audiences=_list(env, "TOKEN_AUDIENCES"),
            events_table=env.get("EVENTS_TABLE", "").strip() or None,
            events_stream=env.get("EVENTS_STREAM", "").strip() or None,
            signing_secret_arn=env.get("SIGNING_SECRET_ARN", "").strip() or None,
            signing_key=_key(env),
            events_endpoint_url=env.get("EVENTS_ENDPOINT_URL", "").strip() or None,
            event_weights=_weights(env),
            visit_ttl_hours=_number(env, "VISIT_TTL_HOURS", 24, 0.1, 24 * 30),
            visit_events=_number(env, "VISIT_EVENTS", 50, 1, 1000, int),
            visit_items=_number(env, "VISIT_ITEMS", 20, 1, 10000, int),
            max_events=_number(env, "MAX_EVENTS", 25, 1, 500, int),
            max_event_age_hours=_number(env, "MAX_EVENT_AGE_HOURS", 24, 0.1, 24 * 30),
            store_timeout=_number(env, "STORE_TIMEOUT", 1, 0.1, 10),
            metrics_namespace=env.get("METRICS_NAMESPACE", "").strip() or "Alsreco/Storefront",
        )

    def cors_origin(self, origin: str | None) -> str | None:
        """The Access-Control-Allow-Origin value for a request from `origin`, or None (no CORS)."""
        if "*" in self.allowed_origins:
            return "*"
        if origin and origin.rstrip("/") in self.allowed_origins:
            return origin.rstrip("/")
        return None


@dataclass(frozen=True)
class AuthorizerSettings:
    """The OIDC token authorizer's configuration (api/authorizer.py)."""
    issuer: str
    audiences: tuple[str, ...]
    jwks_url: str | None = None
    customer_claim: str = "custom:customer_id"
    groups_claim: str = "cognito:groups"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "AuthorizerSettings":
        issuer = env.get("OIDC_ISSUER", "").strip()
        audiences = _list(env, "OIDC_AUDIENCES")
        if not issuer.startswith("https://"):
            raise ConfigError(f"OIDC_ISSUER={issuer!r}: the issuer's https:// URL is required")
        if not audiences:
            raise ConfigError("OIDC_AUDIENCES is not set: the audience(s) (client ids) tokens must carry")
        return cls(issuer=issuer, audiences=audiences, jwks_url=env.get("OIDC_JWKS_URL", "").strip() or None,
                   customer_claim=env.get("CUSTOMER_CLAIM", "").strip() or "custom:customer_id",
                   groups_claim=env.get("GROUPS_CLAIM", "").strip() or "cognito:groups")
