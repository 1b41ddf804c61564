"""The Temporal worker process: workflows, activities and the idempotency-key purge."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.worker import Worker

from activities.order_records import OrderRecordActivities
from activities.payments import PaymentActivities
from activities.shipping import ShippingActivities
from activities.stock import StockActivities
from foundation.db import make_engine, make_session_factory
from foundation.settings import LogFormat, Settings, settings_or_exit
from foundation.telemetry import configure_logging, configure_tracing
from processes.activity_log_context import ActivityLogContextInterceptor
from processes.key_purge import purge_keys_forever
from processes.patient_connect import connect_when_reachable
from processes.worker_metrics import ActivityMetricsInterceptor, serve_worker_metrics
from workflows.contracts import RetryProfile
from workflows.order_fulfillment import OrderFulfillmentWorkflow
from workflows.retry_policies import TAKEOVER

logger = logging.getLogger(__name__)
# One HTTP request to a provider; the activity's start-to-close timeout bounds the whole attempt.
PROVIDER_TIMEOUT = httpx.Timeout(20.0, connect=5.0)


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
        payments = PaymentActivities(gateway)
        shipping = ShippingActivities(carrier)
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
        )
        async with worker:
            yield worker


async def run_worker(settings: Settings) -> None:
    engine = make_engine(settings.effective_database_url)
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
    async with fulfillment_worker(client, settings, sessions):
        logger.info("worker polling task queue %r", settings.task_queue)
        await stop.wait()
        logger.info("worker shutting down")
        purge.cancel()


def main() -> None:
    settings = settings_or_exit()
    configure_logging(
        settings.log_level, json_lines=settings.effective_log_format is LogFormat.JSON
    )
    configure_tracing("order-worker", export_to_console=settings.otel_console_export)
    asyncio.run(run_worker(settings))
