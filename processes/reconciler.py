"""Closes the gap between "order recorded" and "workflow started".

The API commits the order before it starts the workflow. If Temporal is down or the API dies in
between, the order is still accepted; this sweep starts its workflow later. The same sweep purges
expired idempotency keys.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from foundation.models import IdempotencyKey, Order
from foundation.settings import Settings
from workflows.starter import start_and_record_fulfillment

logger = logging.getLogger(__name__)
BATCH = 100


async def start_unstarted_workflows(
    sessions: async_sessionmaker[AsyncSession], client: Client, settings: Settings
) -> int:
    """Start every order older than the grace period whose workflow start is unconfirmed."""
    cutoff = datetime.now(UTC) - timedelta(seconds=settings.reconcile_grace_seconds)
    async with sessions() as session:
        pending = list(
            await session.scalars(
                select(Order)
                .where(Order.workflow_started_at.is_(None), Order.created_at < cutoff)
                .order_by(Order.created_at)
                .limit(BATCH)
            )
        )
    started = 0
    for order in pending:
        await start_and_record_fulfillment(client, settings, sessions, order)
        started += 1
        logger.info("reconciler started workflow %s for order %s", order.workflow_id, order.id)
    return started


async def purge_expired_keys(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions.begin() as session:
        result = await session.execute(
            delete(IdempotencyKey).where(IdempotencyKey.expires_at < func.now())
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def reconcile_forever(
    sessions: async_sessionmaker[AsyncSession], client: Client, settings: Settings
) -> None:
    while True:
        try:
            await start_unstarted_workflows(sessions, client, settings)
            await purge_expired_keys(sessions)
        except Exception:
            logger.warning("reconcile pass failed; retrying next interval", exc_info=True)
        await asyncio.sleep(settings.reconcile_interval_seconds)
