"""Stock reservations in our own catalog, idempotent by order."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities.errors import step_failed
from activities.status_writes import StatusWriter
from foundation.models import Product, StockReservation
from workflows.contracts import ErrorType, ReserveStock


class StockActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn(name="reserve_stock")
    async def reserve_stock(self, request: ReserveStock) -> None:
        wanted = Counter[str]()
        for line in request.lines:
            wanted[line.sku] += line.quantity
        async with self._sessions.begin() as session:
            held = await session.scalar(
                select(StockReservation.order_id)
                .where(
                    StockReservation.order_id == request.order_id,
                    StockReservation.released_at.is_(None),
                )
                .limit(1)
            )
            if held is not None:  # a retry after the reservation (and its status) committed
                return
            # Reservations released by an earlier, failed run are replaced (redrive).
            await session.execute(
                delete(StockReservation).where(StockReservation.order_id == request.order_id)
            )
            # Sorted, so concurrent orders lock product rows in one order and cannot deadlock.
            for sku in sorted(wanted):
                taken = await session.execute(
                    update(Product)
                    .where(Product.sku == sku, Product.stock >= wanted[sku])
                    .values(stock=Product.stock - wanted[sku])
                    .returning(Product.sku)
                )
                if taken.first() is None:
                    # Raising inside the transaction rolls back what this attempt took.
                    raise step_failed(
                        f"not enough stock for {sku} (wanted {wanted[sku]})",
                        ErrorType.OUT_OF_STOCK,
                        retryable=False,
                        business_outcome=True,
                    )
                session.add(
                    StockReservation(order_id=request.order_id, sku=sku, quantity=wanted[sku])
                )
            if request.status_change is not None:
                # In the reservation's own transaction: reserved and RESERVED commit together.
                await StatusWriter.write_in(session, request.status_change)

    @activity.defn(name="release_stock")
    async def release_stock(self, order_id: uuid.UUID) -> None:
        async with self._sessions.begin() as session:
            held = list(
                await session.scalars(
                    select(StockReservation)
                    .where(
                        StockReservation.order_id == order_id,
                        StockReservation.released_at.is_(None),
                    )
                    .with_for_update()
                )
            )
            for reservation in held:
                await session.execute(
                    update(Product)
                    .where(Product.sku == reservation.sku)
                    .values(stock=Product.stock + reservation.quantity)
                )
                reservation.released_at = datetime.now(UTC)
