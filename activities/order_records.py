"""Activities that write the order's own records: status history and dead letters."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from foundation.domain import OrderStatus
from foundation.models import DeadLetter
from workflows.contracts import DeadLetterRecord, Transition

AUTOCOMMIT = {"isolation_level": "AUTOCOMMIT"}

# The order's row is locked first, so its status read as from_status is the one replaced. A
# transition id already recorded (a retry after this write committed) appends nothing and so
# changes nothing. Answers whether the order exists. Plain SQL, written once: nothing is
# assembled or compiled per call.
RECORD_TRANSITION = text(
    """
    WITH locked AS (
        SELECT id, status FROM orders WHERE id = :order_id FOR UPDATE
    ), appended AS (
        INSERT INTO order_status_history (order_id, from_status, to_status, reason, transition_id)
        SELECT id, status, :to_status, :reason, :transition_id FROM locked
        ON CONFLICT (transition_id) DO NOTHING
        RETURNING order_id
    ), moved AS (
        UPDATE orders
        SET status = :to_status,
            charge_id = coalesce(CAST(:charge_id AS varchar), charge_id),
            tracking_number = coalesce(CAST(:tracking_number AS varchar), tracking_number),
            updated_at = now()
        WHERE id IN (SELECT order_id FROM appended)
    ), settled AS (
        UPDATE dead_letters SET resolved_at = now()
        WHERE CAST(:settles_dead_letters AS boolean)
            AND order_id IN (SELECT order_id FROM appended)
            AND resolved_at IS NULL
    )
    SELECT count(*) > 0 FROM locked
    """
)


class OrderRecordActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn(name="record_transition")
    async def record_transition(self, change: Transition) -> None:
        # One statement on an autocommit connection: a single round trip and no ORM unit of
        # work, where a session spent five (BEGIN, lock, insert, update, COMMIT). Every order
        # makes five of these, so they were the most of the worker's database time.
        async with self._sessions() as session:
            connection = await session.connection(execution_options=AUTOCOMMIT)
            found = await connection.scalar(
                RECORD_TRANSITION,
                {
                    "order_id": change.order_id,
                    "to_status": change.to_status.value,
                    "reason": change.reason,
                    "transition_id": change.transition_id,
                    "charge_id": change.charge_id or None,
                    "tracking_number": change.tracking_number or None,
                    # A redriven order that completes settles its dead letters.
                    "settles_dead_letters": change.to_status is OrderStatus.COMPLETED,
                },
            )
        if not found:
            raise LookupError(f"order {change.order_id} does not exist")

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
