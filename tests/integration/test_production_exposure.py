"""What a production deployment shows to anyone: no docs and no metrics unless configured."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from foundation.settings import Environment, Settings
from tests.support import PRODUCTION_PAYLOAD_KEYS

pytestmark = pytest.mark.integration
Serve = Callable[[Settings], AsyncIterator[httpx.AsyncClient]]
DOCS = ["/docs", "/redoc", "/openapi.json"]
METRICS_TOKEN = "metrics-scraper-token-0123456789"


def _production(settings: Settings, **overrides: Any) -> Settings:
    return settings.model_copy(
        update={
            "environment": Environment.PRODUCTION,
            "jwt_secret": SecretStr("a-production-secret-" + "x" * 32),
            "payload_keys": PRODUCTION_PAYLOAD_KEYS,
            **overrides,
        }
    )


async def _statuses(serve_app: Serve, settings: Settings, paths: list[str], **kw: Any) -> list[int]:
    async for client in serve_app(settings):
        return [(await client.get(path, **kw)).status_code for path in paths]
    raise AssertionError("the app did not start")


async def test_production_serves_no_docs_by_default(settings: Settings, serve_app: Serve) -> None:
    assert await _statuses(serve_app, _production(settings), DOCS) == [404, 404, 404]


async def test_production_serves_docs_when_turned_on(settings: Settings, serve_app: Serve) -> None:
    on = _production(settings, docs_enabled=True)
    assert await _statuses(serve_app, on, DOCS) == [200, 200, 200]


async def test_dev_serves_docs_by_default(settings: Settings, serve_app: Serve) -> None:
    assert await _statuses(serve_app, settings, DOCS) == [200, 200, 200]


async def test_production_serves_no_metrics_without_a_metrics_token(
    settings: Settings, serve_app: Serve
) -> None:
    assert await _statuses(serve_app, _production(settings), ["/metrics"]) == [404]


async def test_metrics_need_the_metrics_token_when_one_is_set(
    settings: Settings, serve_app: Serve
) -> None:
    guarded = _production(settings, metrics_token=SecretStr(METRICS_TOKEN))
    wrong = {"Authorization": "Bearer not-the-token"}
    right = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    assert await _statuses(serve_app, guarded, ["/metrics"]) == [401]
    assert await _statuses(serve_app, guarded, ["/metrics"], headers=wrong) == [401]
    assert await _statuses(serve_app, guarded, ["/metrics"], headers=right) == [200]


async def test_dev_serves_metrics_without_a_token(settings: Settings, serve_app: Serve) -> None:
    assert await _statuses(serve_app, settings, ["/metrics"]) == [200]
