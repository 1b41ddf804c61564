"""One way to build a Temporal client, shared by the API, the worker and the tests."""

from __future__ import annotations

import dataclasses

from temporalio.client import Client
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.runtime import Runtime
from temporalio.service import RPCError, RPCStatusCode

from foundation.payload_codec import EncryptionCodec
from foundation.settings import Settings
from foundation.telemetry import workflow_failure_tracer


def data_converter(settings: Settings) -> DataConverter:
    """Pydantic payloads, encrypted with the settings' current key (adrs/0009)."""
    codec = EncryptionCodec(settings.payload_keyring())
    return dataclasses.replace(pydantic_data_converter, payload_codec=codec)


async def connect_temporal(
    settings: Settings, *, lazy: bool = False, runtime: Runtime | None = None
) -> Client:
    # Lazy lets the API start (and report not-ready) while Temporal is still coming up.
    return await Client.connect(
        settings.effective_temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings),
        # Carries the caller's trace into workflows and activities (the worker inherits it).
        interceptors=[TracingInterceptor(workflow_failure_tracer())],
        lazy=lazy,
        # The worker passes one that exports the SDK's metrics; None is the SDK's default.
        runtime=runtime,
    )


# The server could not be reached or did not answer in time: worth a retry, not the caller's fault.
_UNREACHABLE = frozenset({RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED})


def temporal_unreachable(error: BaseException) -> bool:
    if isinstance(error, RPCError):
        return error.status in _UNREACHABLE
    # A lazy client whose first connect fails raises a plain RuntimeError saying so.
    return isinstance(error, RuntimeError) and "Failed client connect" in str(error)
