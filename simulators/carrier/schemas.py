"""The carrier's resources as callers send and receive them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

MAX_ITEMS = 100


class ShipmentStatus(StrEnum):
    CREATED = "created"
    REJECTED = "rejected"


class Address(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    line1: str = Field(min_length=1, max_length=200)
    line2: str | None = Field(default=None, max_length=200)
    city: str = Field(min_length=1, max_length=100)
    postal_code: str = Field(min_length=1, max_length=20, examples=["12345"])
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")


class Item(BaseModel):
    sku: str = Field(min_length=1, max_length=64)
    quantity: int = Field(ge=1, strict=True)


class ShipmentRequest(BaseModel):
    reference: str = Field(min_length=1, max_length=255, description="the caller's order id")
    address: Address
    items: list[Item] = Field(min_length=1, max_length=MAX_ITEMS)


class ShipmentOut(BaseModel):
    """A shipment as `POST /shipments` answers it, first time and on every replay."""

    id: str = Field(examples=["shp_5f1c0d2a9b8e7f6a5b4c3d2e"])
    tracking_number: str = Field(examples=["TRK0123456789012345"])
    status: Literal[ShipmentStatus.CREATED]
    reference: str
    created_at: datetime


class ShipmentRecord(BaseModel):
    """A shipment as the ledger holds it; a rejected one has no tracking number."""

    id: str
    tracking_number: str | None
    status: ShipmentStatus
    failure_code: str | None
    reference: str
    address: Address
    items: list[Item]
    created_at: datetime


class ShipmentList(BaseModel):
    data: list[ShipmentRecord]
