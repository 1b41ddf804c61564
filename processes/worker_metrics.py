"""The worker's metrics: ours and the Temporal SDK's, on one Prometheus scrape URL per process.

The SDK's metrics (poll and schedule-to-start latencies, task slots, failures) are made by its
Rust core, which serves them only from an HTTP endpoint of its own. Rather than ask operators to
scrape two ports, that endpoint listens on a private loopback port and a collector re-exposes what
it serves through prometheus-client's registry, next to the counters below.
"""

from __future__ import annotations

import logging
import urllib.request
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from temporalio import activity
from temporalio.exceptions import ApplicationError, CancelledError
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from foundation.domain import OrderStatus
from processes.devstack.ports import free_port
from processes.metrics_server import serve_metrics
from workflows.contracts import Transition

logger = logging.getLogger(__name__)

ACTIVITY_ATTEMPTS = Counter(
    "order_worker_activity_attempts_total", "Activity attempts started", ["activity"]
)
ACTIVITY_FAILURES = Counter(
    "order_worker_activity_failures_total",
    "Activity attempts that failed, by the step's error type",
    ["activity", "error_type"],
)
COMPENSATIONS = Counter(
    "order_worker_compensations_total", "Compensating steps that completed", ["activity"]
)
DEAD_LETTERS_WRITTEN = Counter(
    "order_worker_dead_letters_written_total", "Dead letters written for failed orders"
)
ORDERS_FINISHED = Counter(
    "order_worker_orders_finished_total", "Orders that reached a final status", ["status"]
)

# Compensations are activities of their own, so counting their completions counts compensations.
COMPENSATING_ACTIVITIES = frozenset({"release_stock", "refund_payment"})
FINAL_STATUSES = frozenset({OrderStatus.COMPLETED, OrderStatus.FAILED, OrderStatus.CANCELLED})
DEAD_LETTER_ACTIVITY = "record_dead_letter"
TRANSITION_ACTIVITY = "record_transition"
# The SDK's core answers on loopback within milliseconds; a stuck core must not stall a scrape.
CORE_SCRAPE_TIMEOUT_SECONDS = 2.0


# Every final status exported from the start at 0, so the funnel's rates start at the first order.
for _status in FINAL_STATUSES:
    ORDERS_FINISHED.labels(_status.value)


class UntypedFailure(StrEnum):
    """Error-type labels for failures that carry no ErrorType of ours."""

    CANCELLED = "cancelled"
    UNEXPECTED = "unexpected"


def failure_label(error: BaseException) -> str:
    if isinstance(error, ApplicationError) and error.type:
        return error.type
    if isinstance(error, CancelledError):
        return UntypedFailure.CANCELLED.value
    return UntypedFailure.UNEXPECTED.value


def count_completion(activity_type: str, args: Iterable[Any]) -> None:
    """What a completed activity means for the business counters."""
    if activity_type in COMPENSATING_ACTIVITIES:
        COMPENSATIONS.labels(activity_type).inc()
    elif activity_type == DEAD_LETTER_ACTIVITY:
        DEAD_LETTERS_WRITTEN.inc()
    elif activity_type == TRANSITION_ACTIVITY:
        for arg in args:
            if isinstance(arg, Transition) and arg.to_status in FINAL_STATUSES:
                ORDERS_FINISHED.labels(arg.to_status.value).inc()


class _CountingActivityInbound(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        activity_type = activity.info().activity_type
        ACTIVITY_ATTEMPTS.labels(activity_type).inc()
        try:
            result = await super().execute_activity(input)
        except BaseException as error:
            ACTIVITY_FAILURES.labels(activity_type, failure_label(error)).inc()
            raise
        count_completion(activity_type, input.args)
        return result


class ActivityMetricsInterceptor(Interceptor):
    """Counts every activity attempt, failure, compensation and final order status."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _CountingActivityInbound(super().intercept_activity(next))


class TemporalCoreCollector:
    """Re-exposes the SDK core's Prometheus endpoint through prometheus-client."""

    def __init__(self, core_url: str) -> None:
        self._core_url = core_url

    def collect(self) -> Iterator[Metric]:
        try:
            with urllib.request.urlopen(self._core_url, timeout=CORE_SCRAPE_TIMEOUT_SECONDS) as r:
                text = r.read().decode()
        except OSError:
            # Ours are still worth serving; the missing SDK series show as gaps, not a 500.
            logger.warning("the Temporal SDK's metrics could not be read", exc_info=True)
            return
        yield from text_string_to_metric_families(text)


@dataclass(frozen=True)
class WorkerMetrics:
    """The runtime to build the worker's client with, and where its metrics are served."""

    runtime: Runtime
    url: str


@contextmanager
def serve_worker_metrics(
    host: str, port: int, registry: CollectorRegistry = REGISTRY
) -> Iterator[WorkerMetrics]:
    """Serve the process's metrics at http://host:port/metrics until the block ends."""
    core_address = f"127.0.0.1:{free_port()}"
    runtime = Runtime(
        telemetry=TelemetryConfig(
            metrics=PrometheusConfig(bind_address=core_address, durations_as_seconds=True)
        )
    )
    core = TemporalCoreCollector(f"http://{core_address}/metrics")
    registry.register(core)
    try:
        with serve_metrics(host, port, registry) as bound:
            yield WorkerMetrics(runtime, f"http://{host}:{bound}/metrics")
    finally:
        registry.unregister(core)
