"""Order rows: the only place that queries the orders tables."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from foundation.domain import OrderStatus
from foundation.models import Order, OrderItem, OrderStatusChange, Product


class OrderRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def products_by_sku(self, skus: Sequence[str]) -> dict[str, Product]:
        rows = await self._session.scalars(select(Product).where(Product.sku.in_(set(skus))))
        return {p.sku: p for p in rows}

    async def get(self, order_id: uuid.UUID) -> Order | None:
        return await self._session.get(Order, order_id)

    async def get_for_customer(self, order_id: uuid.UUID, customer_id: str) -> Order | None:
        return await self._session.scalar(
            select(Order).where(Order.id == order_id, Order.customer_id == customer_id)
        )

    async def add(self, order: Order, items: list[OrderItem]) -> Order:
        order.items = items
        self._session.add(order)
        await self._session.flush()
        return order

    async def append_history(
        self, order: Order, from_status: OrderStatus | None, to_status: OrderStatus, reason: str
    ) -> None:
        """History written by the API; the workflow's own transitions come from its activity."""
        self._session.add(
            OrderStatusChange(
                order_id=order.id,
                from_status=from_status,
                to_status=to_status,
                reason=reason,
                transition_id=f"api/{order.id}/{to_status.value}/{uuid.uuid4()}",
            )
        )
        await self._session.flush()
