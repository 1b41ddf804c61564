"""One LISTEN connection per API process, fanning status-change notifications out to streams.

Every GET /orders/{id}/events subscribes here instead of holding a database connection of its
own, so a thousand open streams cost one connection. A notification only says "this order has
news"; each stream reads the rows itself, so a lost or merged notification loses no change.
Whenever the listener (re)connects it wakes every subscriber, since notifications sent while it
was not listening are gone and the streams must re-read to catch up.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import psycopg

from foundation.db import libpq_conninfo
from foundation.models import STATUS_CHANGE_CHANNEL

logger = logging.getLogger(__name__)

# After the connection is lost, how long to wait before listening again.
RECONNECT_DELAY_SECONDS = 1.0


class Subscription:
    """A wake-up for one stream: set by any notification about its order."""

    def __init__(self) -> None:
        self._news = asyncio.Event()

    def notify(self) -> None:
        self._news.set()

    async def wait(self, timeout: float) -> bool:
        """True when there is news (and consumes it), False when the timeout came first."""
        try:
            async with asyncio.timeout(timeout):
                await self._news.wait()
        except TimeoutError:
            return False
        self._news.clear()
        return True


class StatusChangeListener:
    def __init__(self, database_url: str) -> None:
        # psycopg's own connection string: the URL without SQLAlchemy's driver suffix.
        self._conninfo = libpq_conninfo(database_url)
        self._subscribers: defaultdict[uuid.UUID, set[Subscription]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._listen_forever(), name="status-change-listener")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task

    @property
    def subscriber_count(self) -> int:
        return sum(len(subscriptions) for subscriptions in self._subscribers.values())

    @asynccontextmanager
    async def subscribe(self, order_id: uuid.UUID) -> AsyncIterator[Subscription]:
        subscription = Subscription()
        self._subscribers[order_id].add(subscription)
        try:
            yield subscription
        finally:
            subscribers = self._subscribers[order_id]
            subscribers.discard(subscription)
            if not subscribers:
                del self._subscribers[order_id]

    def _wake(self, order_id: uuid.UUID) -> None:
        for subscription in self._subscribers.get(order_id, ()):
            subscription.notify()

    def _wake_everyone(self) -> None:
        for subscriptions in self._subscribers.values():
            for subscription in subscriptions:
                subscription.notify()

    async def _listen_forever(self) -> None:
        while True:
            try:
                await self._listen()
            except (psycopg.Error, OSError):
                logger.warning("status-change listener lost its connection", exc_info=True)
            # Whatever was notified meanwhile is lost: every stream re-reads its order.
            self._wake_everyone()
            await asyncio.sleep(RECONNECT_DELAY_SECONDS)

    async def _listen(self) -> None:
        async with await psycopg.AsyncConnection.connect(
            self._conninfo, autocommit=True, connect_timeout=5
        ) as connection:
            await connection.execute(f"LISTEN {STATUS_CHANGE_CHANNEL}")
            # Changes committed before LISTEN took effect were never notified to us.
            self._wake_everyone()
            async for notification in connection.notifies():
                try:
                    order_id = uuid.UUID(notification.payload)
                except ValueError:
                    logger.warning("ignoring a status-change notification that is no order id")
                    continue
                self._wake(order_id)
