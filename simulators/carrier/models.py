"""The carrier's ledger: shipments and attempt counters, in its own SQLite file.

`reference` holds the caller's order id as text: a third party knows nothing of the Order API's
tables, so there is no foreign key to them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from simulators.storage import AttemptCounter, UtcDateTime, ledger_metadata, utc_now


class Base(DeclarativeBase):
    metadata = ledger_metadata()


class Shipment(Base):
    """A shipment the carrier created or an address it rejected; one per Idempotency-Key."""

    __tablename__ = "shipments"
    __table_args__ = (CheckConstraint("status IN ('created', 'rejected')", name="status_known"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    fingerprint: Mapped[str] = mapped_column(String(64), comment="sha256 of method, path, body")
    reference: Mapped[str] = mapped_column(String(255), index=True, comment="the caller's order")
    status: Mapped[str] = mapped_column(String(16))
    failure_code: Mapped[str | None] = mapped_column(String(64))
    tracking_number: Mapped[str | None] = mapped_column(String(32), unique=True)
    address: Mapped[dict[str, Any]] = mapped_column(JSON)
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    # Set here, to the microsecond, so shipments list in the order they were made.
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


class Attempt(AttemptCounter, Base):
    __tablename__ = "attempts"
