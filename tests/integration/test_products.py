"""The catalog, listed by the products service from the seeded rows."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.products.service import ProductService
from foundation.models import Product

pytestmark = pytest.mark.integration


async def test_catalog_lists_every_product_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    catalog = await ProductService(sessions).catalog()
    async with sessions() as session:
        stored = set(await session.scalars(select(Product.sku)))
    skus = [product.sku for product in catalog]
    assert len(skus) == len(stored) and set(skus) == stored


async def test_catalog_is_in_sku_order(sessions: async_sessionmaker[AsyncSession]) -> None:
    skus = [product.sku for product in await ProductService(sessions).catalog()]
    assert skus == sorted(skus)


async def test_catalog_prices_are_in_minor_units_with_their_currency(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    catalog = {product.sku: product for product in await ProductService(sessions).catalog()}
    assert (catalog["WIDGET-1"].unit_price, catalog["WIDGET-1"].currency) == (1999, "USD")
