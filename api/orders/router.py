"""HTTP endpoints for orders: parse, authorize, delegate to the service."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.responses import JSONResponse

from api.auth import OrderReader, OrderWriter
from api.dependencies import AppSettings, SessionFactory, TemporalClient
from api.idempotency.header import parse_idempotency_key
from api.orders.access import visible_order
from api.orders.schemas import OrderCreate, OrderOut
from api.orders.service import OrderService, order_out
from api.responses import problem_responses

router = APIRouter(tags=["orders"])


def _service(
    settings: AppSettings, sessions: SessionFactory, temporal: TemporalClient
) -> OrderService:
    return OrderService(settings, sessions, temporal)


Service = Annotated[OrderService, Depends(_service)]

IDEMPOTENCY_KEY_DOC = (
    "Unique per order attempt, 1-255 printable ASCII characters (bare or as a quoted "
    "structured-field string). Scoped to the caller. A retry with the same key and body replays "
    "the stored response with `Idempotent-Replayed: true`; the same key with another body is 422; "
    "while the first request is in flight, 409 with Retry-After. Keys are kept for 24 hours. "
    "Missing or malformed: 400, checked before anything is looked up or stored."
)


@router.post(
    "/orders",
    status_code=201,
    response_model=OrderOut,
    summary="Place an order (idempotent)",
    responses={
        201: {
            "description": "Order accepted, or the stored response replayed",
            "headers": {
                "Location": {"schema": {"type": "string"}, "description": "/orders/{id}"},
                "Idempotent-Replayed": {
                    "schema": {"type": "string", "enum": ["true"]},
                    "description": "Present when this is a replay of an earlier response",
                },
            },
        },
        **problem_responses(400, 401, 403, 409, 422, 503),
    },
)
async def place_order(
    request: Request,
    body: OrderCreate,
    principal: OrderWriter,
    service: Service,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", description=IDEMPOTENCY_KEY_DOC)
    ] = None,
) -> Response:
    key = parse_idempotency_key(idempotency_key)
    placed = await service.place(principal.subject, key, body, request.url.path)
    headers = {"Location": placed.location} if placed.location else {}
    if placed.replayed:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(placed.body, status_code=placed.status_code, headers=headers)


@router.get(
    "/orders/{order_id}",
    response_model=OrderOut,
    summary="Fetch an order and its status",
    responses=problem_responses(401, 403, 404, 503),
)
async def get_order(order_id: str, principal: OrderReader, service: Service) -> OrderOut:
    return order_out(await visible_order(service, order_id, principal))
