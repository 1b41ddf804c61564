"""Deterministic workflow ids: the same (customer, Idempotency-Key) always names the same run."""

from __future__ import annotations

import hashlib


def order_workflow_id(principal: str, idempotency_key: str, generation: int = 1) -> str:
    """`order-<digest>`; a key used again after it expired gets `-<generation>` appended.

    Hashing keeps ids bounded and free of client-chosen characters; the separator byte cannot
    appear in a valid key, so ("a", "b\\x1fc") and ("a\\x1fb", "c") never collide.
    """
    digest = hashlib.sha256(f"{principal}\x1f{idempotency_key}".encode()).hexdigest()[:32]
    return f"order-{digest}" if generation == 1 else f"order-{digest}-{generation}"
