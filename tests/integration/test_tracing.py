"""One trace follows an order from the HTTP request through the workflow to its activities."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from temporalio.client import Client, WorkflowFailureError

from tests.support import order_body, started_run

pytestmark = pytest.mark.integration
Auth = Callable[..., dict[str, str]]


async def test_request_workflow_and_activities_share_one_trace(
    api: httpx.AsyncClient, auth: Auth, temporal: Client
) -> None:
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    spans = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    caller_trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    headers = {**auth(key="traced"), "traceparent": f"00-{caller_trace}-00f067aa0ba902b7-01"}

    response = await api.post("/orders", json=order_body(), headers=headers)
    await (await started_run(temporal, response.json()["workflow_id"])).result()

    assert response.headers["X-Trace-Id"] == caller_trace
    names_in_trace = {
        s.name
        for s in spans.get_finished_spans()
        if format(s.context.trace_id, "032x") == caller_trace
    }
    assert {
        "POST /orders",
        "StartWorkflow:OrderFulfillment",
        "RunWorkflow:OrderFulfillment",
        "RunActivity:charge_payment",
        "RunActivity:create_shipment",
    } <= names_in_trace, names_in_trace


async def test_the_request_trace_holds_database_and_provider_call_spans(
    api: httpx.AsyncClient, auth: Auth, temporal: Client
) -> None:
    spans = _recorded_spans()
    response = await api.post("/orders", json=order_body(), headers=auth(key="traced-db"))
    await (await started_run(temporal, response.json()["workflow_id"])).result()

    in_trace = [
        s
        for s in spans.get_finished_spans()
        if format(s.context.trace_id, "032x") == response.headers["X-Trace-Id"]
    ]
    kinds_and_systems = {(s.kind, (s.attributes or {}).get("db.system")) for s in in_trace}
    assert (trace.SpanKind.CLIENT, "postgresql") in kinds_and_systems
    provider_calls = [
        s for s in in_trace if s.kind is trace.SpanKind.CLIENT and s.name.startswith("POST")
    ]
    assert provider_calls, [s.name for s in in_trace]


async def test_a_failed_order_marks_its_workflow_span_as_an_error(
    api: httpx.AsyncClient, auth: Auth, temporal: Client
) -> None:
    spans = _recorded_spans()
    declined = order_body(payment_method="tok_declined")
    response = await api.post("/orders", json=declined, headers=auth(key="traced-fail"))
    with pytest.raises(WorkflowFailureError):
        await (await started_run(temporal, response.json()["workflow_id"])).result()

    [completion] = [
        s
        for s in spans.get_finished_spans()
        if s.name == "CompleteWorkflow:OrderFulfillment"
        and format(s.context.trace_id, "032x") == response.headers["X-Trace-Id"]
    ]
    assert completion.status.status_code is StatusCode.ERROR


def _recorded_spans() -> InMemorySpanExporter:
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    spans = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    return spans
