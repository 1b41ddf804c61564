"""Server spans from OpenTelemetry's FastAPI instrumentation; the trace id goes back to the caller.

The instrumentation continues a caller's W3C `traceparent` and names each span by its route
template ("POST /orders"), so span names carry no ids.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from opentelemetry import trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

TRACE_ID_HEADER = "X-Trace-Id"


def install_tracing(app: FastAPI) -> None:
    @app.middleware("http")
    async def _return_trace_id(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            response.headers[TRACE_ID_HEADER] = format(context.trace_id, "032x")
        return response

    # Wraps the whole middleware stack, so even responses refused early are traced.
    FastAPIInstrumentor.instrument_app(app, exclude_spans=["receive", "send"])
