"""HTTP endpoints for orders: parse, authorize, delegate to the service."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from api.auth import OrderReader, OrderWriter, Principal
from api.body import json_body, optional_json_body
from api.dependencies import (
    AppSettings,
    SessionFactory,
    StatusChanges,
    Views,
)
from api.idempotency.header import IdempotencyKeyHeader
from api.orders.access import visible_order, visible_order_view
from api.orders.cursor import PagePosition
from api.orders.events import OrderEventStream
from api.orders.repository import OrderFilter
from api.orders.schemas import CancelIn, OrderCreate, OrderListQuery, OrderOut, OrderPage
from api.orders.service import CANCEL_RETRY_AFTER_SECONDS, OrderService, order_out
from api.problems import ProblemError
from api.ratelimit import OrderRateLimit
from api.responses import (
    ORDER_PAGE_LINKS,
    RETRY_AFTER,
    order_links,
    problem_response_doc,
    problem_responses,
)
from foundation.domain import Scope

router = APIRouter(tags=["orders"])


async def _service(request: Request) -> OrderService:
    # Built once at start-up (api/main.py): it holds only the app's shared parts, and six
    # dependencies solved on every request cost more than the handler's own work on a replay.
    return request.app.state.order_service  # type: ignore[no-any-return]


Service = Annotated[OrderService, Depends(_service)]


async def _event_stream(
    settings: AppSettings, sessions: SessionFactory, listener: StatusChanges
) -> OrderEventStream:
    return OrderEventStream(settings, sessions, listener)


EventStream = Annotated[OrderEventStream, Depends(_event_stream)]
# History row ids are PostgreSQL bigints.
MAX_EVENT_ID = 2**63 - 1
# OpenAPI 3.1 documents an event stream by the schema of one event, as its fields arrive.
STATUS_EVENT_SCHEMA = {
    "type": "object",
    "required": ["event", "id", "data"],
    "properties": {
        "event": {"const": "status"},
        "id": {"type": "string", "pattern": "^[0-9]+$", "description": "the change's id"},
        "data": {
            "type": "string",
            "contentMediaType": "application/json",
            "contentSchema": {"$ref": "#/components/schemas/StatusChangeEvent"},
        },
    },
}
EVENT_STREAM_DOC = (
    "`text/event-stream`: one `status` event per change, oldest first, its `id` the change's and "
    "its `data` a JSON StatusChangeEvent; `: keep-alive` comments while idle. The stream ends "
    "after COMPLETED, FAILED or CANCELLED, or after a while (reconnect with `Last-Event-ID`)."
)

# The body is parsed by a dependency (see api/body.py), so it is documented by hand.
ORDER_CREATE_BODY = {
    "required": True,
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/OrderCreate"}}},
}


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
            "links": order_links(),
        },
        **problem_responses(400, 401, 403, 413, 415, 422, 429),
        **problem_response_doc(
            409,
            {"idempotency-key-in-flight": "a request with this key is still being processed"},
            headers={"Retry-After": {**RETRY_AFTER, "required": True}},
        ),
        **problem_response_doc(
            503,
            {
                "intake-overloaded": "more accepted orders await their workflow start than "
                "ORDER_API_MAX_START_BACKLOG; nothing was stored, retry the same request later",
                "service-unavailable": "the database is unreachable; retry later",
                "token-keys-unavailable": "the token issuer's keys cannot be fetched",
            },
            headers={"Retry-After": RETRY_AFTER},
        ),
    },
    openapi_extra={"requestBody": ORDER_CREATE_BODY},
)
async def place_order(
    request: Request,
    # Checked in this order: token and scope, Idempotency-Key, rate limit, then the body.
    principal: OrderWriter,
    key: IdempotencyKeyHeader,
    _: OrderRateLimit,
    body: Annotated[OrderCreate, Depends(json_body(OrderCreate))],
    service: Service,
) -> Response:
    placed = await service.place(principal.subject, key, body, request.url.path)
    headers = {"Location": placed.location} if placed.location else {}
    if placed.replayed:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(placed.body, status_code=placed.status_code, headers=headers)


_ADMIN_CHALLENGE = f'Bearer error="insufficient_scope", scope="{Scope.ADMIN.value}"'


def _whose_orders(principal: Principal, customer_id: str | None) -> str:
    if customer_id is None or customer_id == principal.subject:
        return principal.subject
    if not principal.is_admin:
        raise ProblemError(
            403,
            "insufficient-scope",
            "Listing another customer's orders needs the 'admin' scope.",
            headers={"WWW-Authenticate": _ADMIN_CHALLENGE},
        )
    return customer_id


@router.get(
    "/orders",
    response_model=OrderPage,
    summary="List a customer's orders, newest first",
    responses={200: {"links": ORDER_PAGE_LINKS}, **problem_responses(401, 403, 422, 503)},
)
async def list_orders(
    request: Request,
    principal: OrderReader,
    query: Annotated[OrderListQuery, Query()],
    service: Service,
) -> OrderPage:
    where = OrderFilter(
        customer_id=_whose_orders(principal, query.customer_id),
        statuses=frozenset(query.status),
        created_after=query.created_after,
        created_before=query.created_before,
    )
    after = PagePosition.decode(query.cursor) if query.cursor else None
    items, end = await service.page(where, after, query.limit)
    if end is None:
        return OrderPage(items=items, next_cursor=None, next=None)
    cursor = end.encode()
    # The same query with the new cursor, so the next page keeps every filter.
    following = request.url.include_query_params(cursor=cursor)
    return OrderPage(items=items, next_cursor=cursor, next=f"{following.path}?{following.query}")


@router.get(
    "/orders/{order_id}",
    response_model=OrderOut,
    summary="Fetch an order and its status",
    responses={200: {"links": order_links(get=False)}, **problem_responses(401, 403, 404, 503)},
)
async def get_order(order_id: str, principal: OrderReader, views: Views) -> Response:
    order = await visible_order_view(views, order_id, principal)
    # Serialized here: FastAPI would validate the model once more before serializing it.
    return Response(order.model_dump_json(), media_type="application/json")


@router.get(
    "/orders/{order_id}/events",
    response_class=StreamingResponse,
    summary="Follow an order's status changes (Server-Sent Events)",
    responses={
        200: {
            "description": EVENT_STREAM_DOC,
            "content": {"text/event-stream": {"schema": STATUS_EVENT_SCHEMA}},
        },
        **problem_responses(401, 403, 404, 422, 503),
    },
)
async def order_events(
    order_id: str,
    principal: OrderReader,
    service: Service,
    stream: EventStream,
    last_event_id: Annotated[
        int | None,
        Header(
            alias="Last-Event-ID",
            ge=0,
            le=MAX_EVENT_ID,
            description="resume after this event id (sent by EventSource when it reconnects)",
        ),
    ] = None,
) -> StreamingResponse:
    order = await visible_order(service, order_id, principal)
    return StreamingResponse(
        stream.frames(order.id, after=last_event_id or 0),
        media_type="text/event-stream",
        # No caching, and no buffering by a proxy such as nginx: each event goes out as it comes.
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.post(
    "/orders/{order_id}/cancel",
    response_model=OrderOut,
    summary="Cancel an order that has not shipped (idempotent)",
    responses={
        200: {
            "description": "Cancelled; stock released and payment refunded",
            "links": order_links(cancel=False),
        },
        202: {
            "model": OrderOut,
            "description": "Cancellation accepted, compensation still running: the order as it "
            "stands; it ends CANCELLED",
            "headers": {
                "Location": {
                    "required": True,
                    "schema": {"type": "string"},
                    "description": "/orders/{id}, where to follow the order",
                },
                "Retry-After": {**RETRY_AFTER, "required": True},
            },
            "links": order_links(cancel=False),
        },
        **problem_responses(401, 403, 404, 413, 415, 422, 503),
        **problem_response_doc(
            409,
            {
                "order-not-cancellable": "the order has shipped or finished",
                "order-busy": "its workflow cannot take a cancellation yet; see Retry-After",
            },
            headers={"Retry-After": {**RETRY_AFTER, "description": "with `order-busy` only"}},
        ),
    },
    openapi_extra={
        "requestBody": {
            "required": False,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CancelIn"}}},
        }
    },
)
async def cancel_order(
    order_id: str,
    principal: OrderWriter,
    service: Service,
    body: Annotated[CancelIn | None, Depends(optional_json_body(CancelIn))],
) -> JSONResponse:
    order = await visible_order(service, order_id, principal)
    outcome = await service.cancel(order, reason=(body or CancelIn()).reason)
    body_out = order_out(outcome.order).model_dump(mode="json")
    if outcome.finished:
        return JSONResponse(body_out, status_code=200)
    # Compensation goes on in the workflow: say where to follow it and when to look again.
    return JSONResponse(
        body_out,
        status_code=202,
        headers={
            "Location": f"/orders/{outcome.order.id}",
            "Retry-After": str(CANCEL_RETRY_AFTER_SECONDS),
        },
    )
