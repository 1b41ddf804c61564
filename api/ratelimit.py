"""Per-principal rate limit on placing orders.

In-process (per replica): with N replicas a principal gets up to N times the limit. The window
lives in `limits`' storage, so moving it to a shared store later is a change of storage, not of
this module. See adrs/0005-input-limits.md.
"""

from __future__ import annotations

import math
import time
from typing import Annotated

from fastapi import Depends, Request
from limits import RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.auth import OrderWriter
from api.idempotency.header import IdempotencyKeyHeader
from api.idempotency.repository import IdempotencyRepository
from api.problems import ProblemError
from foundation.settings import Settings


class OrderRateLimiter:
    def __init__(self, orders_per_minute: int) -> None:
        self._item = RateLimitItemPerMinute(orders_per_minute)
        # Two counters per principal (this minute and the last, weighted by how much of it is
        # still in the window): constant work per order. The exact moving window kept an entry
        # per order and swept them through a thread on every request.
        self._window = SlidingWindowCounterRateLimiter(MemoryStorage())

    async def acquire(self, principal: str) -> int | None:
        """Take one slot; None if there was one, else the seconds until one frees up."""
        if await self._window.hit(self._item, "orders", principal):
            return None
        reset_at, _ = await self._window.get_window_stats(self._item, "orders", principal)
        return max(1, math.ceil(reset_at - time.time()))


async def _has_stored_response(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], principal: str, key: str
) -> bool:
    async with sessions() as session:
        keys = IdempotencyRepository.from_settings(session, settings)
        return await keys.has_stored_response(principal, key)


async def limit_order_rate(
    request: Request, principal: OrderWriter, key: IdempotencyKeyHeader
) -> None:
    limiter: OrderRateLimiter = request.app.state.order_rate_limiter
    retry_after = await limiter.acquire(principal.subject)
    if retry_after is None:
        return
    # A retry of an order that was already placed creates nothing, and refusing it would leave
    # the client unsure whether its order exists: replays are answered even over the limit.
    # Read from the app's state, not declared: each dependency is solved on every order, and
    # these two are needed only past the limit.
    state = request.app.state
    if await _has_stored_response(state.settings, state.session_factory, principal.subject, key):
        return
    raise ProblemError(
        429,
        "rate-limited",
        "Too many orders placed in the last minute; retry after the Retry-After delay.",
        headers={"Retry-After": str(retry_after)},
    )


OrderRateLimit = Annotated[None, Depends(limit_order_rate)]
