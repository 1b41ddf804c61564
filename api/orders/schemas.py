"""The order resource as clients send and receive it."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from orderapi.domain import OrderStatus

MAX_ITEMS = 50
MAX_QUANTITY = 100


class Currency(StrEnum):
    """The catalog is priced in these currencies."""

    USD = "USD"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class OrderItemIn(_Strict):
    sku: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
    quantity: int = Field(ge=1, le=MAX_QUANTITY)


class ShippingAddress(_Strict):
    name: str = Field(min_length=1, max_length=200)
    line1: str = Field(min_length=1, max_length=200)
    line2: str | None = Field(default=None, max_length=200)
    city: str = Field(min_length=1, max_length=100)
    postal_code: str = Field(min_length=1, max_length=20)
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")


class OrderCreate(_Strict):
    items: list[OrderItemIn] = Field(min_length=1, max_length=MAX_ITEMS)
    currency: Currency
    payment_method: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_]+$",
        description="Opaque token from the payment gateway, e.g. tok_visa",
    )
    shipping_address: ShippingAddress


class OrderItemOut(BaseModel):
    sku: str
    quantity: int
    unit_price: int = Field(description="minor units, from the catalog")
    line_total: int = Field(description="minor units")


class StatusChangeOut(BaseModel):
    at: datetime
    from_status: OrderStatus | None
    to_status: OrderStatus
    reason: str


class OrderOut(BaseModel):
    id: uuid.UUID
    status: OrderStatus
    items: list[OrderItemOut]
    total: int = Field(description="minor units")
    currency: str
    workflow_id: str
    created_at: datetime
    charge_id: str | None = Field(default=None, description="set once payment is captured")
    tracking_number: str | None = Field(default=None, description="set once shipped")
    history: list[StatusChangeOut] = Field(
        default_factory=list, description="every status change, oldest first"
    )


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="cancelled by customer", min_length=1, max_length=500)
