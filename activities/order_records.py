"""Activities that write the order's own records: status history and dead letters."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities.status_writes import StatusWriter
from foundation.models import DeadLetter
from workflows.contracts import DeadLetterRecord, Transition


class OrderRecordActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._statuses = StatusWriter(sessions)

    @activity.defn(name="record_transition")
    async def record_transition(self, change: Transition) -> None:
        await self._statuses.write(change)

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
