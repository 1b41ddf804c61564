"""What crosses the workflow/activity boundary: pure data, no I/O.

The lowest layer above the foundation: the workflow imports the activities it calls by reference,
and both import these contracts, so neither the activities nor this module imports the workflow.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from foundation.domain import OrderStatus

# The workflow's registered name: what starters and queries name it by.
WORKFLOW_NAME = "OrderFulfillment"


class RetryProfile(StrEnum):
    """Which table of retry policies a run uses (workflows/retry_policies.py).

    Part of the workflow input, so a running workflow keeps the policies it started with.
    """

    DEMO = "demo"
    PRODUCTION = "production"


class Step(StrEnum):
    """The workflow's steps, as named in dead letters and retry policies."""

    RESERVE_STOCK = "reserve_stock"
    CHARGE_PAYMENT = "charge_payment"
    CREATE_SHIPMENT = "create_shipment"
    REFUND_PAYMENT = "refund_payment"
    RELEASE_STOCK = "release_stock"
    RECORD = "record"


class ErrorType(StrEnum):
    """Failure types steps and the workflow raise. The values are stable: recorded histories,
    dead-letter rows and retry policies' non-retryable lists carry them."""

    # Answers retrying cannot change: each step's policy lists its own as non-retryable.
    OUT_OF_STOCK = "OutOfStock"
    PAYMENT_DECLINED = "PaymentDeclined"
    ADDRESS_REJECTED = "AddressRejected"
    # A provider that could not answer (retried) or refused the request itself (not retried).
    PAYMENT_GATEWAY_UNAVAILABLE = "PaymentGatewayUnavailable"
    PAYMENT_REQUEST_REJECTED = "PaymentRequestRejected"
    CARRIER_UNAVAILABLE = "CarrierUnavailable"
    SHIPMENT_REQUEST_REJECTED = "ShipmentRequestRejected"
    # The workflow's own: the run failed after a step did, and a cancel that came too late.
    ORDER_FULFILLMENT_FAILED = "OrderFulfillmentFailed"
    TOO_LATE_TO_CANCEL = "TooLateToCancel"


class OrderLine(BaseModel):
    sku: str
    quantity: int
    unit_price: int


class Address(BaseModel):
    name: str
    line1: str
    line2: str | None = None
    city: str
    postal_code: str
    country: str


class OrderWorkflowInput(BaseModel):
    order_id: uuid.UUID
    customer_id: str
    currency: str
    total: int
    payment_method: str
    lines: list[OrderLine]
    shipping_address: Address
    retry_profile: RetryProfile = RetryProfile.DEMO


class OrderWorkflowResult(BaseModel):
    order_id: uuid.UUID
    status: OrderStatus
    charge_id: str | None = None
    tracking_number: str | None = None


class Transition(BaseModel):
    order_id: uuid.UUID
    to_status: OrderStatus
    reason: str
    # Unique per run and step, so a retried activity records the transition once.
    transition_id: str
    charge_id: str | None = None
    tracking_number: str | None = None


class ReserveStock(BaseModel):
    order_id: uuid.UUID
    lines: list[OrderLine]
    # The status the step's success moves the order to, written by the step itself (in the
    # same transaction where it has one), so the workflow need not write it separately. None
    # from runs begun before, which write it afterwards.
    status_change: Transition | None = None


class ChargePayment(BaseModel):
    order_id: uuid.UUID
    amount: int
    currency: str
    payment_method: str
    # Derived from the workflow run: stable across retries and worker restarts.
    idempotency_key: str
    status_change: Transition | None = None  # as in ReserveStock


class Charge(BaseModel):
    charge_id: str


class CreateShipment(BaseModel):
    order_id: uuid.UUID
    address: Address
    lines: list[OrderLine]
    idempotency_key: str
    status_change: Transition | None = None  # as in ReserveStock


class Shipment(BaseModel):
    shipment_id: str
    tracking_number: str


class DeadLetterRecord(BaseModel):
    order_id: uuid.UUID
    workflow_id: str
    run_id: str
    failed_step: Step
    error_type: str
    error_message: str
    attempts: int
    step_input: dict[str, Any]


class CancelRequest(BaseModel):
    reason: str = "cancelled by customer"
