"""A server span per request, continuing the caller's W3C `traceparent` when it sends one."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from opentelemetry import propagate, trace

from foundation.telemetry import tracer


def install_tracing(app: FastAPI) -> None:
    @app.middleware("http")
    async def _trace(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        caller = propagate.extract(dict(request.headers))
        with tracer().start_as_current_span(
            f"{request.method} {request.url.path}", context=caller, kind=trace.SpanKind.SERVER
        ) as span:
            response = await call_next(request)
            # The route template, once routing has found it, names the span without ids.
            route = getattr(request.scope.get("route"), "path", None)
            if route:
                span.update_name(f"{request.method} {route}")
            span.set_attribute("http.request.method", request.method)
            span.set_attribute("http.response.status_code", response.status_code)
            trace_id = format(span.get_span_context().trace_id, "032x")
            response.headers["X-Trace-Id"] = trace_id
            return response
