"""The Temporal worker process: workflows, activities, the relay and the idempotency-key purge.

The relay runs here by default (ORDER_API_WORKER_RUNS_RELAY), on the worker's own Temporal client
and pool: every worker is then a relay too, so orders keep being started while any worker is up,
and the stack carries no process of its own for it (adrs/0003-accept-then-start.md).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.worker import PollerBehaviorSimpleMaximum, Worker

from activities.order_records import OrderRecordActivities
from activities.payments import PaymentActivities
from activities.shipping import ShippingActivities
from activities.status_writes import StatusWriter
from activities.stock import StockActivities
from foundation.db import make_engine, make_session_factory
from foundation.heap_release import heap_released_when_quiet
from foundation.settings import LogFormat, Settings, settings_or_exit
from foundation.telemetry import configure_logging, configure_tracing
from processes.activity_log_context import ActivityLogContextInterceptor
from processes.key_purge import purge_keys_forever
from processes.patient_connect import connect_when_reachable
from processes.relay import relay_until_stopped
from processes.worker_metrics import ActivityMetricsInterceptor, serve_worker_metrics
from workflows.contracts import RetryProfile
from workflows.order_fulfillment import OrderFulfillmentWorkflow
from workflows.retry_policies import TAKEOVER

logger = logging.getLogger(__name__)
# One HTTP request to a provider; the activity's start-to-close timeout bounds the whole attempt.
PROVIDER_TIMEOUT = httpx.Timeout(20.0, connect=5.0)
# The SDK's defaults, stated because they were measured, not assumed: with bench/fulfilment.py
# neither 2 or 10 pollers nor 20 concurrent activities moved the order burst beyond the
# run-to-run spread on the shared two-core bench machine (bench/README.md has the runs). The
# server and the CPU, not the worker's slots, are what an order waits for there.
WORKFLOW_TASK_POLLERS = 5
ACTIVITY_TASK_POLLERS = 5
MAX_CONCURRENT_ACTIVITIES = 100
# Status writes run as local activities, each holding a slot while its workflow task is open.
MAX_CONCURRENT_LOCAL_ACTIVITIES = 100


@asynccontextmanager
async def fulfillment_worker(
    client: Client, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[Worker]:
    """A running worker with every activity wired to its dependencies."""
    async with (
        httpx.AsyncClient(
            base_url=settings.effective_payment_gateway_url, timeout=PROVIDER_TIMEOUT
        ) as gateway,
        httpx.AsyncClient(
            base_url=settings.effective_carrier_url, timeout=PROVIDER_TIMEOUT
        ) as carrier,
    ):
        records = OrderRecordActivities(sessions)
        stock = StockActivities(sessions)
        statuses = StatusWriter(sessions)
        payments = PaymentActivities(gateway, statuses)
        shipping = ShippingActivities(carrier, statuses)
        worker = Worker(
            client,
            task_queue=settings.task_queue,
            sticky_queue_schedule_to_start_timeout=TAKEOVER[
                RetryProfile(settings.effective_retry_profile)
            ].sticky_queue,
            workflows=[OrderFulfillmentWorkflow],
            activities=[
                records.record_transition,
                records.record_dead_letter,
                stock.reserve_stock,
                stock.release_stock,
                payments.charge_payment,
                payments.refund_payment,
                shipping.create_shipment,
            ],
            interceptors=[ActivityMetricsInterceptor(), ActivityLogContextInterceptor()],
            workflow_task_poller_behavior=PollerBehaviorSimpleMaximum(WORKFLOW_TASK_POLLERS),
            activity_task_poller_behavior=PollerBehaviorSimpleMaximum(ACTIVITY_TASK_POLLERS),
            max_concurrent_activities=MAX_CONCURRENT_ACTIVITIES,
            max_concurrent_local_activities=MAX_CONCURRENT_LOCAL_ACTIVITIES,
        )
        async with worker:
            yield worker


async def run_worker(settings: Settings) -> None:
    engine = make_engine(
        settings.effective_database_url,
        pool_size=settings.worker_db_pool_size,
        max_overflow=settings.worker_db_max_overflow,
    )
    sessions = make_session_factory(engine)
    with serve_worker_metrics(
        settings.worker_metrics_host, settings.worker_metrics_port
    ) as metrics:
        logger.info("worker metrics at %s", metrics.url)
        client = await connect_when_reachable(settings, runtime=metrics.runtime)
        await _serve_until_stopped(client, settings, sessions)
    await engine.dispose()


async def _serve_until_stopped(
    client: Client, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    purge = asyncio.create_task(purge_keys_forever(sessions, settings))
    async with (
        fulfillment_worker(client, settings, sessions),
        heap_released_when_quiet(settings.heap_release_check_seconds),
    ):
        logger.info("worker polling task queue %r", settings.task_queue)
        relaying = (
            asyncio.create_task(relay_until_stopped(settings, client, sessions, stop), name="relay")
            if settings.worker_runs_relay
            else None
        )
        await stop.wait()
        logger.info("worker shutting down")
        purge.cancel()
        if relaying is not None:
            # The relay records the starts it has in flight before the worker stops polling.
            await relaying


def main() -> None:
    settings = settings_or_exit()
    configure_logging(
        settings.log_level, json_lines=settings.effective_log_format is LogFormat.JSON
    )
    configure_tracing("order-worker", export_to_console=settings.otel_console_export)
    asyncio.run(run_worker(settings))
    # Everything is stopped and recorded. The interpreter's exit would still walk every object the
    # worker made in search of cycles to collect, which took a third of a second of the 0.6 s
    # `order-api run` gives a worker to stop; frozen, they are left to the process's end.
    gc.freeze()
