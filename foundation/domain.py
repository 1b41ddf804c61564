"""Pure domain vocabulary shared by the API, the workflows and the activities (no I/O here)."""

from __future__ import annotations

from enum import StrEnum


class OrderStatus(StrEnum):
    RECEIVED = "RECEIVED"
    RESERVED = "RESERVED"
    PAID = "PAID"
    SHIPPED = "SHIPPED"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


# Where a run ends. A FAILED order can still be redriven, which starts a new run from RECEIVED.
TERMINAL_STATUSES = frozenset({OrderStatus.COMPLETED, OrderStatus.FAILED, OrderStatus.CANCELLED})

# Cancelling is possible until the parcel is with the carrier.
CANCELLABLE_STATUSES = frozenset({OrderStatus.RECEIVED, OrderStatus.RESERVED, OrderStatus.PAID})


class KeyState(StrEnum):
    """Where a claim on an Idempotency-Key stands."""

    IN_FLIGHT = "in_flight"
    COMPLETED = "completed"


class Scope(StrEnum):
    ORDERS_WRITE = "orders:write"
    ORDERS_READ = "orders:read"
    ADMIN = "admin"
