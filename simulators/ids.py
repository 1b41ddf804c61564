"""Identifiers the simulators hand out, shaped like the real services' ones."""

from __future__ import annotations

import secrets

TRACKING_DIGITS = 16


def new_id(prefix: str) -> str:
    """`ch_…`, `re_…`, `shp_…`: random, never from the seeded fault RNG, so never repeated."""
    return f"{prefix}_{secrets.token_hex(12)}"


def new_tracking_number() -> str:
    return f"TRK{secrets.randbelow(10**TRACKING_DIGITS):0{TRACKING_DIGITS}d}"
