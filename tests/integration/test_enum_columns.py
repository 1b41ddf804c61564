"""Enum columns hold the members' values as plain text and read back as the members."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from foundation.domain import KeyState, OrderStatus
from foundation.models import IdempotencyKey, Order, OrderStatusChange

pytestmark = pytest.mark.integration


async def _order(session: AsyncSession, status: OrderStatus) -> Order:
    order = Order(
        id=uuid.uuid4(), customer_id="alice", idempotency_key=f"enum-{uuid.uuid4()}",
        status=status, currency="USD", total_amount=100, payment_method="tok_visa",
        shipping_address={"name": "A"}, workflow_id=f"order-enum-{uuid.uuid4()}",
    )  # fmt: skip
    session.add(order)
    await session.flush()
    return order


async def test_order_status_is_stored_as_its_value_and_read_as_the_member(
    db_session: AsyncSession,
) -> None:
    order = await _order(db_session, OrderStatus.SHIPPED)
    stored = await db_session.scalar(
        text("SELECT status FROM orders WHERE id = :id"), {"id": order.id}
    )
    await db_session.refresh(order)
    assert stored == "SHIPPED"
    assert order.status is OrderStatus.SHIPPED


async def test_orders_can_be_selected_by_status_member(db_session: AsyncSession) -> None:
    order = await _order(db_session, OrderStatus.PAID)
    found = await db_session.scalars(
        select(Order.id).where(Order.status == OrderStatus.PAID, Order.id == order.id)
    )
    assert list(found) == [order.id]


async def test_history_keeps_a_first_change_without_from_status(db_session: AsyncSession) -> None:
    order = await _order(db_session, OrderStatus.RECEIVED)
    db_session.add(
        OrderStatusChange(
            order_id=order.id, from_status=None, to_status=OrderStatus.RECEIVED,
            reason="accepted", transition_id=f"enum/{order.id}",
        )
    )  # fmt: skip
    await db_session.flush()
    change = await db_session.scalar(
        select(OrderStatusChange).where(OrderStatusChange.order_id == order.id)
    )
    assert change is not None
    await db_session.refresh(change)
    assert (change.from_status, change.to_status) == (None, OrderStatus.RECEIVED)


async def test_key_state_is_stored_as_its_value_not_its_name(db_session: AsyncSession) -> None:
    now = datetime.now(UTC)
    key = IdempotencyKey(
        principal="alice", key=f"enum-{uuid.uuid4()}", fingerprint="fp",
        state=KeyState.IN_FLIGHT, locked_until=now, expires_at=now + timedelta(hours=1),
    )  # fmt: skip
    db_session.add(key)
    await db_session.flush()
    stored = await db_session.scalar(
        text("SELECT state FROM idempotency_keys WHERE id = :id"), {"id": key.id}
    )
    await db_session.refresh(key)
    assert stored == "in_flight"
    assert key.state is KeyState.IN_FLIGHT
