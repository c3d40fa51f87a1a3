"""The storefront's answer: the endpoint's one prediction, with names, ids and the model version.

What a shopper's answer holds is about products only: the list, the product ids of their own
request that the model does not know (`unknown_items`) and, for similar products, the `item_id`.
Whether a customer id is known to the model (`known`) and the id itself are in staff answers only,
so an unknown customer, a customer without history and a brand-new account look the same.
"""
from __future__ import annotations

from typing import Any

from .endpoint import FAILED, container_message
from .errors import ApiError

PREDICTION_KEYS = ("item_id", "unknown_items")
STAFF_KEYS = ("customer_id", "known")
RECOMMENDATION_KEYS = ("product_id", "name", "score", "reason", "attributes")


def _recommendation(rec: Any) -> dict[str, Any]:
    if not isinstance(rec, dict) or "product_id" not in rec:
        raise ApiError(502, FAILED)
    out = {key: rec.get(key) for key in RECOMMENDATION_KEYS if key != "attributes" or key in rec}
    out["product_id"] = str(out["product_id"])
    if not out["name"]:
        out["name"] = None
    return out


def storefront_answer(data: dict[str, Any], request_id: str, staff: bool = False) -> dict[str, Any]:
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
    keys = PREDICTION_KEYS + (STAFF_KEYS if staff else ())
    answer.update({key: prediction[key] for key in keys if prediction.get(key) is not None})
    answer["recommendations"] = [_recommendation(rec) for rec in recommendations]
    return answer
