"""Spans leave the process over OTLP exactly when the standard endpoint variable says where."""

from __future__ import annotations

from foundation.telemetry import otlp_export_requested


def test_the_otlp_endpoint_variable_turns_export_on() -> None:
    assert otlp_export_requested({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})


def test_the_traces_only_endpoint_variable_turns_export_on() -> None:
    environ = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}
    assert otlp_export_requested(environ)


def test_without_an_endpoint_nothing_is_exported() -> None:
    assert not otlp_export_requested({"OTEL_EXPORTER_OTLP_ENDPOINT": ""})
