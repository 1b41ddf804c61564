"""Purges expired idempotency keys, a sweep each worker runs beside its polling.

Starting accepted orders is the relay's alone (processes/relay.py).
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import delete, func
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from foundation.models import IdempotencyKey
from foundation.settings import Settings

logger = logging.getLogger(__name__)


async def purge_expired_keys(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions.begin() as session:
        result = await session.execute(
            delete(IdempotencyKey).where(IdempotencyKey.expires_at < func.now())
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def purge_keys_forever(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    while True:
        try:
            await purge_expired_keys(sessions)
        except Exception:
            logger.warning("key purge failed; retrying next interval", exc_info=True)
        await asyncio.sleep(settings.key_purge_interval_seconds)
