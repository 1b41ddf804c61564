"""Prometheus metrics at /metrics: open in dev; in production behind a token, or absent."""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

from api.problems import problem_response
from foundation.settings import Environment, Settings

REQUESTS = Counter("order_api_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "order_api_http_request_duration_seconds", "HTTP request latency", ["method", "route"]
)


def install_metrics(app: FastAPI, settings: Settings) -> None:
    @app.middleware("http")
    async def _measure(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        # The route template, not the raw path, keeps label cardinality bounded.
        route = getattr(request.scope.get("route"), "path", "unmatched")
        REQUESTS.labels(request.method, route, str(response.status_code)).inc()
        LATENCY.labels(request.method, route).observe(time.perf_counter() - started)
        return response

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
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
