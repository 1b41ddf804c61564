"""SQLAlchemy 2.x typed models. Alembic migrations, not create_all, build the schema."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from foundation.domain import KeyState, OrderStatus

# Deterministic constraint names keep migrations diffable and downgradable.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _stored_as_varchar(enum: type[StrEnum]) -> Enum:
    """A column of enum members, stored as their values in a varchar(16).

    Neither a native PostgreSQL enum nor a constraint of its own: the schema stays the varchar
    and the named CHECK the migrations made, so a new member needs no change of column type.
    values_callable, because SQLAlchemy would otherwise store the members' names.
    """
    return Enum(
        enum,
        native_enum=False,
        create_constraint=False,
        length=16,
        values_callable=lambda members: [member.value for member in members],
    )


def _one_of(column: str, enum: type[StrEnum]) -> str:
    """The CHECK that keeps a column to the enum's values (the migrations spell it the same)."""
    values = ", ".join(f"'{member.value}'" for member in enum)
    return f"{column} IN ({values})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Product(Base):
    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("unit_price >= 0", name="unit_price_non_negative"),
        CheckConstraint("stock >= 0", name="stock_non_negative"),
    )

    sku: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    unit_price: Mapped[int] = mapped_column(BigInteger, comment="minor units")
    currency: Mapped[str] = mapped_column(String(3))
    stock: Mapped[int] = mapped_column(Integer)


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("customer_id", "idempotency_key", "key_generation"),
        CheckConstraint(_one_of("status", OrderStatus), name="status_known"),
        # Accepted orders whose workflow start is unconfirmed (the bench's start lag reads them).
        Index(
            "ix_orders_workflow_not_started",
            "created_at",
            postgresql_where=text("workflow_started_at IS NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    customer_id: Mapped[str] = mapped_column(String(255))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    # Bumped when an expired key is used again, so the new order gets a new workflow id.
    key_generation: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[OrderStatus] = mapped_column(
        _stored_as_varchar(OrderStatus), default=OrderStatus.RECEIVED
    )
    currency: Mapped[str] = mapped_column(String(3))
    total_amount: Mapped[int] = mapped_column(BigInteger, comment="minor units")
    payment_method: Mapped[str] = mapped_column(String(255))
    shipping_address: Mapped[dict[str, Any]] = mapped_column(JSONB)
    workflow_id: Mapped[str] = mapped_column(String(255), unique=True)
    workflow_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    charge_id: Mapped[str | None] = mapped_column(String(64), comment="payment gateway charge")
    tracking_number: Mapped[str | None] = mapped_column(String(64), comment="carrier shipment")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    items: Mapped[list[OrderItem]] = relationship(
        back_populates="order", order_by="OrderItem.id", lazy="selectin"
    )
    history: Mapped[list[OrderStatusChange]] = relationship(
        order_by="OrderStatusChange.id", lazy="selectin", viewonly=True
    )


# GET /orders: a customer's orders newest first, ties on created_at broken by id. The order of the
# index is the order of the page, so a page at any depth is one range scan that stops at the limit.
Index(
    "ix_orders_customer_newest_first",
    Order.customer_id,
    Order.created_at.desc(),
    Order.id.desc(),
)


class OrderItem(Base):
    __tablename__ = "order_items"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    sku: Mapped[str] = mapped_column(ForeignKey("products.sku"))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[int] = mapped_column(BigInteger, comment="minor units, copied from catalog")
    line_total: Mapped[int] = mapped_column(BigInteger, comment="minor units")

    order: Mapped[Order] = relationship(back_populates="items")


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = (
        UniqueConstraint("principal", "key"),
        CheckConstraint(_one_of("state", KeyState), name="state_known"),
        Index("ix_idempotency_keys_expires_at", "expires_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    principal: Mapped[str] = mapped_column(String(255))
    key: Mapped[str] = mapped_column(String(255))
    generation: Mapped[int] = mapped_column(Integer, default=1)
    fingerprint: Mapped[str] = mapped_column(String(64), comment="sha256 of method, path, body")
    state: Mapped[KeyState] = mapped_column(
        _stored_as_varchar(KeyState), default=KeyState.IN_FLIGHT
    )
    locked_until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    response_location: Mapped[str | None] = mapped_column(Text)
    order_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# Migration 0008's trigger NOTIFYs this channel with the order id for every history row, in the
# transaction that appends it, whoever the writer: listeners hear of a change once it commits.
STATUS_CHANGE_CHANNEL = "order_status_changes"


class OrderStatusChange(Base):
    """Append-only history of an order's status."""

    __tablename__ = "order_status_history"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    from_status: Mapped[OrderStatus | None] = mapped_column(_stored_as_varchar(OrderStatus))
    to_status: Mapped[OrderStatus] = mapped_column(_stored_as_varchar(OrderStatus))
    reason: Mapped[str] = mapped_column(Text)
    # Chosen by the workflow (run id + step), so a retried activity appends nothing twice.
    transition_id: Mapped[str] = mapped_column(String(200), unique=True)
    occurred_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class StockReservation(Base):
    """Stock held for an order; one row per (order, sku), so reserving is idempotent."""

    __tablename__ = "stock_reservations"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True
    )
    sku: Mapped[str] = mapped_column(ForeignKey("products.sku"), primary_key=True)
    quantity: Mapped[int] = mapped_column(Integer)
    reserved_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class DeadLetter(Base):
    """A fulfilment run that could not succeed, kept for an operator to inspect and redrive."""

    __tablename__ = "dead_letters"
    __table_args__ = (
        # GET /dead-letters pages unresolved letters by id: each page is a seek, not a sort.
        Index(
            "ix_dead_letters_unresolved",
            "id",
            postgresql_where=text("resolved_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id"), index=True)
    workflow_id: Mapped[str] = mapped_column(String(255))
    # One row per failed run: the insert is idempotent on it.
    run_id: Mapped[str] = mapped_column(String(64), unique=True)
    failed_step: Mapped[str] = mapped_column(String(32))
    error_type: Mapped[str] = mapped_column(String(200))
    error_message: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer)
    step_input: Mapped[dict[str, Any]] = mapped_column(JSONB)
    failed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    redriven_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# Migration 0009's trigger NOTIFYs this channel for every pending start, in the accepting
# transaction, so the relay wakes the moment an order commits rather than at its next poll.
WORKFLOW_START_CHANNEL = "workflow_starts"


class WorkflowStart(Base):
    """An accepted order whose workflow the relay has yet to start (the intake's outbox).

    Written in the transaction that accepts the order and deleted in the one that records the
    start, so "accepted but not started" is exactly this table. The id is the acceptance order,
    and the relay reads the table by it; load shedding keeps the table small, so no other index
    is worth its cost on every insert and delete.
    """

    __tablename__ = "workflow_starts"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), unique=True
    )
    enqueued_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    next_attempt_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    last_error: Mapped[str | None] = mapped_column(Text)
    # The accepting request's trace (W3C headers): the relay starts the workflow inside it, so
    # one trace still follows an order from the request to its activities.
    trace_context: Mapped[dict[str, str] | None] = mapped_column(JSONB)
