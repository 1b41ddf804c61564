"""The position a page of GET /orders ends at, as the opaque `cursor` clients pass back.

A cursor is the last order's (created_at, id): the next page starts strictly after it in the
list's order, so pages neither skip nor repeat orders while new ones arrive. Its documented
pattern admits only strings that decode to a position, so every cursor the contract allows is
one the API can serve, and anything else is a 422 from validation, never a 500.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

CURSOR_PATTERN = r"^[0-9]{1,16}-[0-9a-f]{32}$"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class PagePosition:
    created_at: datetime
    order_id: uuid.UUID

    def encode(self) -> str:
        # Whole microseconds since the epoch: PostgreSQL's precision, so the round trip is exact.
        micros = (self.created_at - _EPOCH) // _MICROSECOND
        return f"{micros}-{self.order_id.hex}"

    @classmethod
    def decode(cls, cursor: str) -> PagePosition:
        """Read a cursor that matches CURSOR_PATTERN (validation has checked it)."""
        micros, _, hex_id = cursor.partition("-")
        return cls(_EPOCH + int(micros) * _MICROSECOND, uuid.UUID(hex=hex_id))
