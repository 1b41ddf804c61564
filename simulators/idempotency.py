"""Idempotency-Key handling shared by both simulators, after the way real sandboxes do it.

The first request with a key that reaches a durable outcome (a success or a hard failure) is
stored with a fingerprint of the request; a repeat with the same key and body gets that stored
outcome back, marked `Idempotent-Replayed: true`, and a repeat with another body is refused.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Header, Request
from pydantic import BaseModel

from simulators.errors import SimulatorError

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255

RowT = TypeVar("RowT")


def _idempotency_key(
    key: Annotated[
        str | None,
        Header(alias=HEADER, description="Required on every mutating call; at most 255 chars."),
    ] = None,
) -> str:
    if key is None:
        raise SimulatorError(
            400, "idempotency_key_missing", f"The {HEADER} header is required for this request."
        )
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH:
        raise SimulatorError(
            400,
            "idempotency_key_invalid",
            f"The {HEADER} header must be 1 to {MAX_KEY_LENGTH} characters long.",
        )
    return key


IdempotencyKey = Annotated[str, Depends(_idempotency_key)]


def request_fingerprint(request: Request, body: BaseModel) -> str:
    """sha256 of method, path and the validated body, so spacing and key order don't count."""
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{request.method}\n{request.url.path}\n{canonical}".encode()).hexdigest()


def ensure_same_request(stored_fingerprint: str, fingerprint: str) -> None:
    if stored_fingerprint != fingerprint:
        raise SimulatorError(
            422,
            "idempotency_key_reused",
            f"This {HEADER} was already used with a different request; use a new key.",
        )


def replay_headers(replayed: bool) -> dict[str, str]:
    return {REPLAYED_HEADER: "true"} if replayed else {}


@dataclass(frozen=True)
class Recorded(Generic[RowT]):
    """A stored outcome, and whether an earlier request with the same key stored it."""

    row: RowT
    replayed: bool
