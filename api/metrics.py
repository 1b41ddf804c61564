"""Prometheus metrics at /metrics: open in dev; in production behind a token, or absent."""

from __future__ import annotations

import hmac
import logging
import time
from datetime import UTC, datetime
from enum import StrEnum

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import problem_response
from foundation.models import DeadLetter, Order
from foundation.settings import Environment, Settings

logger = logging.getLogger(__name__)

REQUESTS = Counter("order_api_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "order_api_http_request_duration_seconds", "HTTP request latency", ["method", "route"]
)
ORDERS_ACCEPTED = Counter("order_api_orders_accepted_total", "Orders recorded (201, first time)")
IDEMPOTENT_REPLAYS = Counter(
    "order_api_idempotent_replays_total", "POST /orders answered from a stored response"
)
KEY_REJECTIONS = Counter(
    "order_api_idempotency_key_rejections_total",
    "Idempotency-Keys refused: still in flight (409) or reused with another body (422)",
    ["reason"],
)
ORDERS_NOT_STARTED = Gauge(
    "order_api_orders_not_started", "Accepted orders whose workflow start is not confirmed"
)
OLDEST_NOT_STARTED_AGE = Gauge(
    "order_api_oldest_order_not_started_age_seconds",
    "Age of the oldest accepted order whose workflow start is not confirmed (0 when none)",
)

DEAD_LETTERS_UNRESOLVED = Gauge(
    "order_api_dead_letters_unresolved", "Dead letters no redrive or completion has settled"
)
OLDEST_UNRESOLVED_DEAD_LETTER_AGE = Gauge(
    "order_api_oldest_unresolved_dead_letter_age_seconds",
    "Age of the oldest unresolved dead letter (0 when none)",
)


class KeyRejection(StrEnum):
    IN_FLIGHT = "in_flight"
    REUSED = "reused"


# Every reason exported from the start at 0, so rates and alerts see the first refusal.
for _reason in KeyRejection:
    KEY_REJECTIONS.labels(_reason.value)


def _record(method: str, route: str, status: int, started: float) -> None:
    REQUESTS.labels(method, route, str(status)).inc()
    LATENCY.labels(method, route).observe(time.perf_counter() - started)


def _age_seconds(oldest: datetime | None) -> float:
    return max((datetime.now(UTC) - oldest).total_seconds(), 0.0) if oldest is not None else 0.0


async def refresh_backlog(sessions: async_sessionmaker[AsyncSession]) -> None:
    """The orders awaiting their workflow start and the unresolved dead letters, read at
    scrape time (the relay exports its own view of the first: order_relay_backlog).

    Partial indexes on unstarted orders and on unresolved dead letters keep both counts cheap
    whatever the size of the tables.
    """
    try:
        async with sessions() as session:
            unstarted, oldest_unstarted = (
                await session.execute(
                    select(func.count(), func.min(Order.created_at)).where(
                        Order.workflow_started_at.is_(None)
                    )
                )
            ).one()
            unresolved, oldest_unresolved = (
                await session.execute(
                    select(func.count(), func.min(DeadLetter.failed_at)).where(
                        DeadLetter.resolved_at.is_(None)
                    )
                )
            ).one()
    except Exception:
        # A scrape during a database outage still serves the rest; the gauges keep their last value.
        logger.warning("could not read the unstarted orders and dead letters", exc_info=True)
        return
    ORDERS_NOT_STARTED.set(unstarted)
    OLDEST_NOT_STARTED_AGE.set(_age_seconds(oldest_unstarted))
    DEAD_LETTERS_UNRESOLVED.set(unresolved)
    OLDEST_UNRESOLVED_DEAD_LETTER_AGE.set(_age_seconds(oldest_unresolved))


class RequestMetricsMiddleware:
    """Counts and times every HTTP request; pure ASGI, so it adds no task to the request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status: int | None = None

        async def send_recording_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_recording_status)
        except Exception:
            # An unhandled error reaches the client as Starlette's 500, outside this middleware:
            # counted here, or the 5xx ratio would miss exactly the failures that matter most.
            _record(scope["method"], _route(scope), status or 500, started)
            raise
        _record(scope["method"], _route(scope), status or 500, started)


def _route(scope: Scope) -> str:
    # The route template, not the raw path, keeps label cardinality bounded.
    return str(getattr(scope.get("route"), "path", "unmatched"))


def install_metrics(app: FastAPI, settings: Settings) -> None:
    app.add_middleware(RequestMetricsMiddleware)

    if settings.metrics_token is None and settings.environment is Environment.PRODUCTION:
        return  # no route at all: 404, like any unknown path
    token = settings.metrics_token

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        if token is not None:
            sent = request.headers.get("authorization", "")
            expected = f"Bearer {token.get_secret_value()}"
            # Constant-time, so the token cannot be guessed byte by byte from response times.
            if not hmac.compare_digest(sent.encode(), expected.encode()):
                return problem_response(
                    request,
                    401,
                    "unauthorized",
                    "The metrics token is required.",
                    headers={"WWW-Authenticate": "Bearer"},
                )
        await refresh_backlog(request.app.state.session_factory)
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
