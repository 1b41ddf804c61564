"""Liveness and readiness probes against the real dependencies."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from foundation.settings import Settings
from processes.devstack.ports import free_port

pytestmark = pytest.mark.integration
Serve = Callable[[Settings], AsyncIterator[httpx.AsyncClient]]


async def test_live_answers_200(api: httpx.AsyncClient) -> None:
    assert (await api.get("/health/live")).status_code == 200


async def test_ready_is_200_when_postgres_and_temporal_answer(api: httpx.AsyncClient) -> None:
    response = await api.get("/health/ready")
    assert response.status_code == 200
    assert response.json()["checks"] == {"postgres": "ok", "temporal": "ok"}


async def test_ready_is_503_naming_temporal_when_it_is_down(
    settings: Settings, serve_app: Serve
) -> None:
    down = settings.model_copy(
        update={"temporal_address": f"127.0.0.1:{free_port()}", "readiness_timeout_seconds": 1.0}
    )
    async for api in serve_app(down):
        response = await api.get("/health/ready")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert "temporal" in response.json()["detail"]
    assert "postgres" not in response.json()["detail"]


async def test_ready_is_503_naming_postgres_when_it_is_down(
    settings: Settings, serve_app: Serve
) -> None:
    down = settings.model_copy(
        update={
            "database_url": f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/orders",
            "readiness_timeout_seconds": 1.0,
        }
    )
    async for api in serve_app(down):
        response = await api.get("/health/ready")
    assert response.status_code == 503
    assert "postgres" in response.json()["detail"]
    assert "temporal" not in response.json()["detail"]


async def test_metrics_are_exposed_in_prometheus_format(api: httpx.AsyncClient) -> None:
    await api.get("/health/live")
    response = await api.get("/metrics")
    assert response.status_code == 200
    assert 'order_api_http_requests_total{method="GET",route="/health/live",status="200"}' in (
        response.text
    )
