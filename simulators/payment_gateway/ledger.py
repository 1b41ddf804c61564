"""The gateway's durable state: charges, refunds and their Idempotency-Keys, in its ledger file.

Each function runs its own transaction, so an outcome is committed before it is answered; the
ledger runs one transaction at a time (see `simulators.storage`), which is what keeps a key to one
charge and the refunds within the charge.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ScalarSelect, func, select
from sqlalchemy.dialects.sqlite import insert
from sqlalchemy.ext.asyncio import AsyncSession

from simulators.errors import SimulatorError
from simulators.idempotency import Recorded, ensure_same_request
from simulators.ids import new_id
from simulators.payment_gateway.models import Charge, Refund
from simulators.payment_gateway.schemas import ChargeRequest, ChargeStatus


@dataclass(frozen=True)
class ChargeWithRefunds:
    charge: Charge
    refunded_amount: int


async def charge_for_key(session: AsyncSession, key: str) -> Charge | None:
    async with session.begin():
        return await _charge_for_key(session, key)


async def _charge_for_key(session: AsyncSession, key: str) -> Charge | None:
    return await session.scalar(select(Charge).where(Charge.idempotency_key == key))


async def record_charge(
    session: AsyncSession,
    *,
    key: str,
    fingerprint: str,
    request: ChargeRequest,
    failure_code: str | None,
) -> Recorded[Charge]:
    """Store the charge unless its key already has one; concurrent callers all get one row.

    Transactions on the ledger never interleave, so a request that looked the key up before
    another stored it finds the row here: ON CONFLICT DO NOTHING inserts nothing, and it reads
    the winner's charge and answers with that.
    """
    status = ChargeStatus.SUCCEEDED if failure_code is None else ChargeStatus.FAILED
    async with session.begin():
        inserted = await session.scalar(
            insert(Charge)
            .values(
                id=new_id("ch"),
                idempotency_key=key,
                fingerprint=fingerprint,
                amount=request.amount,
                currency=request.currency,
                payment_method=request.payment_method,
                reference=request.reference,
                status=status.value,
                failure_code=failure_code,
            )
            .on_conflict_do_nothing(index_elements=[Charge.idempotency_key])
            .returning(Charge)
        )
        if inserted is not None:
            return Recorded(inserted, replayed=False)
        winner = await _charge_for_key(session, key)
    assert winner is not None, "the conflicting charge was committed before the conflict resolved"
    return Recorded(winner, replayed=True)


def _refunded_amount() -> ScalarSelect[int]:
    return (
        select(func.coalesce(func.sum(Refund.amount), 0))
        .where(Refund.charge_id == Charge.id)
        .scalar_subquery()
    )


async def charge_by_id(session: AsyncSession, charge_id: str) -> ChargeWithRefunds | None:
    async with session.begin():
        row = (
            await session.execute(select(Charge, _refunded_amount()).where(Charge.id == charge_id))
        ).one_or_none()
    return None if row is None else ChargeWithRefunds(row[0], row[1])


async def charges_for_reference(session: AsyncSession, reference: str) -> list[ChargeWithRefunds]:
    async with session.begin():
        rows = await session.execute(
            select(Charge, _refunded_amount())
            .where(Charge.reference == reference)
            .order_by(Charge.created_at, Charge.id)
        )
        return [ChargeWithRefunds(charge, refunded) for charge, refunded in rows]


def no_such_charge(charge_id: str) -> SimulatorError:
    return SimulatorError(404, "no_such_charge", f"No such charge: {charge_id!r}.")


async def refund_charge(
    session: AsyncSession, *, charge_id: str, key: str, fingerprint: str, amount: int | None
) -> Recorded[Refund]:
    """Refund `amount` of a charge (all that is left when None), once per key."""
    async with session.begin():
        # The transaction holds the ledger's write lock from its start (BEGIN IMMEDIATE), so two
        # keys can never both read the same refunded amount and together refund more than it.
        charge = await session.scalar(select(Charge).where(Charge.id == charge_id))
        if charge is None:
            raise no_such_charge(charge_id)
        previous = await _refund_for_key(session, key)
        if previous is not None:
            ensure_same_request(previous.fingerprint, fingerprint)
            return Recorded(previous, replayed=True)
        if charge.status != ChargeStatus.SUCCEEDED:
            raise SimulatorError(
                409, "charge_not_refundable", f"Charge {charge_id!r} failed; nothing to refund."
            )
        refunded = await session.scalar(
            select(func.coalesce(func.sum(Refund.amount), 0)).where(Refund.charge_id == charge_id)
        )
        remaining = charge.amount - (refunded or 0)
        if remaining <= 0:
            raise SimulatorError(
                409, "charge_already_refunded", f"Charge {charge_id!r} is already fully refunded."
            )
        if amount is not None and amount > remaining:
            raise SimulatorError(
                400,
                "amount_too_large",
                f"A refund of {amount} exceeds the {remaining} left on charge {charge_id!r}.",
            )
        inserted = await session.scalar(
            insert(Refund)
            .values(
                id=new_id("re"),
                charge_id=charge_id,
                idempotency_key=key,
                fingerprint=fingerprint,
                amount=remaining if amount is None else amount,
            )
            .on_conflict_do_nothing(index_elements=[Refund.idempotency_key])
            .returning(Refund)
        )
        if inserted is not None:
            return Recorded(inserted, replayed=False)
        # The same key, used before to refund another charge: that request won.
        winner = await _refund_for_key(session, key)
        assert winner is not None, "the conflicting refund was committed before it resolved"
        ensure_same_request(winner.fingerprint, fingerprint)
        return Recorded(winner, replayed=True)


async def _refund_for_key(session: AsyncSession, key: str) -> Refund | None:
    return await session.scalar(select(Refund).where(Refund.idempotency_key == key))
