"""The SageMaker runtime client (one per container) and what its failures mean for the caller.

A real endpoint answers a container error with `ModelError` (HTTP 424) carrying the container's
`OriginalStatusCode` and `OriginalMessage`; a local `serve` reached through `endpoint_url`
answers with the container's own status and body, which `_keep_container_error` files under the
same two keys, so both are read the same way. Container 4xx come back to the caller with the
container's message; everything else becomes a 502 (or 504 for time-outs) with a fixed message,
and the details go to the log only.
"""
from __future__ import annotations

import json
import logging
from typing import Any

from .errors import ApiError
from .settings import Settings

log = logging.getLogger("alsreco.api")

UNAVAILABLE = "the recommendation service is unavailable; try again shortly"
BUSY = "the recommendation service is busy; try again shortly"
TIMEOUT = "the recommendation service did not answer in time"
FAILED = "the recommendation service failed to answer this request"
MAX_MESSAGE = 500
SERVICE_BUSY = {"ThrottlingException", "Throttling", "TooManyRequestsException", "ModelNotReadyException",
                "ServiceUnavailable", "ServiceUnavailableException"}


def make_client(settings: Settings):
    """A sagemaker-runtime client with the configured time-outs and retries."""
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=settings.connect_timeout, read_timeout=settings.read_timeout,
                    retries={"total_max_attempts": settings.max_attempts, "mode": "standard"})
    client = boto3.client("sagemaker-runtime", region_name=settings.region, endpoint_url=settings.endpoint_url,
                          config=config)
    client.meta.events.register("after-call.sagemaker-runtime.InvokeEndpoint", _keep_container_error)
    return client


def _keep_container_error(http_response=None, parsed=None, **_: Any) -> None:
    """A local server's error body would be lost by the JSON error parser: keep it."""
    if http_response is None or parsed is None or http_response.status_code < 400:
        return
    if "OriginalStatusCode" in parsed or not str(parsed.get("Error", {}).get("Code", "")).isdigit():
        return
    parsed["OriginalStatusCode"] = http_response.status_code
    parsed["OriginalMessage"] = http_response.content.decode("utf-8", "replace")[:4096]


def invoke(client, settings: Settings, payload: dict[str, Any]) -> dict[str, Any]:
    """POST `payload` to the endpoint; its JSON answer, or ApiError."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        out = client.invoke_endpoint(EndpointName=settings.endpoint_name, ContentType="application/json",
                                     Accept="application/json", Body=json.dumps(payload).encode())
        raw = out["Body"].read()
    except ClientError as exc:
        raise classify_client_error(exc) from exc
    except BotoCoreError as exc:
        raise classify_transport_error(exc) from exc
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        log.error("endpoint answered with a body that is not JSON: %r", raw[:200])
        raise ApiError(502, FAILED) from None
    if not isinstance(data, dict) or not isinstance(data.get("predictions"), list) or not data["predictions"]:
        log.error("endpoint answered without predictions: %r", raw[:200])
        raise ApiError(502, FAILED)
    return data


def container_message(original: Any) -> str:
    """The container's error text: `error` of its JSON body, else the body itself (truncated)."""
    text = original if isinstance(original, str) else ""
    try:
        body = json.loads(text)
        if isinstance(body, dict) and isinstance(body.get("error"), str):
            text = body["error"]
    except ValueError:
        pass
    return (text.strip() or "the model rejected the request")[:MAX_MESSAGE]


def classify_client_error(exc) -> ApiError:
    response = getattr(exc, "response", {}) or {}
    code = str(response.get("Error", {}).get("Code", ""))
    original = response.get("OriginalStatusCode")
    log.warning("endpoint error %s (container status %s): %s", code, original,
                response.get("OriginalMessage") or response.get("Error", {}).get("Message"))
    if original is not None:
        status = int(original)
        message = str(response.get("OriginalMessage") or "")
        if status in (408, 504) or "timed out" in message.lower():
            return ApiError(504, TIMEOUT)
        if status == 429:
            return ApiError(502, BUSY)
        if 400 <= status < 500:
            return ApiError(status, container_message(message))
        return ApiError(502, FAILED)
    if code in SERVICE_BUSY:
        return ApiError(502, BUSY)
    if code == "ModelError" and "timed out" in str(response.get("Error", {}).get("Message", "")).lower():
        return ApiError(504, TIMEOUT)
    return ApiError(502, UNAVAILABLE if code != "ModelError" else FAILED)


def classify_transport_error(exc) -> ApiError:
    from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError

    log.warning("endpoint unreachable: %s: %s", type(exc).__name__, exc)
    if isinstance(exc, (ReadTimeoutError, ConnectTimeoutError)):
        return ApiError(504, TIMEOUT)
    return ApiError(502, UNAVAILABLE)
