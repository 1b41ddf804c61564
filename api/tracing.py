"""Server spans from OpenTelemetry's FastAPI instrumentation; the trace id goes back to the caller.

The instrumentation continues a caller's W3C `traceparent` and names each span by its route
template ("POST /orders"), so span names carry no ids.
"""

from __future__ import annotations

from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

TRACE_ID_HEADER = "X-Trace-Id"


class TraceIdMiddleware:
    """Returns the server span's trace id; pure ASGI, so it adds no task to the request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # The instrumentation wraps the whole stack, so its server span is current already.
        context = trace.get_current_span().get_span_context()
        if not context.is_valid:
            await self.app(scope, receive, send)
            return
        trace_id = format(context.trace_id, "032x")

        async def send_with_trace_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[TRACE_ID_HEADER] = trace_id
            await send(message)

        await self.app(scope, receive, send_with_trace_id)


def install_tracing(app: FastAPI) -> None:
    app.add_middleware(TraceIdMiddleware)

    # Wraps the whole middleware stack, so even responses refused early are traced.
    FastAPIInstrumentor.instrument_app(app, exclude_spans=["receive", "send"])
