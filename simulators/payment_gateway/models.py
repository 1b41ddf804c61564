"""The payment gateway's ledger: charges, refunds and attempt counters, in its own SQLite file.

`reference` holds the caller's order id as text: a third party knows nothing of the Order API's
tables, so there is no foreign key to them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from simulators.storage import AttemptCounter, UtcDateTime, ledger_metadata, utc_now


class Base(DeclarativeBase):
    metadata = ledger_metadata()


class Charge(Base):
    """A charge the payment gateway made or declined; one per Idempotency-Key."""

    __tablename__ = "charges"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("status IN ('succeeded', 'failed')", name="status_known"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    fingerprint: Mapped[str] = mapped_column(String(64), comment="sha256 of method, path, body")
    amount: Mapped[int] = mapped_column(BigInteger, comment="minor units")
    currency: Mapped[str] = mapped_column(String(3))
    payment_method: Mapped[str] = mapped_column(String(255))
    reference: Mapped[str] = mapped_column(String(255), index=True, comment="the caller's order")
    status: Mapped[str] = mapped_column(String(16))
    failure_code: Mapped[str | None] = mapped_column(String(64))
    # Set here, to the microsecond, so charges list in the order they were made.
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


class Refund(Base):
    __tablename__ = "refunds"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    charge_id: Mapped[str] = mapped_column(ForeignKey("charges.id"), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    fingerprint: Mapped[str] = mapped_column(String(64), comment="sha256 of method, path, body")
    amount: Mapped[int] = mapped_column(BigInteger, comment="minor units")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


class Attempt(AttemptCounter, Base):
    __tablename__ = "attempts"
