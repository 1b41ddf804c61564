"""One trace follows an order from the HTTP request through the workflow to its activities."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio.client import Client

from tests.support import order_body

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
    await temporal.get_workflow_handle(response.json()["workflow_id"]).result()

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
