"""index unresolved dead letters by id, the order GET /dead-letters pages in

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 23:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNRESOLVED = sa.text("resolved_at IS NULL")


def upgrade() -> None:
    op.drop_index("ix_dead_letters_unresolved", table_name="dead_letters")
    op.create_index(
        "ix_dead_letters_unresolved", "dead_letters", ["id"], postgresql_where=UNRESOLVED
    )


def downgrade() -> None:
    op.drop_index("ix_dead_letters_unresolved", table_name="dead_letters")
    op.create_index(
        "ix_dead_letters_unresolved", "dead_letters", ["failed_at"], postgresql_where=UNRESOLVED
    )
