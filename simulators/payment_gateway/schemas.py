"""The gateway's resources as callers send and receive them. Amounts are in minor units."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field


class ChargeStatus(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class ChargeRequest(BaseModel):
    # strict: an amount sent as "100", 100.0 or true is a caller bug, not a number.
    amount: int = Field(gt=0, strict=True, description="minor units")
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217, e.g. USD")
    payment_method: str = Field(min_length=1, max_length=255, examples=["tok_visa"])
    reference: str = Field(min_length=1, max_length=255, description="the caller's order id")


class ChargeOut(BaseModel):
    """A charge as `POST /charges` answers it, first time and on every replay."""

    id: str = Field(examples=["ch_5f1c0d2a9b8e7f6a5b4c3d2e"])
    status: Literal[ChargeStatus.SUCCEEDED]
    amount: int = Field(description="minor units")
    currency: str
    payment_method: str
    reference: str
    created_at: datetime


class ChargeRecord(BaseModel):
    """A charge as the ledger holds it now, refunds included."""

    id: str
    status: ChargeStatus
    failure_code: str | None
    amount: int = Field(description="minor units")
    refunded_amount: int = Field(description="minor units")
    currency: str
    payment_method: str
    reference: str
    created_at: datetime


class ChargeList(BaseModel):
    data: list[ChargeRecord]


class RefundRequest(BaseModel):
    amount: int | None = Field(
        default=None, gt=0, strict=True, description="minor units; absent or null: all that is left"
    )


class RefundOut(BaseModel):
    id: str = Field(examples=["re_0a1b2c3d4e5f6a7b8c9d0e1f"])
    charge_id: str
    amount: int = Field(description="minor units")
    status: Literal["succeeded"] = "succeeded"
    created_at: datetime
