"""Product rows, as the catalog lists them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from foundation.models import Product


class ProductRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def all_in_sku_order(self) -> list[Product]:
        rows = await self._session.scalars(select(Product).order_by(Product.sku))
        return list(rows)
