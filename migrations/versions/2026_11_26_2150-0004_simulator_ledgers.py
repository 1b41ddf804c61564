"""simulator ledgers: payment_gateway and carrier schemas

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 21:50:00.000000+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PAYMENT_GATEWAY = "payment_gateway"
CARRIER = "carrier"


def _attempts_table(schema: str) -> None:
    op.create_table(
        "attempts",
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column(
            "last_attempt_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("idempotency_key", name=op.f("pk_attempts")),
        schema=schema,
    )


def upgrade() -> None:
    # Each simulator owns a schema, as a third party owns its own database.
    op.execute(sa.schema.CreateSchema(PAYMENT_GATEWAY))
    op.execute(sa.schema.CreateSchema(CARRIER))

    op.create_table(
        "charges",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column(
            "fingerprint",
            sa.String(length=64),
            nullable=False,
            comment="sha256 of method, path, body",
        ),
        sa.Column("amount", sa.BigInteger(), nullable=False, comment="minor units"),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("payment_method", sa.String(length=255), nullable=False),
        sa.Column("reference", sa.String(length=255), nullable=False, comment="the caller's order"),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("failure_code", sa.String(length=64), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_charges_amount_positive")),
        sa.CheckConstraint(
            "status IN ('succeeded', 'failed')", name=op.f("ck_charges_status_known")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charges")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_charges_idempotency_key")),
        schema=PAYMENT_GATEWAY,
    )
    op.create_index(
        op.f("ix_payment_gateway_charges_reference"),
        "charges",
        ["reference"],
        unique=False,
        schema=PAYMENT_GATEWAY,
    )
    op.create_table(
        "refunds",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("charge_id", sa.String(length=64), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column(
            "fingerprint",
            sa.String(length=64),
            nullable=False,
            comment="sha256 of method, path, body",
        ),
        sa.Column("amount", sa.BigInteger(), nullable=False, comment="minor units"),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_refunds_amount_positive")),
        sa.ForeignKeyConstraint(
            ["charge_id"],
            [f"{PAYMENT_GATEWAY}.charges.id"],
            name=op.f("fk_refunds_charge_id_charges"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refunds")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_refunds_idempotency_key")),
        schema=PAYMENT_GATEWAY,
    )
    op.create_index(
        op.f("ix_payment_gateway_refunds_charge_id"),
        "refunds",
        ["charge_id"],
        unique=False,
        schema=PAYMENT_GATEWAY,
    )
    _attempts_table(PAYMENT_GATEWAY)

    op.create_table(
        "shipments",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column(
            "fingerprint",
            sa.String(length=64),
            nullable=False,
            comment="sha256 of method, path, body",
        ),
        sa.Column("reference", sa.String(length=255), nullable=False, comment="the caller's order"),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("failure_code", sa.String(length=64), nullable=True),
        sa.Column("tracking_number", sa.String(length=32), nullable=True),
        sa.Column("address", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("items", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('created', 'rejected')", name=op.f("ck_shipments_status_known")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipments")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_shipments_idempotency_key")),
        sa.UniqueConstraint("tracking_number", name=op.f("uq_shipments_tracking_number")),
        schema=CARRIER,
    )
    op.create_index(
        op.f("ix_carrier_shipments_reference"),
        "shipments",
        ["reference"],
        unique=False,
        schema=CARRIER,
    )
    _attempts_table(CARRIER)


def downgrade() -> None:
    op.drop_table("attempts", schema=CARRIER)
    op.drop_index(op.f("ix_carrier_shipments_reference"), table_name="shipments", schema=CARRIER)
    op.drop_table("shipments", schema=CARRIER)
    op.drop_table("attempts", schema=PAYMENT_GATEWAY)
    op.drop_index(
        op.f("ix_payment_gateway_refunds_charge_id"), table_name="refunds", schema=PAYMENT_GATEWAY
    )
    op.drop_table("refunds", schema=PAYMENT_GATEWAY)
    op.drop_index(
        op.f("ix_payment_gateway_charges_reference"), table_name="charges", schema=PAYMENT_GATEWAY
    )
    op.drop_table("charges", schema=PAYMENT_GATEWAY)
    # No CASCADE: a table someone added by hand should stop the downgrade, not vanish with it.
    op.execute(sa.schema.DropSchema(CARRIER))
    op.execute(sa.schema.DropSchema(PAYMENT_GATEWAY))
