"""Claims on idempotency keys: one atomic statement decides who owns a key."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import BindParameter, Select, String, bindparam, func, literal, select, true, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from foundation.domain import KeyState
from foundation.models import IdempotencyKey, Order
from foundation.settings import Settings


@dataclass(frozen=True)
class Claimed:
    """This request owns the key and must finish the work."""

    key_id: int
    generation: int
    order_id: uuid.UUID | None  # set when a crashed earlier attempt already wrote the order
    # The transaction's clock (PostgreSQL's now()): what the order's timestamps are written with,
    # so the stored response and the rows agree to the microsecond.
    accepted_at: datetime


@dataclass(frozen=True)
class Replay:
    status: int
    body: dict[str, Any]
    location: str | None


@dataclass(frozen=True)
class Mismatch:
    """The key was used with a different request."""


@dataclass(frozen=True)
class InFlight:
    retry_after_seconds: int


ClaimOutcome = Claimed | Replay | Mismatch | InFlight


def _claim_statement() -> Select[Any]:
    """The claim and a read of the key as it stood, in one statement: a replay, a reuse and a
    live claim are answered from it in one round trip. The read sees the statement's snapshot,
    so anything it cannot settle on its own is looked up again afterwards.

    Built once with named parameters: assembling it per request cost more CPU than the round
    trip it saves.
    """
    principal: BindParameter[str] = bindparam("claim_principal", type_=String())
    key: BindParameter[str] = bindparam("claim_key", type_=String())
    now = bindparam("claim_now", type_=IdempotencyKey.expires_at.type)
    # A key used again after it expired starts a new generation, so it names a new workflow.
    next_generation = (
        select(func.coalesce(func.max(Order.key_generation), 0) + 1)
        .where(Order.customer_id == principal, Order.idempotency_key == key)
        .scalar_subquery()
    )
    fresh = insert(IdempotencyKey).values(
        principal=principal,
        key=key,
        generation=next_generation,
        fingerprint=bindparam("claim_fingerprint"),
        state=KeyState.IN_FLIGHT,
        locked_until=bindparam("claim_locked_until", type_=IdempotencyKey.locked_until.type),
        expires_at=bindparam("claim_expires_at", type_=IdempotencyKey.expires_at.type),
    )
    excluded = fresh.excluded
    claim = fresh.on_conflict_do_update(
        index_elements=[IdempotencyKey.principal, IdempotencyKey.key],
        set_={
            "generation": excluded.generation,
            "fingerprint": excluded.fingerprint,
            "state": KeyState.IN_FLIGHT,
            "locked_until": excluded.locked_until,
            "expires_at": excluded.expires_at,
            "response_status": None,
            "response_body": None,
            "response_location": None,
            "order_id": None,
            "created_at": func.now(),
        },
        where=IdempotencyKey.expires_at <= now,
    ).returning(IdempotencyKey.id, IdempotencyKey.generation)
    won = claim.cte("won")
    stored = (
        select(
            IdempotencyKey.fingerprint,
            IdempotencyKey.state,
            IdempotencyKey.locked_until,
            IdempotencyKey.expires_at,
            IdempotencyKey.response_status,
            IdempotencyKey.response_body,
            IdempotencyKey.response_location,
        )
        .where(IdempotencyKey.principal == principal, IdempotencyKey.key == key)
        .subquery("stored")
    )
    anchor = select(literal(1).label("one")).subquery("anchor")
    return select(won.c.id, won.c.generation, func.now().label("now"), stored).select_from(
        anchor.outerjoin(won, true()).outerjoin(stored, true())
    )


CLAIM = _claim_statement()


class IdempotencyRepository:
    def __init__(self, session: AsyncSession, *, retention: timedelta, lease: timedelta) -> None:
        self._session = session
        self._retention = retention
        self._lease = lease

    @classmethod
    def from_settings(cls, session: AsyncSession, settings: Settings) -> IdempotencyRepository:
        return cls(
            session,
            retention=timedelta(seconds=settings.idempotency_retention_seconds),
            lease=timedelta(seconds=settings.idempotency_claim_lease_seconds),
        )

    async def claim(self, principal: str, key: str, fingerprint: str) -> ClaimOutcome:
        now = datetime.now(UTC)
        found = (
            await self._session.execute(
                CLAIM,
                {
                    "claim_principal": principal,
                    "claim_key": key,
                    "claim_fingerprint": fingerprint,
                    "claim_locked_until": now + self._lease,
                    "claim_expires_at": now + self._retention,
                    "claim_now": now,
                },
            )
        ).one()
        if found.id is not None:
            return Claimed(
                key_id=found.id, generation=found.generation, order_id=None, accepted_at=found.now
            )
        if found.state is not None and found.expires_at > now:
            if found.fingerprint != fingerprint:
                return Mismatch()
            if found.state is KeyState.COMPLETED:
                assert found.response_status is not None and found.response_body is not None
                return Replay(found.response_status, found.response_body, found.response_location)
            if found.locked_until > now:
                wait = (found.locked_until - now).total_seconds()
                return InFlight(retry_after_seconds=max(1, int(wait) + 1))

        existing = await self._session.scalar(
            select(IdempotencyKey).where(
                IdempotencyKey.principal == principal, IdempotencyKey.key == key
            )
        )
        if existing is None:  # purged between the two statements: treat as busy, client retries
            return InFlight(retry_after_seconds=1)
        if existing.fingerprint != fingerprint:
            return Mismatch()
        if existing.state is KeyState.COMPLETED:
            assert existing.response_status is not None and existing.response_body is not None
            return Replay(
                existing.response_status, existing.response_body, existing.response_location
            )
        if existing.locked_until > now:
            wait = (existing.locked_until - now).total_seconds()
            return InFlight(retry_after_seconds=max(1, int(wait) + 1))
        return await self._take_over_lapsed(existing, now, found.now)

    async def _take_over_lapsed(
        self, existing: IdempotencyKey, now: datetime, accepted_at: datetime
    ) -> ClaimOutcome:
        # Compare-and-set: of several requests finding the same lapsed claim, one wins.
        taken = await self._session.execute(
            update(IdempotencyKey)
            .where(
                IdempotencyKey.id == existing.id,
                IdempotencyKey.state == KeyState.IN_FLIGHT,
                IdempotencyKey.locked_until <= now,
            )
            .values(locked_until=now + self._lease)
            .returning(IdempotencyKey.id)
        )
        if taken.first() is None:
            return InFlight(retry_after_seconds=1)
        return Claimed(
            key_id=existing.id,
            generation=existing.generation,
            order_id=existing.order_id,
            accepted_at=accepted_at,
        )

    async def has_stored_response(self, principal: str, key: str) -> bool:
        """Whether a request with this key would be answered by a replay."""
        found = await self._session.scalar(
            select(IdempotencyKey.id).where(
                IdempotencyKey.principal == principal,
                IdempotencyKey.key == key,
                IdempotencyKey.state == KeyState.COMPLETED,
                IdempotencyKey.expires_at > datetime.now(UTC),
            )
        )
        return found is not None

    async def complete(
        self, key_id: int, status: int, body: dict[str, Any], location: str | None
    ) -> None:
        await self._session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.id == key_id)
            .values(
                state=KeyState.COMPLETED,
                response_status=status,
                response_body=body,
                response_location=location,
            )
        )
