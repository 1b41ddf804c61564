"""An order's status changes as Server-Sent Events: the history so far, then each change live.

Each event's id is the history row's id, so a client that reconnects with `Last-Event-ID` gets
exactly what it missed. The stream subscribes to the process's listener before it reads, so a
change committed between the read and the subscription still wakes it, and it re-reads the table
on every wake-up rather than trusting the notification. It ends after a terminal status, or after
`events_stream_max_seconds`, when clients reconnect with `Last-Event-ID` as SSE clients do.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.orders.repository import OrderRepository
from api.orders.schemas import StatusChangeEvent
from api.status_changes import StatusChangeListener
from foundation.domain import TERMINAL_STATUSES
from foundation.models import OrderStatusChange
from foundation.settings import Settings

logger = logging.getLogger(__name__)

KEEP_ALIVE = b": keep-alive\n\n"


def event_frame(change: OrderStatusChange) -> bytes:
    data = StatusChangeEvent(
        order_id=change.order_id,
        at=change.occurred_at,
        from_status=change.from_status,
        to_status=change.to_status,
        reason=change.reason,
    ).model_dump_json()
    return f"id: {change.id}\nevent: status\ndata: {data}\n\n".encode()


class OrderEventStream:
    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        listener: StatusChangeListener,
    ) -> None:
        self._settings = settings
        self._sessions = sessions
        self._listener = listener

    async def frames(self, order_id: uuid.UUID, after: int) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._settings.events_stream_max_seconds
        try:
            async with self._listener.subscribe(order_id) as news:
                while True:
                    changes, finished = await self._changes_after(order_id, after)
                    for change in changes:
                        yield event_frame(change)
                        after = change.id
                    if finished:
                        return
                    # Wait for news, with a comment now and then so proxies keep the line open.
                    while True:
                        remaining = deadline - loop.time()
                        if remaining <= 0:
                            return
                        wait = min(self._settings.events_keepalive_seconds, remaining)
                        if await news.wait(wait):
                            break
                        yield KEEP_ALIVE
        except (OperationalError, InterfaceError):
            # The database went away mid-stream: end it; the client resumes with Last-Event-ID.
            logger.warning("ending the event stream of order %s", order_id, exc_info=True)

    async def _changes_after(
        self, order_id: uuid.UUID, after: int
    ) -> tuple[list[OrderStatusChange], bool]:
        """The changes after `after`, and whether the stream is done once they are sent."""
        async with self._sessions() as session:
            orders = OrderRepository(session)
            changes = await orders.history_after(order_id, after)
            if changes:
                return changes, changes[-1].to_status in TERMINAL_STATUSES
            # Nothing new: done if the client has already seen the order's terminal change.
            latest = await orders.latest_change(order_id)
            done = (
                latest is not None and latest.id <= after and latest.to_status in TERMINAL_STATUSES
            )
            return [], done
