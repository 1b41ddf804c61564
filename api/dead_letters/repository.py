"""Dead-letter rows."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from foundation.models import DeadLetter


class DeadLetterRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def unresolved_page(self, *, after: int, limit: int) -> list[DeadLetter]:
        """Keyset paging by id: stable while new rows arrive, cheap at any depth."""
        rows = await self._session.scalars(
            select(DeadLetter)
            .where(DeadLetter.resolved_at.is_(None), DeadLetter.id > after)
            .order_by(DeadLetter.id)
            .limit(limit)
        )
        return list(rows)

    async def get_for_update(self, dead_letter_id: int) -> DeadLetter | None:
        return await self._session.get(DeadLetter, dead_letter_id, with_for_update=True)
