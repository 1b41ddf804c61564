"""index a customer's orders newest first, the order GET /orders pages in

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 14:00:00+00:00

The old (customer_id, created_at) index served no query. The list pages by (created_at, id)
descending, so the index holds exactly that order: a page is one range scan, and a tie on
created_at is broken by id in the index too, not by a sort.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_orders_customer_id_created_at", table_name="orders")
    op.create_index(
        "ix_orders_customer_newest_first",
        "orders",
        ["customer_id", sa.text("created_at DESC"), sa.text("id DESC")],
    )


def downgrade() -> None:
    op.drop_index("ix_orders_customer_newest_first", table_name="orders")
    op.create_index("ix_orders_customer_id_created_at", "orders", ["customer_id", "created_at"])
