"""Logging and tracing shared by the API, the worker and the simulators.

Credentials are redacted from every log record. One OpenTelemetry trace follows an order from the
HTTP request through the workflow start to every activity: the API opens a span per request
(continuing a caller's `traceparent`), and Temporal's TracingInterceptor carries the context
across the workflow boundary. Log lines carry the trace id, so `grep <trace id> .data/logs/*`
shows one order's path.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, cast

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanContext, Status, StatusCode
from opentelemetry.util.types import AnyValue, Attributes

TRACER_NAME = "order-api"

REDACTED = "[REDACTED]"

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # A header dump in any shape that gets logged: "Authorization: x", {'authorization': 'x'},
    # (b'authorization', b'x'). Covers opaque tokens and Basic credentials too.
    (
        re.compile(r"""(?i)((?:proxy-)?authorization['"]?\s*[:=,]\s*b?['"]?)[^'"\r\n]+"""),
        rf"\1{REDACTED}",
    ),
    # RFC 6750's b64token; 12 characters at least, so prose ("bearer token refused") and the
    # challenge (Bearer error="...") stay readable.
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/-]{12,}=*"), rf"\1{REDACTED}"),
    # Whatever carries it, a JWT is three base64url segments and its header starts with '{"'.
    (re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*"), REDACTED),
    # Tokens sent in a query string end up in access logs with the path.
    (
        re.compile(r"(?i)\b((?:access_token|id_token|refresh_token|token)=)[^&\s'\"]+"),
        rf"\1{REDACTED}",
    ),
]


# Every pattern above needs one of these words; text with none (nearly every access line and log
# argument) is returned after one search instead of a substitution per pattern.
_HINT = re.compile(r"(?i)authorization|bearer|eyJ|token=")


def redact(text: str) -> str:
    if _HINT.search(text) is None:
        return text
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _scrub(value: Any) -> Any:
    # Numbers stay numbers, so "%d" placeholders keep working; only text carrying a secret changes.
    if value is None or isinstance(value, int | float):
        return value
    text = value if isinstance(value, str) else str(value)
    cleaned = redact(text)
    return value if cleaned == text else cleaned


class _RedactingRecordFactory:
    """Scrubs each record as it is made.

    A record factory rather than a filter: a handler filter misses handlers added later (uvicorn's,
    a log shipper's), and a logger filter misses records from child loggers. The factory sees
    every record once, whoever logs it and wherever it goes.
    """

    def __init__(self, inner: Callable[..., logging.LogRecord]) -> None:
        self._inner = inner
        self._formatter = logging.Formatter()

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self._inner(*args, **kwargs)
        record.msg = _scrub(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_scrub(arg) for arg in record.args)
        elif isinstance(record.args, Mapping):
            record.args = {key: _scrub(arg) for key, arg in record.args.items()}
        if record.exc_info and record.exc_info[0] is not None:
            # Formatters reuse exc_text when it is set, so the traceback is printed redacted.
            record.exc_text = redact(self._formatter.formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return record


def install_log_redaction() -> None:
    current = logging.getLogRecordFactory()
    if not isinstance(current, _RedactingRecordFactory):
        logging.setLogRecordFactory(_RedactingRecordFactory(current))


class LogField(StrEnum):
    """Fields a log line carries where they are known, beside the time, level and logger."""

    REQUEST_ID = "request_id"
    ORDER_ID = "order_id"
    WORKFLOW_ID = "workflow_id"


# An immutable default, and each bind sets a fresh mapping, so no task sees another's fields.
_LOG_CONTEXT: ContextVar[Mapping[LogField, str]] = ContextVar(
    "log_context", default=MappingProxyType({})
)


def bind_log_context(fields: Mapping[LogField, str]) -> None:
    """Add fields to every line logged from here on in this task (and tasks it starts)."""
    _LOG_CONTEXT.set({**_LOG_CONTEXT.get(), **fields})


def log_context() -> Mapping[LogField, str]:
    return _LOG_CONTEXT.get()


def _workflow_id_of(record: logging.LogRecord) -> str | None:
    # Temporal's workflow and activity loggers attach their run's details to each record.
    for key in ("temporal_workflow", "temporal_activity"):
        details = getattr(record, key, None)
        if isinstance(details, Mapping) and details.get("workflow_id"):
            return str(details["workflow_id"])
    return None


class _ContextFilter(logging.Filter):
    """Puts the trace, span and bound fields on each record, for either format."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = trace.get_current_span().get_span_context()
        record.trace_id = format(context.trace_id, "032x") if context.is_valid else "-"
        record.span_id = format(context.span_id, "016x") if context.is_valid else "-"
        fields = dict(_LOG_CONTEXT.get())
        workflow_id = _workflow_id_of(record)
        if workflow_id and LogField.WORKFLOW_ID not in fields:
            fields[LogField.WORKFLOW_ID] = workflow_id
        record.log_fields = fields
        return True


class JsonLinesFormatter(logging.Formatter):
    """One JSON object per line, for a log shipper: nothing to parse with regular expressions."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        trace_id = getattr(record, "trace_id", "-")
        if trace_id != "-":
            line["trace_id"] = trace_id
            line["span_id"] = getattr(record, "span_id", "-")
        for field, value in getattr(record, "log_fields", {}).items():
            line[str(field)] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(self.formatException(record.exc_info))
        if record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        return json.dumps(line, default=str)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s trace=%(trace_id)s %(message)s"


def configure_logging(level: str, *, json_lines: bool = False) -> None:
    """JSON lines for production log shippers; readable text for a terminal (`make run`)."""
    install_log_redaction()
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler()
    handler.addFilter(_ContextFilter())
    handler.setFormatter(JsonLinesFormatter() if json_lines else logging.Formatter(TEXT_FORMAT))
    root.addHandler(handler)
    root.setLevel(level.upper())


# The standard variables: either one set means "export spans over OTLP/HTTP to that endpoint".
OTLP_ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def otlp_export_requested(environ: Mapping[str, str] = os.environ) -> bool:
    return any(environ.get(name) for name in OTLP_ENDPOINT_VARIABLES)


def configure_tracing(service_name: str, *, export_to_console: bool) -> None:
    """Install the process's tracer provider once, with client and database spans.

    Spans go over OTLP when the standard endpoint variable is set, and to the console when asked
    (dev); with neither, they are made (trace ids in logs and headers) but not exported.
    """
    # Imported here: the SDK and the OTLP exporter (protobuf) are some 6.5 MB a process, and the
    # simulators log through this module but make no spans.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        ConsoleSpanExporter,
        SimpleSpanProcessor,
    )

    instrument_clients_and_database()
    if isinstance(trace.get_tracer_provider(), TracerProvider):
        return
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    if otlp_export_requested():
        # The exporter reads the endpoint, headers and timeout from the standard variables.
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    if export_to_console:
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    trace.set_tracer_provider(provider)


def instrument_clients_and_database() -> None:
    """Spans for every outgoing httpx request and SQL statement (engines made from now on), for
    whichever of the two libraries this process has loaded.

    Instrumenting a library loads it: a process that speaks to PostgreSQL through psycopg alone
    would carry SQLAlchemy and httpx, some 30 MB, for spans it never makes. The API and the
    worker import both before they configure tracing. Each instrumentor is a singleton that
    ignores a second call, so this is safe to repeat.
    """
    if "httpx" in sys.modules:
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

        HTTPXClientInstrumentor().instrument()
    if "sqlalchemy" in sys.modules:
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

        # Its declared range stops below SQLAlchemy 2.1, whose engine events it hooks are
        # unchanged; tests/integration/test_tracing.py shows the statement spans arriving.
        SQLAlchemyInstrumentor().instrument(skip_dep_check=True)


def tracer() -> trace.Tracer:
    return trace.get_tracer(TRACER_NAME)


class _ErrorOnExceptionSpan(trace.Span):
    """A span that also takes the error status when an exception is recorded on it.

    A Span subclass, not a loose proxy: propagators ignore context values that are not Spans.
    """

    def __init__(self, span: trace.Span) -> None:
        self._span = span

    def record_exception(
        self,
        exception: BaseException,
        attributes: Attributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        self._span.record_exception(exception, attributes, timestamp, escaped)
        self._span.set_status(Status(StatusCode.ERROR, f"{type(exception).__name__}: {exception}"))

    def end(self, end_time: int | None = None) -> None:
        self._span.end(end_time)

    def get_span_context(self) -> SpanContext:
        return self._span.get_span_context()

    def set_attributes(self, attributes: Mapping[str, AnyValue]) -> None:
        self._span.set_attributes(attributes)

    def set_attribute(self, key: str, value: AnyValue) -> None:
        self._span.set_attribute(key, value)

    def add_event(
        self, name: str, attributes: Attributes = None, timestamp: int | None = None
    ) -> None:
        self._span.add_event(name, attributes, timestamp)

    def add_link(self, context: SpanContext, attributes: Attributes = None) -> None:
        self._span.add_link(context, attributes)

    def update_name(self, name: str) -> None:
        self._span.update_name(name)

    def is_recording(self) -> bool:
        return self._span.is_recording()

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        self._span.set_status(status, description)


class _WorkflowFailureTracer:
    """Delegates to a tracer, wrapping only the spans `start_span` makes."""

    def __init__(self, inner: trace.Tracer) -> None:
        self._inner = inner

    def start_span(self, *args: Any, **kwargs: Any) -> trace.Span:
        return _ErrorOnExceptionSpan(self._inner.start_span(*args, **kwargs))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def workflow_failure_tracer(inner: trace.Tracer | None = None) -> trace.Tracer:
    """The tracer for Temporal's TracingInterceptor, so a failed workflow's span is an error.

    The interceptor marks failed activity spans as errors itself, but only records the exception
    on the (instant) span of a workflow that fails, made with `start_span`; trace backends would
    then show a failed order as healthy.
    """
    return cast(trace.Tracer, _WorkflowFailureTracer(inner or trace.get_tracer("temporalio")))


def current_trace_carrier() -> dict[str, str]:
    """The current trace context as W3C headers, to be stored and resumed in another process."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


@contextmanager
def resumed_trace(carrier: Mapping[str, str] | None) -> Iterator[None]:
    """Run the block inside the trace a `current_trace_carrier()` recorded (if any)."""
    if not carrier:
        yield
        return
    token = otel_context.attach(propagate.extract(carrier))
    try:
        yield
    finally:
        otel_context.detach(token)
