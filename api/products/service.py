"""Listing the catalog."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.products.repository import ProductRepository
from api.products.schemas import ProductOut


class ProductService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def catalog(self) -> list[ProductOut]:
        async with self._sessions() as session:
            products = await ProductRepository(session).all_in_sku_order()
        return [ProductOut.model_validate(product) for product in products]
