"""an outbox of pending workflow starts, written with the order and drained by the relay

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 16:00:00+00:00

The request no longer starts the workflow: it commits the order and a row here in one
transaction, and the relay (processes/relay.py) starts it. A trigger NOTIFYs the relay's channel
for each row, delivered only if the accepting transaction commits. Orders accepted before this
revision whose start was never confirmed are enqueued so none is lost; for one whose run does
exist after all, the relay's start finds that run and starts nothing (workflows/starter.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# foundation.models.WORKFLOW_START_CHANNEL; spelt out so this revision never changes with the code.
CHANNEL = "workflow_starts"


def upgrade() -> None:
    op.create_table(
        "workflow_starts",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column(
            "enqueued_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "next_attempt_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("trace_context", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name="fk_workflow_starts_order_id_orders",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_workflow_starts"),
        sa.UniqueConstraint("order_id", name="uq_workflow_starts_order_id"),
    )
    op.execute(
        f"""
        CREATE FUNCTION notify_workflow_start() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('{CHANNEL}', '');
            RETURN NULL;
        END
        $$
        """
    )
    # Per statement, not per row: the relay reads the table itself, one wake-up is enough.
    op.execute(
        """
        CREATE TRIGGER workflow_starts_notify
        AFTER INSERT ON workflow_starts
        FOR EACH STATEMENT EXECUTE FUNCTION notify_workflow_start()
        """
    )
    # In acceptance order, so the relay starts the oldest first.
    op.execute(
        """
        INSERT INTO workflow_starts (order_id, enqueued_at)
        SELECT id, created_at FROM orders
        WHERE workflow_started_at IS NULL
        ORDER BY created_at, id
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER workflow_starts_notify ON workflow_starts")
    op.execute("DROP FUNCTION notify_workflow_start()")
    op.drop_table("workflow_starts")
