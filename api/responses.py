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
    413: "Request body too large",
    415: "The request body is not application/json",
    422: "The request body is invalid, or the Idempotency-Key was used with another body",
    429: "Too many orders from this caller; see Retry-After",
    431: "The request headers are too large in total (api/header_limit.py)",
    503: "A dependency (database, Temporal, token issuer) is unavailable; retry later",
}

RETRY_AFTER = {"schema": {"type": "integer"}, "description": "seconds to wait, at least 1"}
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
    429: {"Retry-After": {**RETRY_AFTER, "required": True}},
    503: {"Retry-After": RETRY_AFTER},
}


def problem_response_doc(
    status: int,
    problem_types: dict[str, str],
    *,
    headers: dict[str, dict[str, Any]] | None = None,
) -> dict[int | str, dict[str, Any]]:
    """One status whose meaning depends on the route (409 above all): its problem types, each
    with when it happens, and exactly the headers those answers carry."""
    kinds = "; ".join(f"`{slug}`: {when}" for slug, when in problem_types.items())
    response: dict[str, Any] = {
        "description": f"{HTTPStatus(status).phrase}. Problem types: {kinds}",
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    if headers:
        response["headers"] = headers
    return {status: response}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    # Problem itself is registered under components by api/openapi.py. A 409 means something
    # different on each route, so routes document theirs with problem_response_doc.
    assert 409 not in statuses, "document 409 with problem_response_doc"
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


def header_limit_response() -> dict[str, Any]:
    """The 431 every route can answer: the header cap runs outermost, before any routing."""
    return problem_responses(431)[431]


def order_links(*, get: bool = True, cancel: bool = True) -> dict[str, Any]:
    """OpenAPI links from a response that carries an order to what can follow it, so clients and
    stateful contract tests can chain create, get and cancel."""
    order_id = {"order_id": "$response.body#/id"}
    links: dict[str, Any] = {}
    if get:
        links["GetOrder"] = {
            "operationId": "get_order_orders__order_id__get",
            "parameters": order_id,
            "description": "The order just answered, by its `id`",
        }
    if cancel:
        links["CancelOrder"] = {
            "operationId": "cancel_order_orders__order_id__cancel_post",
            "parameters": order_id,
            "description": "Cancel the order just answered, by its `id`",
        }
    return links


ORDER_PAGE_LINKS = {
    "NextPage": {
        "operationId": "list_orders_orders_get",
        "parameters": {"cursor": "$response.body#/next_cursor"},
        "description": "The next page, by `next_cursor` (absent on the last page); send the same "
        "filters again, or follow `next`, which carries them",
    },
    "GetFirstOrder": {
        "operationId": "get_order_orders__order_id__get",
        "parameters": {"order_id": "$response.body#/items/0/id"},
        "description": "The newest order of the page, by its `id`",
    },
}

REDRIVE_FIRST_LINK = {
    "RedriveFirst": {
        "operationId": "redrive_dead_letters__dead_letter_id__redrive_post",
        "parameters": {"dead_letter_id": "$response.body#/items/0/id"},
        "description": "Redrive the oldest dead letter of the page",
    }
}
