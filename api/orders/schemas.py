"""The order resource as clients send and receive it."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from foundation.domain import OrderStatus

MAX_ITEMS = 50
MAX_QUANTITY = 100


class Currency(StrEnum):
    """The catalog is priced in these currencies."""

    USD = "USD"


class _Strict(BaseModel):
    """Request bodies: validated as sent, so the contract's types and patterns are the rules.

    Strict: a string is not a number and a boolean is not an integer (`"1"`, `true` and `1.5` are
    not a quantity; `1.0` is, see JsonInteger). Bodies are validated from JSON text, where strict
    mode still reads enum values from their strings. No whitespace trimming either.
    """

    model_config = ConfigDict(extra="forbid", strict=True)


def _integral_number_as_int(value: object) -> object:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# JSON has one number type, and JSON Schema's "integer" (the contract's) is any number with no
# fractional part: `2.0` and `2` are the same quantity. Strict mode alone would refuse `2.0`.
JsonInteger = Annotated[int, BeforeValidator(_integral_number_as_int)]


class OrderItemIn(_Strict):
    sku: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
    quantity: JsonInteger = Field(ge=1, le=MAX_QUANTITY)


# Address text is printed on labels and stored as JSONB, which cannot hold NUL: no control
# characters (C0 and DEL) anywhere, and required fields must not be blank.
PRINTABLE_TEXT = r"^[^\x00-\x1F\x7F]*$"
NON_BLANK_TEXT = r"^[^\x00-\x1F\x7F]*[^ \x00-\x1F\x7F][^\x00-\x1F\x7F]*$"


class ShippingAddress(_Strict):
    name: str = Field(min_length=1, max_length=200, pattern=NON_BLANK_TEXT)
    line1: str = Field(min_length=1, max_length=200, pattern=NON_BLANK_TEXT)
    line2: str | None = Field(default=None, max_length=200, pattern=PRINTABLE_TEXT)
    city: str = Field(min_length=1, max_length=100, pattern=NON_BLANK_TEXT)
    postal_code: str = Field(min_length=1, max_length=20, pattern=NON_BLANK_TEXT)
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")


class OrderCreate(_Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [{"sku": "WIDGET-1", "quantity": 2}],
                    "currency": "USD",
                    "payment_method": "tok_visa",
                    "shipping_address": {
                        "name": "Alice Example",
                        "line1": "1 Main St",
                        "city": "Springfield",
                        "postal_code": "12345",
                        "country": "US",
                    },
                }
            ]
        }
    )

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


class CancelIn(_Strict):
    reason: str = Field(default="cancelled by customer", min_length=1, max_length=500)
