"""The API's view of how many accepted orders await their workflow start, for load shedding.

One read per process per interval, not one per request: a background task counts the outbox and
every POST /orders consults the last count. Past the bound, new orders are refused with 503
rather than queued behind an engine that is not keeping up (adrs/0003-accept-then-start.md).
"""

from __future__ import annotations

import asyncio
import logging
import math
from contextlib import suppress

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.problems import ProblemError
from foundation.models import WorkflowStart

logger = logging.getLogger(__name__)


class StartBacklog:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, bound: int, refresh_seconds: float
    ) -> None:
        self._sessions = sessions
        self._bound = bound
        self._refresh_seconds = refresh_seconds
        self._pending = 0
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def pending(self) -> int:
        """The backlog at the last refresh."""
        return self._pending

    @property
    def overloaded(self) -> bool:
        return self._pending > self._bound

    @property
    def retry_after_seconds(self) -> int:
        # At least the time until this process looks again; the backlog drains meanwhile.
        return max(1, math.ceil(self._refresh_seconds))

    async def refresh(self) -> None:
        async with self._sessions() as session:
            self._pending = int(await session.scalar(select(func.count(WorkflowStart.id))) or 0)

    def start(self) -> None:
        self._task = asyncio.create_task(self._refresh_forever(), name="start-backlog")

    async def stop(self) -> None:
        # Asked, not cancelled: a count is never cut off inside its database call.
        self._stopping.set()
        if self._task is not None:
            await self._task

    async def _refresh_forever(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.refresh()
            except Exception:
                # The last count stands: a database outage fails the requests on its own.
                logger.warning("could not count the pending workflow starts", exc_info=True)
            with suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._refresh_seconds)


def intake_overloaded(retry_after_seconds: int) -> ProblemError:
    return ProblemError(
        503,
        "intake-overloaded",
        "Too many accepted orders are waiting for their fulfilment to start; retry later.",
        headers={"Retry-After": str(retry_after_seconds)},
    )
