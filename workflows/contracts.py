"""Pydantic models that cross the workflow/activity boundary (pure data, no I/O)."""

from __future__ import annotations

import uuid

from pydantic import BaseModel

from orderapi.domain import OrderStatus


class OrderLine(BaseModel):
    sku: str
    quantity: int
    unit_price: int


class OrderWorkflowInput(BaseModel):
    order_id: uuid.UUID
    customer_id: str
    currency: str
    total: int
    payment_method: str
    lines: list[OrderLine]


class StatusChange(BaseModel):
    order_id: uuid.UUID
    to_status: OrderStatus
    reason: str


class OrderWorkflowResult(BaseModel):
    order_id: uuid.UUID
    status: OrderStatus
