"""notify listeners of every appended status change

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 15:00:00+00:00

GET /orders/{id}/events pushes status changes as they happen. A trigger, not a NOTIFY in each
writer, so every writer is covered (the workflow's activity, the API's own appends, an operator's
SQL): the notification is queued in the inserting transaction and delivered only if it commits.
The payload is the order id; listeners read the rows themselves.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# foundation.models.STATUS_CHANGE_CHANNEL; spelt out so this revision never changes with the code.
CHANNEL = "order_status_changes"


def upgrade() -> None:
    op.execute(
        f"""
        CREATE FUNCTION notify_order_status_change() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('{CHANNEL}', NEW.order_id::text);
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER order_status_history_notify
        AFTER INSERT ON order_status_history
        FOR EACH ROW EXECUTE FUNCTION notify_order_status_change()
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER order_status_history_notify ON order_status_history")
    op.execute("DROP FUNCTION notify_order_status_change()")
