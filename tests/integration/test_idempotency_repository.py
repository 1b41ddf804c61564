"""The claim statement decides ownership of a key (each test runs in a rolled-back transaction)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from api.idempotency.repository import Claimed, IdempotencyRepository, InFlight, Mismatch, Replay
from foundation.models import IdempotencyKey
from foundation.settings import Settings

pytestmark = pytest.mark.integration
LEASE = timedelta(seconds=30)


def _repo(session: AsyncSession) -> IdempotencyRepository:
    return IdempotencyRepository(session, retention=timedelta(hours=24), lease=LEASE)


async def test_first_claim_wins_generation_one(db_session: AsyncSession) -> None:
    outcome = await _repo(db_session).claim("alice", "k", "fp")
    assert isinstance(outcome, Claimed)
    assert outcome.generation == 1 and outcome.order_id is None


async def test_second_claim_while_leased_is_in_flight(db_session: AsyncSession) -> None:
    repo = _repo(db_session)
    await repo.claim("alice", "k", "fp")
    outcome = await repo.claim("alice", "k", "fp")
    assert isinstance(outcome, InFlight)
    assert 1 <= outcome.retry_after_seconds <= LEASE.seconds + 1


async def test_claim_with_another_fingerprint_is_a_mismatch(db_session: AsyncSession) -> None:
    repo = _repo(db_session)
    await repo.claim("alice", "k", "fp")
    assert isinstance(await repo.claim("alice", "k", "other-fp"), Mismatch)


async def test_completed_claim_replays_the_stored_response(db_session: AsyncSession) -> None:
    repo = _repo(db_session)
    first = await repo.claim("alice", "k", "fp")
    assert isinstance(first, Claimed)
    await repo.complete(first.key_id, 201, {"id": "x"}, "/orders/x")
    assert await repo.claim("alice", "k", "fp") == Replay(201, {"id": "x"}, "/orders/x")


async def test_expired_claim_can_be_claimed_afresh_with_any_body(db_session: AsyncSession) -> None:
    repo = _repo(db_session)
    first = await repo.claim("alice", "k", "fp")
    assert isinstance(first, Claimed)
    await repo.complete(first.key_id, 201, {"id": "x"}, "/orders/x")
    await db_session.execute(
        update(IdempotencyKey).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    )
    again = await repo.claim("alice", "k", "another-body-is-fine-now")
    assert isinstance(again, Claimed)
    assert again.key_id == first.key_id


async def test_repository_from_settings_leases_claims_for_the_configured_time(
    db_session: AsyncSession,
) -> None:
    settings = Settings(idempotency_claim_lease_seconds=600)
    repo = IdempotencyRepository.from_settings(db_session, settings)
    await repo.claim("alice", "k", "fp")
    outcome = await repo.claim("alice", "k", "fp")
    assert isinstance(outcome, InFlight)
    assert 590 <= outcome.retry_after_seconds <= 601


async def test_repository_from_settings_keeps_keys_for_the_configured_time(
    db_session: AsyncSession,
) -> None:
    settings = Settings(idempotency_retention_seconds=7 * 24 * 3600)
    before = datetime.now(UTC)
    await IdempotencyRepository.from_settings(db_session, settings).claim("alice", "k", "fp")
    expires_at = await db_session.scalar(
        select(IdempotencyKey.expires_at).where(
            IdempotencyKey.principal == "alice", IdempotencyKey.key == "k"
        )
    )
    assert expires_at is not None
    assert timedelta(days=7) <= expires_at - before < timedelta(days=7, minutes=1)
