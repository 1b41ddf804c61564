"""The carrier's durable state: shipments and their Idempotency-Keys, in its ledger file.

Each function runs its own transaction, so an outcome is committed before it is answered; the
ledger runs one transaction at a time (see `simulators.storage`), which is what keeps a key to one
shipment.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.sqlite import insert
from sqlalchemy.ext.asyncio import AsyncSession

from simulators.carrier.models import Shipment
from simulators.carrier.schemas import ShipmentRequest, ShipmentStatus
from simulators.idempotency import Recorded
from simulators.ids import new_id, new_tracking_number


async def shipment_for_key(session: AsyncSession, key: str) -> Shipment | None:
    async with session.begin():
        return await _shipment_for_key(session, key)


async def _shipment_for_key(session: AsyncSession, key: str) -> Shipment | None:
    return await session.scalar(select(Shipment).where(Shipment.idempotency_key == key))


async def record_shipment(
    session: AsyncSession,
    *,
    key: str,
    fingerprint: str,
    request: ShipmentRequest,
    failure_code: str | None,
) -> Recorded[Shipment]:
    """Store the shipment unless its key already has one; concurrent callers all get one row.

    Transactions on the ledger never interleave, so a request that looked the key up before
    another stored it finds the row here: ON CONFLICT DO NOTHING inserts nothing, and it reads
    the winner's shipment and answers with that.
    """
    rejected = failure_code is not None
    async with session.begin():
        inserted = await session.scalar(
            insert(Shipment)
            .values(
                id=new_id("shp"),
                idempotency_key=key,
                fingerprint=fingerprint,
                reference=request.reference,
                status=(ShipmentStatus.REJECTED if rejected else ShipmentStatus.CREATED).value,
                failure_code=failure_code,
                tracking_number=None if rejected else new_tracking_number(),
                address=request.address.model_dump(mode="json"),
                items=[item.model_dump(mode="json") for item in request.items],
            )
            .on_conflict_do_nothing(index_elements=[Shipment.idempotency_key])
            .returning(Shipment)
        )
        if inserted is not None:
            return Recorded(inserted, replayed=False)
        winner = await _shipment_for_key(session, key)
    assert winner is not None, "the conflicting shipment was committed before it resolved"
    return Recorded(winner, replayed=True)


async def shipment_by_id(session: AsyncSession, shipment_id: str) -> Shipment | None:
    async with session.begin():
        return await session.get(Shipment, shipment_id)


async def shipments_for_reference(session: AsyncSession, reference: str) -> list[Shipment]:
    async with session.begin():
        found = await session.scalars(
            select(Shipment)
            .where(Shipment.reference == reference)
            .order_by(Shipment.created_at, Shipment.id)
        )
        return list(found)
