"""Listing and redriving dead letters."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.service import RPCError

from api.dead_letters.repository import DeadLetterRepository
from api.dead_letters.schemas import DeadLetterOut, DeadLetterPage, RedriveOut
from api.orders.repository import OrderRepository
from api.problems import ProblemError
from api.temporal_availability import temporal_unavailable
from foundation.domain import OrderStatus
from foundation.settings import Settings
from foundation.temporal_client import temporal_unreachable
from workflows.contracts import RetryProfile
from workflows.starter import enqueue_start, record_started, start_fulfillment


class DeadLetterService:
    def __init__(
        self, settings: Settings, sessions: async_sessionmaker[AsyncSession], temporal: Client
    ) -> None:
        self._settings = settings
        self._sessions = sessions
        self._temporal = temporal

    async def page(self, *, after: int, limit: int) -> DeadLetterPage:
        async with self._sessions() as session:
            rows = await DeadLetterRepository(session).unresolved_page(after=after, limit=limit + 1)
        more = len(rows) > limit
        items = [DeadLetterOut.model_validate(row) for row in rows[:limit]]
        return DeadLetterPage(items=items, next_after=items[-1].id if more else None)

    async def redrive(self, dead_letter_id: int) -> RedriveOut:
        """Start a fresh run for the order. Idempotent while that run is going."""
        async with self._sessions.begin() as session:
            letter = await DeadLetterRepository(session).get_for_update(dead_letter_id)
            if letter is None:
                raise ProblemError(404, "dead-letter-not-found", "No such dead letter.")
            if letter.resolved_at is not None:
                raise ProblemError(
                    409, "dead-letter-resolved", "This dead letter is resolved already."
                )
            orders = OrderRepository(session)
            order = await orders.get(letter.order_id)
            assert order is not None  # foreign key
            if order.status is OrderStatus.FAILED:
                await orders.append_history(
                    order,
                    OrderStatus.FAILED,
                    OrderStatus.RECEIVED,
                    f"redriven from dead letter {letter.id}",
                )
                order.status = OrderStatus.RECEIVED
                # Pending in the outbox until a start is recorded: a crash or an unreachable
                # Temporal after this commit leaves the start to the relay.
                order.workflow_started_at = None
                letter.redriven_at = datetime.now(UTC)
                await enqueue_start(session, order.id)
            await session.flush()
            await session.refresh(order, ["items"])
        # A failed run may be followed by a new one; a running one is returned as it is (the
        # relay, woken by the enqueue, may be starting it too: the second start finds the first).
        try:
            run_id = await start_fulfillment(
                self._temporal,
                self._settings.task_queue,
                order,
                RetryProfile(self._settings.effective_retry_profile),
            )
        except (RPCError, RuntimeError) as exc:
            if not temporal_unreachable(exc):
                raise
            # The redrive is committed with its pending start, so the relay starts it once
            # Temporal answers; a retry of this call is just as safe.
            raise temporal_unavailable(
                "The new run did not start; the redrive is recorded and starts when Temporal "
                "answers again."
            ) from exc
        async with self._sessions.begin() as session:
            await record_started(session, {order.id: datetime.now(UTC)})
        return RedriveOut(dead_letter=DeadLetterOut.model_validate(letter), run_id=run_id)
