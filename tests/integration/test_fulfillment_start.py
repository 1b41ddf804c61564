"""The order's workflow runs, and an accepted order is never lost when Temporal is unreachable."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.worker import Worker

from foundation.models import Order
from foundation.settings import Settings
from processes.devstack.ports import free_port
from processes.relay import Relay
from tests.support import eventually, order_body, started_run

pytestmark = pytest.mark.integration
Auth = Callable[..., dict[str, str]]


async def test_placed_order_runs_its_workflow_to_completion(
    api: httpx.AsyncClient, auth: Auth, temporal: Client
) -> None:
    placed = (await api.post("/orders", json=order_body(), headers=auth(key="run-1"))).json()
    result = await (await started_run(temporal, placed["workflow_id"])).result()
    assert result["status"] == "COMPLETED"

    async def order_completed() -> None:
        order = (await api.get(f"/orders/{placed['id']}", headers=auth())).json()
        assert order["status"] == "COMPLETED"

    await eventually(order_completed)


async def test_run_carries_order_and_customer_search_attributes(
    api: httpx.AsyncClient, auth: Auth, temporal: Client
) -> None:
    placed = (await api.post("/orders", json=order_body(), headers=auth(key="sa-1"))).json()

    async def listed() -> None:
        query = f"OrderId = '{placed['id']}' AND CustomerId = 'alice'"
        runs = [e async for e in temporal.list_workflows(query)]
        assert [r.id for r in runs] == [placed["workflow_id"]]

    await eventually(listed)


async def test_order_is_accepted_while_temporal_is_unreachable_and_started_later(
    settings: Settings,
    worker: Worker,
    clean_db: None,
    serve_app: Callable[[Settings], AsyncIterator[httpx.AsyncClient]],
    auth: Auth,
    sessions: async_sessionmaker[AsyncSession],
    temporal: Client,
) -> None:
    nothing_listens = settings.model_copy(update={"temporal_address": f"127.0.0.1:{free_port()}"})
    async for api in serve_app(nothing_listens):
        response = await api.post("/orders", json=order_body(), headers=auth(key="outage-1"))
    assert response.status_code == 201
    async with sessions() as session:
        [order] = list(await session.scalars(select(Order)))
    assert order.workflow_started_at is None

    assert await Relay(settings, sessions, temporal).drain() == [order.id]

    handle = temporal.get_workflow_handle(order.workflow_id)
    await handle.result()
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
    async with sessions() as session:
        recovered = await session.get(Order, order.id)
    assert recovered is not None and recovered.workflow_started_at is not None
    assert await Relay(settings, sessions, temporal).drain() == []
