"""The gateway's durable state: charges, refunds and their Idempotency-Keys, in PostgreSQL.

Each function runs its own transaction, so an outcome is committed before it is answered.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ScalarSelect, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from foundation.models import GatewayCharge, GatewayRefund
from simulators.errors import SimulatorError
from simulators.idempotency import Recorded, ensure_same_request
from simulators.ids import new_id
from simulators.payment_gateway.schemas import ChargeRequest, ChargeStatus


@dataclass(frozen=True)
class ChargeWithRefunds:
    charge: GatewayCharge
    refunded_amount: int


async def charge_for_key(session: AsyncSession, key: str) -> GatewayCharge | None:
    async with session.begin():
        return await _charge_for_key(session, key)


async def _charge_for_key(session: AsyncSession, key: str) -> GatewayCharge | None:
    return await session.scalar(select(GatewayCharge).where(GatewayCharge.idempotency_key == key))


async def record_charge(
    session: AsyncSession,
    *,
    key: str,
    fingerprint: str,
    request: ChargeRequest,
    failure_code: str | None,
) -> Recorded[GatewayCharge]:
    """Store the charge unless its key already has one; concurrent callers all get one row.

    ON CONFLICT DO NOTHING waits for a concurrent insert of the same key to commit and then
    inserts nothing, so the loser reads the winner's charge and answers with that.
    """
    status = ChargeStatus.SUCCEEDED if failure_code is None else ChargeStatus.FAILED
    async with session.begin():
        inserted = await session.scalar(
            insert(GatewayCharge)
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
            .on_conflict_do_nothing(index_elements=[GatewayCharge.idempotency_key])
            .returning(GatewayCharge)
        )
        if inserted is not None:
            return Recorded(inserted, replayed=False)
        winner = await _charge_for_key(session, key)
    assert winner is not None, "the conflicting charge was committed before the conflict resolved"
    return Recorded(winner, replayed=True)


def _refunded_amount() -> ScalarSelect[int]:
    return (
        select(func.coalesce(func.sum(GatewayRefund.amount), 0))
        .where(GatewayRefund.charge_id == GatewayCharge.id)
        .scalar_subquery()
    )


async def charge_by_id(session: AsyncSession, charge_id: str) -> ChargeWithRefunds | None:
    async with session.begin():
        row = (
            await session.execute(
                select(GatewayCharge, _refunded_amount()).where(GatewayCharge.id == charge_id)
            )
        ).one_or_none()
    return None if row is None else ChargeWithRefunds(row[0], row[1])


async def charges_for_reference(session: AsyncSession, reference: str) -> list[ChargeWithRefunds]:
    async with session.begin():
        rows = await session.execute(
            select(GatewayCharge, _refunded_amount())
            .where(GatewayCharge.reference == reference)
            .order_by(GatewayCharge.created_at, GatewayCharge.id)
        )
        return [ChargeWithRefunds(charge, refunded) for charge, refunded in rows]


def no_such_charge(charge_id: str) -> SimulatorError:
    return SimulatorError(404, "no_such_charge", f"No such charge: {charge_id!r}.")


async def refund_charge(
    session: AsyncSession, *, charge_id: str, key: str, fingerprint: str, amount: int | None
) -> Recorded[GatewayRefund]:
    """Refund `amount` of a charge (all that is left when None), once per key."""
    async with session.begin():
        # Locking the charge serialises its refunds, so two keys can never refund more than it.
        charge = await session.scalar(
            select(GatewayCharge).where(GatewayCharge.id == charge_id).with_for_update()
        )
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
            select(func.coalesce(func.sum(GatewayRefund.amount), 0)).where(
                GatewayRefund.charge_id == charge_id
            )
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
            insert(GatewayRefund)
            .values(
                id=new_id("re"),
                charge_id=charge_id,
                idempotency_key=key,
                fingerprint=fingerprint,
                amount=remaining if amount is None else amount,
            )
            .on_conflict_do_nothing(index_elements=[GatewayRefund.idempotency_key])
            .returning(GatewayRefund)
        )
        if inserted is not None:
            return Recorded(inserted, replayed=False)
        # The same key, at the same moment, refunding another charge: that request won.
        winner = await _refund_for_key(session, key)
        assert winner is not None, "the conflicting refund was committed before it resolved"
        ensure_same_request(winner.fingerprint, fingerprint)
        return Recorded(winner, replayed=True)


async def _refund_for_key(session: AsyncSession, key: str) -> GatewayRefund | None:
    return await session.scalar(select(GatewayRefund).where(GatewayRefund.idempotency_key == key))
