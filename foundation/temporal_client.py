"""One way to build a Temporal client, shared by the API, the worker and the tests."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import Runtime

from foundation.settings import Settings
from foundation.telemetry import workflow_failure_tracer


async def connect_temporal(
    settings: Settings, *, lazy: bool = False, runtime: Runtime | None = None
) -> Client:
    # Lazy lets the API start (and report not-ready) while Temporal is still coming up.
    return await Client.connect(
        settings.effective_temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
        # Carries the caller's trace into workflows and activities (the worker inherits it).
        interceptors=[TracingInterceptor(workflow_failure_tracer())],
        lazy=lazy,
        # The worker passes one that exports the SDK's metrics; None is the SDK's default.
        runtime=runtime,
    )
