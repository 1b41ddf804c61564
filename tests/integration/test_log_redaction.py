"""Bearer tokens never reach the logs, whoever logs the request: our code or uvicorn."""

from __future__ import annotations

import time
import uuid

import httpx
import jwt
import pytest
from uvicorn.logging import TRACE_LOG_LEVEL

from api.main import create_app
from foundation.settings import Settings
from tests.support import serve_over_http

pytestmark = pytest.mark.integration


def _token(settings: Settings, secret: str, exp_offset: int) -> str:
    now = int(time.time())
    claims = {
        "sub": "alice", "scope": "orders:read", "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience, "iat": now, "exp": now + exp_offset,
    }  # fmt: skip
    return jwt.encode(claims, secret, algorithm="HS256")


async def test_refused_tokens_appear_in_no_log_record(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    secret = settings.jwt_secret.get_secret_value()
    expired = _token(settings, secret, exp_offset=-3600)
    forged = _token(settings, "an-attackers-secret-of-sufficient-length!", exp_offset=300)
    app = create_app(settings)

    # Trace level makes uvicorn log each ASGI scope too; the access log has path and query.
    with (
        caplog.at_level(TRACE_LOG_LEVEL),
        serve_over_http(app, log_level="trace", access_log=True) as url,
    ):
        async with httpx.AsyncClient(base_url=url) as client:
            for token in (expired, forged):
                response = await client.get(
                    f"/orders/{uuid.uuid4()}",
                    # Some clients put the token in the query string (RFC 6750 2.3) as well.
                    params={"access_token": token},
                    headers={"Authorization": f"Bearer {token}"},
                )
                assert response.status_code == 401

    logged = caplog.text
    assert "bearer token refused" in logged, "our own refusal lines were captured"
    assert any(r.name == "uvicorn.access" for r in caplog.records), "access lines were captured"
    assert any(r.name == "uvicorn.asgi" for r in caplog.records), "ASGI trace lines were captured"
    for token in (expired, forged):
        payload = token.split(".")[1]
        assert payload not in logged


async def test_a_request_id_is_returned_as_sent_or_made_up(api: httpx.AsyncClient) -> None:
    sent = await api.get("/health/live", headers={"X-Request-ID": "caller-42"})
    made = await api.get("/health/live")
    assert sent.headers["X-Request-ID"] == "caller-42"
    assert len(made.headers["X-Request-ID"]) == 32
