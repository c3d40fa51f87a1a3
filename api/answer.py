"""The storefront's answer: the endpoint's one prediction, with names, ids and the model version."""
from __future__ import annotations

from typing import Any

from .endpoint import FAILED, container_message
from .errors import ApiError

PREDICTION_KEYS = ("customer_id", "item_id", "known", "unknown_items")
RECOMMENDATION_KEYS = ("product_id", "name", "score", "reason")


def _recommendation(rec: Any) -> dict[str, Any]:
    if not isinstance(rec, dict) or "product_id" not in rec:
        raise ApiError(502, FAILED)
    out = {key: rec.get(key) for key in RECOMMENDATION_KEYS}
    out["product_id"] = str(out["product_id"])
    if not out["name"]:
        out["name"] = None
    return out


def storefront_answer(data: dict[str, Any], request_id: str) -> dict[str, Any]:
    """`{"request_id", "model_version", "recommendation_id", <prediction>}` from /invocations JSON.

    A per-record error of the endpoint (`{"error": ...}` in place of the prediction) is the
    caller's: 400 with its message.
    """
    prediction = data["predictions"][0]
    if not isinstance(prediction, dict):
        raise ApiError(502, FAILED)
    if "error" in prediction and "recommendations" not in prediction:
        raise ApiError(400, container_message(str(prediction.get("error"))))
    recommendations = prediction.get("recommendations")
    if not isinstance(recommendations, list):
        raise ApiError(502, FAILED)
    answer: dict[str, Any] = {
        "request_id": request_id,
        "model_version": data.get("model_version"),
        "recommendation_id": prediction.get("recommendation_id", data.get("recommendation_id")),
    }
    answer.update({key: prediction[key] for key in PREDICTION_KEYS if key in prediction})
    answer["recommendations"] = [_recommendation(rec) for rec in recommendations]
    return answer
