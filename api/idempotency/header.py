"""Parsing the Idempotency-Key header and fingerprinting the request it guards."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Annotated, Any

from fastapi import Depends, Header, Request

from api.problems import ProblemError

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
# RFC 8941 sf-string: printable ASCII with only '"' and '\\' escaped.
_SF_STRING = re.compile(r'"((?:[\x20\x21\x23-\x5B\x5D-\x7E]|\\["\\])*)"')
_ESCAPE = re.compile(r'\\(["\\])')


def _trim(value: str) -> str:
    # Only what HTTP itself trims (RFC 9110 optional whitespace); str.strip() would also drop
    # Unicode spaces such as U+00A0, so "k\xa0" would silently become the key "k".
    return value.strip(" \t")


def parse_idempotency_keys(fields: list[str]) -> str:
    """The key from every `Idempotency-Key` field of a request: exactly one is allowed."""
    if len(fields) > 1:
        # Which copy the client meant cannot be known, and "first wins" would let a proxy's
        # added field choose the key; even two equal copies are refused.
        raise _malformed("it is sent more than once")
    return parse_idempotency_key(fields[0] if fields else None)


def parse_idempotency_key(raw: str | None) -> str:
    """Accept the structured-field string form (`"abc"`) and the bare form (`abc`)."""
    if raw is None:
        raise ProblemError(
            400, "idempotency-key-missing", f"The {HEADER} header is required for this operation."
        )
    value = _trim(raw)
    if value.startswith('"'):
        quoted = _SF_STRING.fullmatch(value)
        if quoted is None:
            raise _malformed("a quoted key must be a valid structured-field string")
        # The same rules as the bare form from here on: `" pad "` is the key `pad`, and a quoted
        # key of only spaces is empty.
        value = _trim(_ESCAPE.sub(r"\1", quoted.group(1)))
    if not value:
        raise _malformed("it is empty")
    if len(value) > MAX_KEY_LENGTH:
        raise _malformed(f"it is longer than {MAX_KEY_LENGTH} characters")
    if not all(0x20 <= ord(ch) <= 0x7E for ch in value):
        raise _malformed("it may hold printable ASCII characters only")
    return value


# Also the OpenAPI description of the header (api/openapi.py marks it required).
IDEMPOTENCY_KEY_DOC = (
    "Unique per order attempt, 1-255 printable ASCII characters, bare or as a quoted "
    "structured-field string: the same key either way, spaces around it not part of it. Sent "
    "once; a repeated header is 400. Scoped to the caller. A retry with the same key and body "
    "replays the stored response with `Idempotent-Replayed: true`; the same key with another body "
    "is 422; while the first request is in flight, 409 with Retry-After. Keys are kept for 24 "
    "hours. Missing or malformed: 400, checked before anything is looked up or stored."
)


async def idempotency_key(
    request: Request,
    # Declared for the contract only; the fields are read from the request, as FastAPI keeps
    # just the first of repeated ones.
    _: Annotated[str | None, Header(alias=HEADER, description=IDEMPOTENCY_KEY_DOC)] = None,
) -> str:
    # Optional to FastAPI so a missing key is our 400 problem, not a generic 422.
    return parse_idempotency_keys(request.headers.getlist(HEADER))


IdempotencyKeyHeader = Annotated[str, Depends(idempotency_key)]


def _malformed(reason: str) -> ProblemError:
    return ProblemError(
        400, "idempotency-key-malformed", f"The {HEADER} header is malformed: {reason}."
    )


def request_fingerprint(method: str, path: str, body: Any) -> str:
    """sha256 over method, path and canonical JSON, so key order and spacing don't matter."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{method.upper()}\n{path}\n{canonical}".encode()).hexdigest()
