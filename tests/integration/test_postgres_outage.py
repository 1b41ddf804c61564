"""PostgreSQL briefly down: clients get 503 to retry, and accepted orders still complete."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client

from foundation.db import make_engine, make_session_factory
from foundation.domain import OrderStatus
from foundation.migrate import upgrade_to_head
from foundation.settings import Settings
from processes.devstack.ports import free_port
from processes.devstack.postgres import EmbeddedPostgres
from processes.relay import Relay
from processes.worker import fulfillment_worker
from tests.support import order_body
from workflows.order_fulfillment import OrderFulfillmentWorkflow

pytestmark = pytest.mark.integration
Auth = Callable[..., dict[str, str]]
Serve = Callable[[Settings], AsyncIterator[httpx.AsyncClient]]


@pytest.fixture
def own_postgres(tmp_path: Path) -> Iterator[EmbeddedPostgres]:
    """A PostgreSQL of this test's own, so stopping it disturbs no other test."""
    server = EmbeddedPostgres(tmp_path / "data", free_port(), durable=False)
    server.start()
    server.create_database("orders")
    upgrade_to_head(server.url("orders"))
    yield server
    server.stop()


async def test_api_answers_503_with_retry_after_while_postgres_is_down(
    settings: Settings, serve_app: Serve, auth: Auth
) -> None:
    dead = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/orders"
    async for api in serve_app(settings.model_copy(update={"database_url": dead})):
        placed = await api.post("/orders", json=order_body(), headers=auth(key="db-down"))
        read = await api.get(f"/orders/{uuid.uuid4()}", headers=auth())
    for response in (placed, read):
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["Retry-After"] == "5"
        assert "psycopg" not in response.text and "SELECT" not in response.text


async def test_accepted_order_completes_after_postgres_restarts(
    settings: Settings,
    serve_app: Serve,
    auth: Auth,
    temporal: Client,
    own_postgres: EmbeddedPostgres,
) -> None:
    own = settings.model_copy(
        update={
            "database_url": own_postgres.url("orders"),
            "task_queue": f"orders-pg-{uuid.uuid4().hex[:8]}",
        }
    )
    async for api in serve_app(own):
        placed = await api.post("/orders", json=order_body(), headers=auth(key="pg-blip"))
    assert placed.status_code == 201
    relay_engine = make_engine(own.effective_database_url)
    try:
        started = await Relay(own, make_session_factory(relay_engine), temporal).drain()
    finally:
        await relay_engine.dispose()
    assert [str(order_id) for order_id in started] == [placed.json()["id"]]
    # No worker has polled yet, so every step of this run meets the outage.
    own_postgres.stop()
    engine = make_engine(own.effective_database_url)
    try:
        async with fulfillment_worker(temporal, own, make_session_factory(engine)):
            await asyncio.sleep(3)  # the first step fails and backs off meanwhile
            own_postgres.start()
            handle = temporal.get_workflow_handle_for(
                OrderFulfillmentWorkflow.run, placed.json()["workflow_id"]
            )
            result = await asyncio.wait_for(handle.result(), timeout=60)
    finally:
        await engine.dispose()

    history = await handle.fetch_history()
    retried = [
        e.activity_task_started_event_attributes.attempt
        for e in history.events
        if e.HasField("activity_task_started_event_attributes")
    ]
    assert max(retried) > 1, "no step met the outage, so the test proved nothing"
    assert result.status is OrderStatus.COMPLETED
    async with httpx.AsyncClient(base_url=own.effective_payment_gateway_url) as gateway:
        charges = await gateway.get("/charges", params={"reference": placed.json()["id"]})
    assert len(charges.json()["data"]) == 1


async def test_after_postgres_restarts_one_order_read_fails_and_the_next_ones_succeed(
    settings: Settings, serve_app: Serve, auth: Auth, own_postgres: EmbeddedPostgres
) -> None:
    # Reads only: the app's relay and worker are not needed to look an order up.
    own = settings.model_copy(update={"database_url": own_postgres.url("orders")})
    missing = f"/orders/{uuid.uuid4()}"
    async for api in serve_app(own):
        assert (await api.get(missing, headers=auth())).status_code == 404
        own_postgres.stop()
        own_postgres.start()
        first = await api.get(missing, headers=auth())
        # The failed read swept the pool's dead connections; the others are new by now.
        await asyncio.sleep(1)
        after = [(await api.get(missing, headers=auth())).status_code for _ in range(12)]
    assert first.status_code == 503
    assert after == [404] * 12
