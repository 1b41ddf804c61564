"""GET /orders/{id}, the most frequent request: one statement on the driver's own connection.

PostgreSQL builds OrderOut's JSON, with the items and history aggregated beside the row, and
pydantic checks it; no ORM object, session or SQLAlchemy pool is involved (foundation.db says why).
"""

from __future__ import annotations

import uuid

from api.orders.schemas import OrderOut
from foundation.db import DriverPool, read_one

# The keys are OrderOut's fields; a customer id limits the read to that customer's orders.
ORDER_VIEW = """
    SELECT json_build_object(
        'id', o.id,
        'status', o.status,
        'total', o.total_amount,
        'currency', o.currency,
        'workflow_id', o.workflow_id,
        'created_at', o.created_at,
        'charge_id', o.charge_id,
        'tracking_number', o.tracking_number,
        'items', (
            SELECT coalesce(json_agg(json_build_object(
                'sku', i.sku,
                'quantity', i.quantity,
                'unit_price', i.unit_price,
                'line_total', i.line_total
            ) ORDER BY i.id), '[]')
            FROM order_items i WHERE i.order_id = o.id
        ),
        'history', (
            SELECT coalesce(json_agg(json_build_object(
                'at', h.occurred_at,
                'from_status', h.from_status,
                'to_status', h.to_status,
                'reason', h.reason
            ) ORDER BY h.id), '[]')
            FROM order_status_history h WHERE h.order_id = o.id
        )
    )::text
    FROM orders o
    WHERE o.id = %(order_id)s
      AND (%(customer_id)s::varchar IS NULL OR o.customer_id = %(customer_id)s)
"""


class OrderViews:
    def __init__(self, pool: DriverPool) -> None:
        self._pool = pool

    async def find(self, order_id: uuid.UUID, customer_id: str | None) -> OrderOut | None:
        """The order, or None when there is none (for that customer)."""
        params = {"order_id": order_id, "customer_id": customer_id}
        row = await read_one(self._pool, ORDER_VIEW, params, table="orders")
        return None if row is None else OrderOut.model_validate_json(row[0])
