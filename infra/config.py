"""Synth-time options of the storefront stack (CDK context values, `-c name=value`).

Deploy-time values (the image, the model data, instance type/count, the allowed origin) are
CloudFormation parameters instead (infra/stack.py), so one synthesized template serves any model.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any, Mapping

NAME = re.compile(r"^[a-z0-9](-*[a-z0-9]){0,50}$")
CLAIM = re.compile(r"^[A-Za-z0-9_:.\-]{1,64}$")
HTTPS_URL = re.compile(r"^https://[^\s,*]+$")
SCHEDULE = re.compile(r"^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\([^()]{9,200}\))$")
INSTANCE = re.compile(r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
NAMESPACE = re.compile(r"^[A-Za-z0-9._/#:-]{1,255}$")


class ContextError(ValueError):
    pass


def _bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ContextError(f"{name}={value!r}: expected true or false")


def _int(name: str, value: Any, low: int, high: int) -> int:
    try:
        number = int(str(value))
    except ValueError:
        raise ContextError(f"{name}={value!r}: expected an integer") from None
    if not low <= number <= high:
        raise ContextError(f"{name}={value!r}: expected {low}..{high}")
    return number


@dataclass(frozen=True)
class StackConfig:
    endpoint_name: str = "alsreco-storefront"   # lower case: SageMaker lower-cases names in ARNs
    api_key: bool = False            # require an API key (X-Api-Key) with a usage plan
    throttle_rate: int = 10          # stage-wide steady requests per second
    throttle_burst: int = 20         # stage-wide burst
    quota_per_day: int = 10000       # usage plan quota (with api_key)
    max_body_bytes: int = 16384      # the Lambda's body limit (API Gateway's own is 10 MB)
    max_k: int = 100
    max_ids: int = 100
    read_timeout: int = 8            # seconds the Lambda waits for the endpoint
    memory_mb: int = 256
    reserved_concurrency: int = 0    # 0 = none reserved
    # sign-in: a Cognito user pool made by the stack, or (oidc_issuer set) the retailer's OIDC issuer
    oidc_issuer: str = ""            # e.g. https://login.example.com/ (its OpenID configuration is read)
    oidc_audience: str = ""          # the client id(s) its tokens carry in `aud` (commas)
    oidc_jwks_url: str = ""          # default: jwks_uri of the issuer's OpenID configuration
    customer_claim: str = "custom:customer_id"   # the verified claim holding the customer id
    groups_claim: str = "cognito:groups"
    staff_group: str = "staff"
    # abuse limits per client: an AWS WAF web ACL on the stage with a rate-based rule per IP
    waf: bool = True
    waf_rate_limit: int = 600        # requests per IP per 5 minutes (AWS WAF's window)
    # shoppers' events (docs/live.md): POST /events, the visit in DynamoDB, Firehose to S3, metrics, dashboard
    events: bool = True
    max_events: int = 25             # events per POST /events
    visit_ttl_hours: int = 24        # a shopper's recent events live this long after the last one
    events_retention_days: int = 400  # events kept in S3 for training
    metrics_namespace: str = "Alsreco/Storefront"
    # retraining that runs itself: EventBridge Scheduler -> Step Functions (needs events: its data bucket)
    retrain: bool = True
    retrain_schedule: str = "cron(0 3 * * ? *)"   # every day at 03:00 UTC
    training_instance_type: str = "ml.m5.xlarge"
    training_hours: int = 4          # the training job's time limit
    rollback_5xx: int = 5            # endpoint 5xx per minute that roll a new model back

    @classmethod
    def from_context(cls, context: Mapping[str, Any]) -> "StackConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(context) - known)
        if unknown:
            raise ContextError(f"unknown context value {unknown[0]!r}; known: {', '.join(sorted(known))}")
        values: dict[str, Any] = {}
        limits = {"throttle_rate": (1, 10000), "throttle_burst": (1, 5000), "quota_per_day": (1, 10**9),
                  "max_body_bytes": (1024, 6 * 1024 * 1024), "max_k": (1, 1000), "max_ids": (1, 10000),
                  "read_timeout": (1, 25), "memory_mb": (128, 10240), "reserved_concurrency": (0, 1000),
                  "waf_rate_limit": (10, 2_000_000_000), "visit_ttl_hours": (1, 720), "max_events": (1, 500),
                  "events_retention_days": (1, 3650), "training_hours": (1, 120), "rollback_5xx": (1, 100000)}
        for name, value in context.items():
            if name in ("api_key", "waf", "events", "retrain"):
                values[name] = _bool(name, value)
            elif name == "retrain_schedule":
                if not SCHEDULE.match(str(value)):
                    raise ContextError(f"retrain_schedule={value!r}: an EventBridge Scheduler expression, e.g. "
                                       "'cron(0 3 * * ? *)' or 'rate(1 day)'")
                values[name] = str(value)
            elif name == "training_instance_type":
                if not INSTANCE.match(str(value)):
                    raise ContextError(f"training_instance_type={value!r}: e.g. ml.m5.xlarge")
                values[name] = str(value)
            elif name == "metrics_namespace":
                if not NAMESPACE.match(str(value)):
                    raise ContextError(f"metrics_namespace={value!r}: letters, digits and . - _ / # : (max 255)")
                values[name] = str(value)
            elif name == "endpoint_name":
                if not NAME.match(str(value)):
                    raise ContextError(f"endpoint_name={value!r}: lower-case letters, digits and '-', max 51")
                values[name] = str(value)
            elif name in ("oidc_issuer", "oidc_jwks_url"):
                if str(value) and not HTTPS_URL.match(str(value)):
                    raise ContextError(f"{name}={value!r}: an https:// URL")
                values[name] = str(value)
            elif name == "oidc_audience":
                values[name] = ",".join(a.strip() for a in str(value).split(",") if a.strip())
            elif name in ("customer_claim", "groups_claim", "staff_group"):
                if not CLAIM.match(str(value)):
                    raise ContextError(f"{name}={value!r}: letters, digits and _ : . - (max 64)")
                values[name] = str(value)
            else:
                values[name] = _int(name, value, *limits[name])
        config = cls(**values)
        if config.throttle_burst < config.throttle_rate:
            raise ContextError("throttle_burst must be at least throttle_rate")
        if bool(config.oidc_issuer) != bool(config.oidc_audience):
            raise ContextError("oidc_issuer and oidc_audience go together (the issuer, and the client id its "
                               "tokens are issued to)")
        if config.oidc_jwks_url and not config.oidc_issuer:
            raise ContextError("oidc_jwks_url needs oidc_issuer")
        if config.retrain and not config.events:
            raise ContextError("retrain needs events (the pipeline trains on them, in their bucket); "
                               "-c retrain=false with -c events=false")
        return config

    @property
    def oidc(self) -> bool:
        """Sign-in by the retailer's own OIDC issuer instead of a user pool made by the stack."""
        return bool(self.oidc_issuer)

    @property
    def lambda_timeout(self) -> int:
        """Two endpoint attempts plus slack, within API Gateway's 29 s integration limit."""
        return min(2 * self.read_timeout + 4, 29)
