"""Activities that write the order's own records: status history and dead letters."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from foundation.domain import OrderStatus
from foundation.models import DeadLetter, Order, OrderStatusChange
from workflows.contracts import DeadLetterRecord, Transition


class OrderRecordActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn(name="record_transition")
    async def record_transition(self, change: Transition) -> None:
        async with self._sessions.begin() as session:
            order = await session.get(Order, change.order_id, with_for_update=True)
            if order is None:
                raise LookupError(f"order {change.order_id} does not exist")
            appended = await session.execute(
                insert(OrderStatusChange)
                .values(
                    order_id=order.id,
                    from_status=order.status,
                    to_status=change.to_status,
                    reason=change.reason,
                    transition_id=change.transition_id,
                )
                .on_conflict_do_nothing(index_elements=[OrderStatusChange.transition_id])
                .returning(OrderStatusChange.id)
            )
            if appended.first() is None:  # this attempt's transaction already committed
                return
            order.status = change.to_status
            order.charge_id = change.charge_id or order.charge_id
            order.tracking_number = change.tracking_number or order.tracking_number
            if change.to_status is OrderStatus.COMPLETED:
                # A redriven order that completes settles its dead letters.
                await session.execute(
                    update(DeadLetter)
                    .where(DeadLetter.order_id == order.id, DeadLetter.resolved_at.is_(None))
                    .values(resolved_at=datetime.now(UTC))
                )

    @activity.defn(name="record_dead_letter")
    async def record_dead_letter(self, record: DeadLetterRecord) -> None:
        async with self._sessions.begin() as session:
            # One open dead letter per order: a redriven run that fails again supersedes it.
            await session.execute(
                update(DeadLetter)
                .where(
                    DeadLetter.order_id == record.order_id,
                    DeadLetter.run_id != record.run_id,
                    DeadLetter.resolved_at.is_(None),
                )
                .values(resolved_at=datetime.now(UTC))
            )
            await session.execute(
                insert(DeadLetter)
                .values(**record.model_dump())
                .on_conflict_do_nothing(index_elements=[DeadLetter.run_id])
            )
