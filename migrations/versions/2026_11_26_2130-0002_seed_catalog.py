"""seed the product catalog

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 21:30:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Prices in minor units (cents). SOLD-OUT has no stock, to show a reservation that cannot succeed.
CATALOG = [
    {"sku": "WIDGET-1", "name": "Widget", "unit_price": 1999, "currency": "USD", "stock": 1000},
    {"sku": "GADGET-2", "name": "Gadget", "unit_price": 4999, "currency": "USD", "stock": 500},
    {"sku": "GIZMO-3", "name": "Gizmo", "unit_price": 999, "currency": "USD", "stock": 2000},
    {
        "sku": "DOOHICKEY-4",
        "name": "Doohickey",
        "unit_price": 14999,
        "currency": "USD",
        "stock": 50,
    },
    {
        "sku": "SOLD-OUT",
        "name": "Sold-out collectible",
        "unit_price": 9999,
        "currency": "USD",
        "stock": 0,
    },
]

products = sa.table(
    "products",
    sa.column("sku", sa.String),
    sa.column("name", sa.String),
    sa.column("unit_price", sa.BigInteger),
    sa.column("currency", sa.String),
    sa.column("stock", sa.Integer),
)


def upgrade() -> None:
    op.bulk_insert(products, CATALOG)


def downgrade() -> None:
    op.execute(products.delete().where(products.c.sku.in_([p["sku"] for p in CATALOG])))
