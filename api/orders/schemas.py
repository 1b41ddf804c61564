"""The order resource as clients send and receive it."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

from api.orders.cursor import CURSOR_PATTERN
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


class StatusChangeEvent(BaseModel):
    """The data of one `status` event of GET /orders/{id}/events; the event id is the change's."""

    order_id: uuid.UUID
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


MAX_PAGE_SIZE = 100

# RFC 3339's date-time, the contract's format: pydantic alone would also read `0.5` as a Unix time.
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


def _rfc3339_text(value: object) -> object:
    if isinstance(value, str) and not _RFC3339.fullmatch(value):
        raise ValueError("must be an RFC 3339 date-time with an offset, e.g. 2026-01-31T09:00:00Z")
    return value


def _in_utc(instant: datetime) -> datetime:
    # UTC before the database sees it: PostgreSQL refuses offsets beyond 15:59 that RFC 3339
    # allows. An instant beyond Python's years 1-9999 is before or after every order anyway.
    try:
        return instant.astimezone(UTC)
    except OverflowError:
        return (datetime.min if instant.year == 1 else datetime.max).replace(tzinfo=UTC)


Instant = Annotated[AwareDatetime, BeforeValidator(_rfc3339_text), AfterValidator(_in_utc)]


class OrderListQuery(BaseModel):
    """The query of GET /orders.

    Not strict like the bodies: every query value arrives as text, and `limit=20` must be read as
    a number. Unknown parameters are refused, so a misspelt filter is a 422, not an unfiltered list.
    """

    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=20, ge=1, le=MAX_PAGE_SIZE)
    cursor: str | None = Field(
        default=None,
        pattern=CURSOR_PATTERN,
        description="opaque: the `next_cursor` of the previous page, with the same filters",
    )
    status: list[OrderStatus] = Field(
        default_factory=list, description="repeatable: orders in any of these statuses"
    )
    created_after: Instant | None = Field(
        default=None, description="only orders placed strictly after this instant"
    )
    created_before: Instant | None = Field(
        default=None, description="only orders placed strictly before this instant"
    )
    customer_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        pattern=PRINTABLE_TEXT,
        description="whose orders: admin scope only, unless it is the caller's own",
    )


class OrderSummary(BaseModel):
    id: uuid.UUID
    status: OrderStatus
    total: int = Field(description="minor units")
    currency: str
    created_at: datetime


class OrderPage(BaseModel):
    items: list[OrderSummary] = Field(description="newest first")
    next_cursor: str | None = Field(
        description="pass as `cursor` for the next page; null on the last page"
    )
    next: str | None = Field(
        description="the next page's path and query, filters included; null on the last page"
    )
