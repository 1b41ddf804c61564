"""Order rows: the only place that queries the orders tables."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from sqlalchemy import ColumnElement, Row, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from api.orders.cursor import PagePosition
from foundation.domain import KeyState, OrderStatus
from foundation.models import (
    Order,
    OrderItem,
    OrderStatusChange,
    Product,
)


@dataclass(frozen=True)
class CatalogPrice:
    unit_price: int
    currency: str


@dataclass(frozen=True)
class Acceptance:
    """Everything a new order writes, decided before the one statement that writes it."""

    order: dict[str, object]
    items: list[dict[str, object]]
    history: dict[str, object]
    key_id: int
    response_body: dict[str, object]
    response_location: str
    trace_context: dict[str, str]


# Everything a new order writes, as one statement of data-modifying CTEs. Plain SQL, written once:
# built with the query builder it was assembled and compiled again on every request, which was
# half of a new order's CPU in the API. The items arrive as parallel arrays, so the text is the
# same however many there are. Its workflow_starts insert fires the trigger that NOTIFYs the
# relay, delivered when the transaction commits.
ACCEPT_ORDER = text(
    """
    WITH new_order AS (
        INSERT INTO orders (
            id, customer_id, idempotency_key, key_generation, status, currency, total_amount,
            payment_method, shipping_address, workflow_id, created_at, updated_at
        ) VALUES (
            :order_id, :order_customer_id, :order_idempotency_key, :order_key_generation,
            :order_status, :order_currency, :order_total_amount, :order_payment_method,
            CAST(:order_shipping_address AS jsonb), :order_workflow_id, :order_created_at,
            :order_updated_at
        )
    ), new_items AS (
        INSERT INTO order_items (order_id, sku, quantity, unit_price, line_total)
        SELECT :order_id, item.sku, item.quantity, item.unit_price, item.line_total
        FROM unnest(
            CAST(:item_skus AS varchar[]), CAST(:item_quantities AS integer[]),
            CAST(:item_unit_prices AS bigint[]), CAST(:item_line_totals AS bigint[])
        ) AS item (sku, quantity, unit_price, line_total)
    ), new_history AS (
        INSERT INTO order_status_history (
            order_id, from_status, to_status, reason, transition_id, occurred_at
        ) VALUES (
            :order_id, :history_from_status, :history_to_status, :history_reason,
            :history_transition_id, :history_occurred_at
        )
    ), new_start AS (
        INSERT INTO workflow_starts (order_id, trace_context)
        VALUES (:order_id, CAST(:trace_context AS jsonb))
    ), completed_key AS (
        UPDATE idempotency_keys
        SET state = :key_state, order_id = :order_id, response_status = 201,
            response_body = CAST(:response_body AS jsonb), response_location = :response_location
        WHERE id = :key_id
    )
    SELECT 1
    """
)


def _plain(value: object) -> object:
    # The driver would send an enum member by its name; the columns hold the values.
    return value.value if isinstance(value, Enum) else value


@dataclass(frozen=True)
class OrderFilter:
    customer_id: str
    statuses: frozenset[OrderStatus] = frozenset()
    created_after: datetime | None = None
    created_before: datetime | None = None


class OrderRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def catalog_prices(self, skus: Sequence[str]) -> dict[str, CatalogPrice]:
        rows = await self._session.execute(
            select(Product.sku, Product.unit_price, Product.currency).where(
                Product.sku.in_(set(skus))
            )
        )
        return {row.sku: CatalogPrice(row.unit_price, row.currency) for row in rows}

    async def accept(self, acceptance: Acceptance) -> None:
        """The order, its items, its first history row, its pending start and the key's stored
        response, in one statement of data-modifying CTEs: one round trip, and the foreign keys
        between them are checked at the statement's end, when every row exists."""
        order, history, items = acceptance.order, acceptance.history, acceptance.items
        await self._session.execute(
            ACCEPT_ORDER,
            {
                **{f"order_{column}": _plain(value) for column, value in order.items()},
                "order_shipping_address": json.dumps(order["shipping_address"]),
                "item_skus": [item["sku"] for item in items],
                "item_quantities": [item["quantity"] for item in items],
                "item_unit_prices": [item["unit_price"] for item in items],
                "item_line_totals": [item["line_total"] for item in items],
                **{f"history_{column}": _plain(value) for column, value in history.items()},
                "trace_context": json.dumps(acceptance.trace_context),
                "key_id": acceptance.key_id,
                "key_state": KeyState.COMPLETED.value,
                "response_body": json.dumps(acceptance.response_body),
                "response_location": acceptance.response_location,
            },
        )

    async def get(self, order_id: uuid.UUID) -> Order | None:
        return await self._one_order(Order.id == order_id)

    async def get_for_customer(self, order_id: uuid.UUID, customer_id: str) -> Order | None:
        return await self._one_order(Order.id == order_id, Order.customer_id == customer_id)

    async def _one_order(self, *where: ColumnElement[bool]) -> Order | None:
        """The order with its items and history in one round trip (joined, not three selects):
        an order has a handful of each, so the joined rows stay few."""
        rows = await self._session.scalars(
            select(Order).where(*where).options(joinedload(Order.items), joinedload(Order.history))
        )
        return rows.unique().one_or_none()

    async def customer_page(
        self, where: OrderFilter, after: PagePosition | None, limit: int
    ) -> Sequence[Row[uuid.UUID, OrderStatus, int, str, datetime]]:
        """Newest first, in ix_orders_customer_newest_first's order: one range scan per page.

        The keyset is a row comparison, which the index takes as a bound; a status filter is
        checked on the rows the scan reads (it is not in the index).
        """
        query = (
            select(Order.id, Order.status, Order.total_amount, Order.currency, Order.created_at)
            .where(Order.customer_id == where.customer_id)
            .order_by(Order.created_at.desc(), Order.id.desc())
            .limit(limit)
        )
        if where.statuses:
            query = query.where(Order.status.in_(sorted(where.statuses)))
        if where.created_after is not None:
            query = query.where(Order.created_at > where.created_after)
        if where.created_before is not None:
            query = query.where(Order.created_at < where.created_before)
        if after is not None:
            query = query.where(
                tuple_(Order.created_at, Order.id) < tuple_(after.created_at, after.order_id)
            )
        return (await self._session.execute(query)).all()

    async def history_after(self, order_id: uuid.UUID, after: int) -> list[OrderStatusChange]:
        rows = await self._session.scalars(
            select(OrderStatusChange)
            .where(OrderStatusChange.order_id == order_id, OrderStatusChange.id > after)
            .order_by(OrderStatusChange.id)
        )
        return list(rows)

    async def latest_change(self, order_id: uuid.UUID) -> OrderStatusChange | None:
        return await self._session.scalar(
            select(OrderStatusChange)
            .where(OrderStatusChange.order_id == order_id)
            .order_by(OrderStatusChange.id.desc())
            .limit(1)
        )

    async def add(self, order: Order, items: list[OrderItem]) -> Order:
        order.items = items
        self._session.add(order)
        await self._session.flush()
        return order

    async def append_history(
        self, order: Order, from_status: OrderStatus | None, to_status: OrderStatus, reason: str
    ) -> None:
        """History written by the API; the workflow's own transitions come from its activity."""
        self._session.add(
            OrderStatusChange(
                order_id=order.id,
                from_status=from_status,
                to_status=to_status,
                reason=reason,
                transition_id=f"api/{order.id}/{to_status.value}/{uuid.uuid4()}",
            )
        )
        await self._session.flush()
