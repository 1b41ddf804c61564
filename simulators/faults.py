"""Faults a simulator injects: whole-service ones from settings, per-request ones from magic inputs.

Whole-service faults (`*_sim_error_rate`, `*_sim_latency_ms`) strike before a request is
processed, so an injected 503 stores nothing. Per-request faults follow a `Plan` chosen from the
request's magic values; "unavailable for the first N tries" is counted per Idempotency-Key in
the simulator's ledger file, so it holds across restarts and across processes serving it.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass

from fastapi import Request
from sqlalchemy.dialects.sqlite import insert
from sqlalchemy.ext.asyncio import AsyncSession

from simulators.errors import SimulatorError
from simulators.storage import AttemptCounter, utc_now


class FaultInjector:
    """Fails a share of requests with 503 and delays every one, as its settings say."""

    def __init__(self, *, error_rate: float, latency_ms: int, rng: random.Random) -> None:
        if not 0.0 <= error_rate <= 1.0:
            raise ValueError(f"error_rate must be within [0, 1], not {error_rate}")
        if latency_ms < 0:
            raise ValueError(f"latency_ms must not be negative, not {latency_ms}")
        self.error_rate = error_rate
        self.latency_ms = latency_ms
        self._rng = rng

    def should_fail(self) -> bool:
        # random() is in [0, 1): a rate of 1.0 always fails and 0.0 never does.
        return self._rng.random() < self.error_rate

    async def before_request(self) -> None:
        if self.latency_ms:
            await asyncio.sleep(self.latency_ms / 1000)
        if self.should_fail():
            raise SimulatorError(
                503, "injected_fault", "Fault injected by the simulator's error rate; retry."
            )


async def inject_faults(request: Request) -> None:
    """Route dependency: runs before the body is looked at, so a fault stores nothing."""
    faults: FaultInjector = request.app.state.faults
    await faults.before_request()


@dataclass(frozen=True)
class Plan:
    """What a request's magic values make the simulator do before it records an outcome."""

    # 503 on every try: the dependency is down for this input.
    always_unavailable: bool = False
    # 503 for the first N tries with one Idempotency-Key, then on as planned.
    unavailable_attempts: int = 0
    # A hard failure recorded against the key like a success, so a retry gets the same answer.
    failure_code: str | None = None


SUCCEED = Plan()


async def count_attempt(session: AsyncSession, model: type[AttemptCounter], key: str) -> int:
    """Record one more try with `key` and return how many there have been, atomically."""
    statement = (
        insert(model)
        .values(idempotency_key=key, count=1)
        .on_conflict_do_update(
            index_elements=[model.idempotency_key],
            set_={"count": model.count + 1, "last_attempt_at": utc_now()},
        )
        .returning(model.count)
    )
    async with session.begin():
        return (await session.execute(statement)).scalar_one()


async def unavailable_this_try(
    plan: Plan,
    session: AsyncSession,
    attempts: type[AttemptCounter],
    key: str,
) -> bool:
    if plan.always_unavailable:
        return True
    if plan.unavailable_attempts == 0:
        return False
    return await count_attempt(session, attempts, key) <= plan.unavailable_attempts
