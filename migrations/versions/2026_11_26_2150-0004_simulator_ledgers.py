"""simulator ledgers: once the payment_gateway and carrier schemas, now nothing

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 21:50:00.000000+00:00

This revision used to create the payment gateway's and carrier's ledgers (schemas
`payment_gateway` and `carrier`) in the product's database. The simulators now keep them in
SQLite files of their own, so a fresh database never gets them: upgrade and downgrade do nothing.
The revision id stays, so databases that already ran it still find their place in the history;
0006 drops what the old version created there.
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
