"""Writing an order's status change: one plain-SQL statement, alone or in a step's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from foundation.domain import OrderStatus
from workflows.contracts import Transition

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


def _parameters(change: Transition) -> dict[str, Any]:
    return {
        "order_id": change.order_id,
        "to_status": change.to_status.value,
        "reason": change.reason,
        "transition_id": change.transition_id,
        "charge_id": change.charge_id or None,
        "tracking_number": change.tracking_number or None,
        # A redriven order that completes settles its dead letters.
        "settles_dead_letters": change.to_status is OrderStatus.COMPLETED,
    }


class StatusWriter:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def write(self, change: Transition) -> None:
        """The change on its own, on an autocommit connection: a single round trip and no ORM
        unit of work, where a session's transaction spent five (BEGIN, lock, insert, update,
        COMMIT)."""
        async with self._sessions() as session:
            connection = await session.connection(execution_options=AUTOCOMMIT)
            found = await connection.scalar(RECORD_TRANSITION, _parameters(change))
        _found_or_raise(found, change)

    @staticmethod
    async def write_in(session: AsyncSession, change: Transition) -> None:
        """The change inside the caller's transaction, committed (or not) with its other work."""
        _found_or_raise(await session.scalar(RECORD_TRANSITION, _parameters(change)), change)


def _found_or_raise(found: bool | None, change: Transition) -> None:
    if not found:
        raise LookupError(f"order {change.order_id} does not exist")
