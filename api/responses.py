"""OpenAPI documentation of problem+json error responses, per route."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from api.problems import PROBLEM_JSON, Problem

_WHY = {
    400: "Missing or malformed Idempotency-Key",
    401: "Missing or invalid bearer token",
    403: "The token lacks the required scope",
    404: "No such resource (or not yours)",
    409: "A request with this Idempotency-Key is still in flight; see Retry-After",
    413: "Request body too large",
    422: "The request body is invalid, or the Idempotency-Key was used with another body",
    429: "Too many requests; see Retry-After",
    503: "A dependency is unavailable",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {
        status: {
            "description": _WHY.get(status, HTTPStatus(status).phrase),
            "model": Problem,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }
