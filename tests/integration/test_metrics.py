"""What the API and the worker count, and that the worker serves ours and the SDK's together."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from api.main import create_app
from foundation.settings import Settings
from foundation.temporal_client import connect_temporal
from processes.devstack.ports import free_port
from processes.worker import fulfillment_worker
from processes.worker_metrics import serve_worker_metrics
from tests.support import in_process_client, order_body, running_relay, started_run

pytestmark = pytest.mark.integration
Auth = Callable[..., dict[str, str]]
Serve = Callable[[Settings], AsyncIterator[httpx.AsyncClient]]


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def scraped_value(text: str, series: str) -> float:
    """The value of one exact series line (name and labels as exposed) in a scrape."""
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{series} is not in the scrape")


async def test_an_unhandled_error_is_counted_as_a_500(settings: Settings) -> None:
    app = create_app(settings)

    @app.get("/test-only/unhandled")
    async def unhandled() -> None:
        raise RuntimeError("a bug")

    series = {"method": "GET", "route": "/test-only/unhandled", "status": "500"}
    before = sample("order_api_http_requests_total", **series)
    async with in_process_client(app) as api:
        with pytest.raises(RuntimeError):
            await api.get("/test-only/unhandled")
    assert sample("order_api_http_requests_total", **series) == before + 1


async def test_accepted_orders_replays_and_key_refusals_are_counted(
    api: httpx.AsyncClient, auth: Auth
) -> None:
    before = {
        "accepted": sample("order_api_orders_accepted_total"),
        "replays": sample("order_api_idempotent_replays_total"),
        "reused": sample("order_api_idempotency_key_rejections_total", reason="reused"),
    }
    headers = auth(key="counted-1")
    await api.post("/orders", json=order_body(), headers=headers)
    await api.post("/orders", json=order_body(), headers=headers)
    other = order_body(payment_method="tok_mastercard")
    assert (await api.post("/orders", json=other, headers=headers)).status_code == 422

    assert sample("order_api_orders_accepted_total") == before["accepted"] + 1
    assert sample("order_api_idempotent_replays_total") == before["replays"] + 1
    rejected = sample("order_api_idempotency_key_rejections_total", reason="reused")
    assert rejected == before["reused"] + 1


async def test_an_order_not_started_shows_in_the_backlog(
    settings: Settings, clean_db: None, serve_app: Serve, auth: Auth
) -> None:
    # No relay runs here, and the app's Temporal is unreachable besides.
    nothing_listens = settings.model_copy(update={"temporal_address": f"127.0.0.1:{free_port()}"})
    async for api in serve_app(nothing_listens):
        assert (
            await api.post("/orders", json=order_body(), headers=auth(key="backlog-1"))
        ).status_code == 201
        scrape = (await api.get("/metrics")).text

    assert scraped_value(scrape, "order_api_orders_not_started") == 1
    assert scraped_value(scrape, "order_api_oldest_order_not_started_age_seconds") > 0


async def test_a_worker_serves_its_activity_counts_and_the_sdk_metrics_on_one_url(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], auth: Auth, clean_db: None
) -> None:
    own_queue = settings.model_copy(update={"task_queue": f"metrics-{uuid.uuid4().hex[:8]}"})
    with serve_worker_metrics("127.0.0.1", 0) as metrics:
        client: Client = await connect_temporal(own_queue, runtime=metrics.runtime)
        async with (
            fulfillment_worker(client, own_queue, sessions),
            running_relay(own_queue, sessions, client),
            in_process_client(create_app(own_queue)) as api,
        ):
            placed = await api.post(
                "/orders", json=order_body(), headers=auth(key=own_queue.task_queue)
            )
            await (await started_run(client, placed.json()["workflow_id"])).result()
        async with httpx.AsyncClient() as scraper:
            scrape = (await scraper.get(metrics.url)).text

    assert (
        scraped_value(scrape, 'order_worker_activity_attempts_total{activity="charge_payment"}')
        >= 1
    )
    assert scraped_value(scrape, 'order_worker_orders_finished_total{status="COMPLETED"}') >= 1
    assert "temporal_activity_schedule_to_start_latency" in scrape
    assert "temporal_workflow_completed" in scrape
