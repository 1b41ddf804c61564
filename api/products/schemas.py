"""The catalog as clients see it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ProductOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    sku: str
    name: str
    unit_price: int = Field(description="minor units")
    currency: str
    stock: int
