"""Order rows: the only place that queries the orders tables."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from orderapi.models import Order, OrderItem, Product


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
