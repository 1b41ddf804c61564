"""OpenAPI documentation of problem+json error responses, per route."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from api.problems import PROBLEM_JSON

_WHY = {
    400: "Missing or malformed Idempotency-Key",
    401: "Missing or invalid bearer token",
    403: "The token lacks the required scope",
    404: "No such resource (or not yours)",
    409: "A request with this Idempotency-Key is still in flight; see Retry-After",
    413: "Request body too large",
    415: "The request body is not application/json",
    422: "The request body is invalid, or the Idempotency-Key was used with another body",
    429: "Too many orders from this caller; see Retry-After",
    503: "A dependency (database, token issuer) is unavailable; retry later",
}

_RETRY_AFTER = {"schema": {"type": "integer"}, "description": "seconds to wait, at least 1"}
_HEADERS: dict[int, dict[str, dict[str, Any]]] = {
    401: {
        "WWW-Authenticate": {
            "required": True,
            "schema": {"type": "string"},
            "description": 'RFC 6750 challenge: `Bearer error="invalid_token"` for a bad token',
        }
    },
    403: {
        "WWW-Authenticate": {
            "required": True,
            "schema": {"type": "string"},
            "description": 'RFC 6750 challenge: `Bearer error="insufficient_scope"` and the scope',
        }
    },
    409: {"Retry-After": {**_RETRY_AFTER, "required": True}},
    429: {"Retry-After": {**_RETRY_AFTER, "required": True}},
    503: {"Retry-After": _RETRY_AFTER},
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    # Problem itself is registered under components by api/openapi.py.
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        response: dict[str, Any] = {
            "description": _WHY.get(status, HTTPStatus(status).phrase),
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        if status in _HEADERS:
            response["headers"] = _HEADERS[status]
        responses[status] = response
    return responses
