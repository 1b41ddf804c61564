"""Activities that write the order's own record in PostgreSQL."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from orderapi.models import Order
from workflows.contracts import StatusChange


class OrderRecordActivities:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = session_factory

    @activity.defn(name="set_order_status")
    async def set_order_status(self, change: StatusChange) -> None:
        # Setting an absolute value is idempotent, so a retried attempt is harmless.
        async with self._sessions.begin() as session:
            await session.execute(
                update(Order)
                .where(Order.id == change.order_id)
                .values(status=change.to_status.value)
            )
