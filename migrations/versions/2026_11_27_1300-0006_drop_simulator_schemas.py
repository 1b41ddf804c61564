"""drop the simulator ledgers' schemas that the old 0004 created

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 13:00:00+00:00

The payment gateway and carrier simulators keep their ledgers in SQLite files of their own now,
so their schemas have no business in the product's database. Only databases that ran the old
0004 have them; IF EXISTS makes this a no-op everywhere else. CASCADE, because the ledgers are
sandbox data with nothing of the product depending on them.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SIMULATOR_SCHEMAS = ("payment_gateway", "carrier")


def upgrade() -> None:
    for schema in SIMULATOR_SCHEMAS:
        op.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def downgrade() -> None:
    # Nothing to restore: 0004 no longer creates these schemas either, so below this revision a
    # database is as a fresh one would be, and the sandbox rows were never the product's data.
    pass
