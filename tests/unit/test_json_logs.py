"""Production log lines are JSON objects with the fields a log shipper indexes."""

from __future__ import annotations

import contextvars
import json
import logging
import sys

from opentelemetry.sdk.trace import TracerProvider

from api.request_id import request_id_for
from foundation.settings import Environment, LogFormat, Settings
from foundation.telemetry import (
    REDACTED,
    JsonLinesFormatter,
    LogField,
    _ContextFilter,
    bind_log_context,
    install_log_redaction,
)
from tests.support import PRODUCTION_PAYLOAD_KEYS


def formatted(message: str, *args: object, exc: bool = False) -> dict[str, str]:
    install_log_redaction()
    exc_info = sys.exc_info() if exc else None
    record = logging.getLogRecordFactory()(
        "orders", logging.INFO, __file__, 1, message, args, exc_info
    )
    _ContextFilter().filter(record)
    return dict(json.loads(JsonLinesFormatter().format(record)))


def test_a_line_has_time_level_logger_and_message() -> None:
    line = formatted("order %s placed", "o-1")
    assert line["level"] == "INFO"
    assert line["logger"] == "orders"
    assert line["message"] == "order o-1 placed"
    assert line["time"].endswith("+00:00")


def test_inside_a_span_a_line_carries_its_trace_and_span_ids() -> None:
    with TracerProvider().get_tracer("test").start_as_current_span("work") as span:
        line = formatted("inside")
    context = span.get_span_context()
    assert line["trace_id"] == format(context.trace_id, "032x")
    assert line["span_id"] == format(context.span_id, "016x")


def test_bound_order_workflow_and_request_ids_appear_on_each_line() -> None:
    def in_a_request() -> dict[str, str]:
        bind_log_context({LogField.REQUEST_ID: "req-1", LogField.ORDER_ID: "o-1"})
        bind_log_context({LogField.WORKFLOW_ID: "wf-1"})
        return formatted("placed")

    line = contextvars.copy_context().run(in_a_request)
    assert (line["request_id"], line["order_id"], line["workflow_id"]) == ("req-1", "o-1", "wf-1")


def test_fields_bound_in_one_context_do_not_leak_into_another() -> None:
    contextvars.copy_context().run(bind_log_context, {LogField.ORDER_ID: "o-1"})
    assert "order_id" not in formatted("elsewhere")


def test_a_secret_in_a_json_line_is_redacted() -> None:
    line = formatted("header Authorization: Bearer abcdefghijklmnopqrstuvwxyz")
    assert REDACTED in line["message"]
    assert "abcdefghijklmnop" not in json.dumps(line)


def test_an_exception_travels_in_its_own_field() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        line = formatted("failed", exc=True)
    assert "ValueError: boom" in line["exception"]


def test_production_logs_json_and_dev_logs_text_unless_told() -> None:
    assert Settings(environment=Environment.DEV).effective_log_format is LogFormat.TEXT
    production = Settings(
        environment=Environment.PRODUCTION,
        jwt_secret="p" * 40,
        payload_keys=PRODUCTION_PAYLOAD_KEYS,
    )
    assert production.effective_log_format is LogFormat.JSON
    told = Settings(environment=Environment.DEV, log_format=LogFormat.JSON)
    assert told.effective_log_format is LogFormat.JSON


def test_a_plain_request_id_is_kept() -> None:
    assert request_id_for("abc-123.4:5_6") == "abc-123.4:5_6"


def test_a_request_id_with_other_characters_or_too_long_is_replaced() -> None:
    for sent in ("a b", "line\nbreak", "x" * 129, ""):
        assert request_id_for(sent) != sent
