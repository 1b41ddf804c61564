"""Logging and tracing shared by the API, the worker and the simulators.

One OpenTelemetry trace follows an order from the HTTP request through the workflow start to
every activity: the API opens a span per request (continuing a caller's `traceparent`), and
Temporal's TracingInterceptor carries the context across the workflow boundary. Log lines
carry the trace id, so `grep <trace id> .data/logs/*` shows one order's path.
"""

from __future__ import annotations

import logging

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

TRACER_NAME = "order-api"


class _TraceIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        context = trace.get_current_span().get_span_context()
        record.trace_id = format(context.trace_id, "032x") if context.is_valid else "-"
        return True


def configure_logging(level: str) -> None:
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler()
    handler.addFilter(_TraceIdFilter())
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s trace=%(trace_id)s %(message)s")
    )
    root.addHandler(handler)
    root.setLevel(level.upper())


def configure_tracing(service_name: str, *, export_to_console: bool) -> None:
    """Install the process's tracer provider once; spans are exported only when asked to."""
    if isinstance(trace.get_tracer_provider(), TracerProvider):
        return
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    if export_to_console:
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    trace.set_tracer_provider(provider)


def tracer() -> trace.Tracer:
    return trace.get_tracer(TRACER_NAME)
