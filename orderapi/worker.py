"""The Temporal worker process: workflows, activities and the start reconciler."""

from __future__ import annotations

import asyncio
import logging
import signal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.worker import Worker

from activities.order_records import OrderRecordActivities
from orderapi.db import make_engine, make_session_factory
from orderapi.reconciler import reconcile_forever
from orderapi.settings import Settings, get_settings
from orderapi.telemetry import configure_logging
from orderapi.temporal_client import connect_temporal
from workflows.order_fulfillment import OrderFulfillmentWorkflow

logger = logging.getLogger(__name__)


def build_worker(
    client: Client, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> Worker:
    records = OrderRecordActivities(sessions)
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=[OrderFulfillmentWorkflow],
        activities=[records.set_order_status],
    )


async def run_worker(settings: Settings) -> None:
    engine = make_engine(settings.effective_database_url)
    sessions = make_session_factory(engine)
    client = await connect_temporal(settings)
    worker = build_worker(client, settings, sessions)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    reconciler = asyncio.create_task(reconcile_forever(sessions, client, settings))
    async with worker:
        logger.info("worker polling task queue %r", settings.task_queue)
        await stop.wait()
        logger.info("worker shutting down")
        reconciler.cancel()
    await engine.dispose()


def main() -> None:
    settings = get_settings()
    configure_logging(settings.log_level)
    asyncio.run(run_worker(settings))
