"""Minting dev tokens. Verification lives in api/auth.py."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable

import jwt

from foundation.domain import Scope
from foundation.settings import Environment, Settings

DEFAULT_SCOPES = (Scope.ORDERS_WRITE.value, Scope.ORDERS_READ.value)


def mint_dev_token(
    settings: Settings,
    subject: str,
    scopes: Iterable[str] = DEFAULT_SCOPES,
    *,
    ttl_seconds: int = 3600,
) -> str:
    if settings.environment is not Environment.DEV:
        raise PermissionError("dev tokens can only be minted in dev mode")
    now = int(time.time())
    claims = {
        "sub": subject,
        "scope": " ".join(scopes),
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "nbf": now,
        "exp": now + ttl_seconds,
        "jti": str(uuid.uuid4()),
    }
    return jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm="HS256")
