"""GET /products: the catalog."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import select

from api.dependencies import DbSession
from api.responses import problem_responses
from foundation.models import Product

router = APIRouter(tags=["products"])


class ProductOut(BaseModel):
    sku: str
    name: str
    unit_price: int = Field(description="minor units")
    currency: str
    stock: int


@router.get(
    "/products",
    response_model=list[ProductOut],
    summary="List the catalog",
    responses=problem_responses(503),
)
async def list_products(session: DbSession) -> list[ProductOut]:
    rows = await session.scalars(select(Product).order_by(Product.sku))
    return [ProductOut.model_validate(p, from_attributes=True) for p in rows]
