"""Credentials are scrubbed from every log record; everything else is left as it was."""

from __future__ import annotations

import logging

import jwt
import pytest

from foundation.telemetry import REDACTED, install_log_redaction, redact

TOKEN = jwt.encode({"sub": "alice", "scope": "admin"}, "k" * 32, algorithm="HS256")


@pytest.fixture(autouse=True)
def _redaction_installed() -> None:
    install_log_redaction()


@pytest.mark.parametrize(
    "line",
    [
        f"token {TOKEN} in free text",
        f"GET /orders?access_token={TOKEN}&x=1",
        f"Authorization: Bearer {TOKEN}",
        f"{{'authorization': 'Bearer {TOKEN}'}}",
        f"[(b'host', b'api'), (b'authorization', b'Bearer {TOKEN}')]",
    ],
    ids=["free-text", "query-string", "header-line", "header-dict", "asgi-headers"],
)
def test_a_jwt_is_redacted_wherever_it_appears(line: str) -> None:
    cleaned = redact(line)
    assert TOKEN.split(".")[1] not in cleaned
    assert REDACTED in cleaned


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ("Authorization: Basic dXNlcjpwYXNz", "dXNlcjpwYXNz"),
        ("Authorization: Bearer opaque-token-123", "opaque-token-123"),
        ("sent bearer sk_live_abcdef", "sk_live_abcdef"),
        ("(b'authorization', b'Token 9f8e7d')", "9f8e7d"),
        ("/callback?token=s3cr3t&state=1", "s3cr3t"),
    ],
)
def test_non_jwt_credentials_are_redacted_too(line: str, secret: str) -> None:
    assert secret not in redact(line)


@pytest.mark.parametrize(
    "line",
    [
        "api.orders.router handled GET /orders/3f1c2b9e-0000-4000-8000-000000000000",
        "temporalio 1.35.0 connected to temporal.internal:7233",
        "workflow order-0123456789abcdef0123456789abcdef-2 started",
    ],
)
def test_lines_without_credentials_are_unchanged(line: str) -> None:
    assert redact(line) == line


def test_access_line_keeps_its_shape_and_numeric_args(caplog: pytest.LogCaptureFixture) -> None:
    # uvicorn sets its own loggers' levels when any test serves an app; pin this one.
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/%s" %d',
            "127.0.0.1:5000", "GET", f"/orders/1?access_token={TOKEN}", "1.1", 401,
        )  # fmt: skip
    [record] = caplog.records
    assert record.getMessage() == (
        '127.0.0.1:5000 - "GET /orders/1?access_token=[REDACTED] HTTP/1.1" 401'
    )
    # uvicorn's access formatter unpacks the five args, so their number and types must stay.
    assert isinstance(record.args, tuple) and record.args[-1] == 401


def test_exception_text_is_redacted(caplog: pytest.LogCaptureFixture) -> None:
    try:
        raise RuntimeError(f"upstream rejected Authorization: Bearer {TOKEN}")
    except RuntimeError:
        logging.getLogger("api.test").exception("call failed")
    assert "call failed" in caplog.text and "RuntimeError" in caplog.text
    assert TOKEN.split(".")[1] not in caplog.text


def test_installing_twice_wraps_the_factory_once() -> None:
    before = logging.getLogRecordFactory()
    install_log_redaction()
    assert logging.getLogRecordFactory() is before


def test_prose_about_bearer_tokens_and_the_challenge_stay_readable() -> None:
    line = 'bearer token refused; WWW-Authenticate: Bearer error="invalid_token"'
    assert redact(line) == line
