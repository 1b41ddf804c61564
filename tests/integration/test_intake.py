"""Intake in one transaction: an order is stored whole with its pending start, or not at all."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.worker import Worker

from foundation.models import IdempotencyKey, Order, OrderItem, OrderStatusChange, WorkflowStart
from foundation.settings import Settings
from processes.relay import Relay
from tests.support import order_body

pytestmark = pytest.mark.integration
Auth = Callable[..., dict[str, str]]
Serve = Callable[[Settings], AsyncIterator[httpx.AsyncClient]]
Sessions = async_sessionmaker[AsyncSession]
STORED = (Order, OrderItem, OrderStatusChange, IdempotencyKey, WorkflowStart)


async def _stored(sessions: Sessions) -> dict[str, int]:
    """How many rows each table of the intake holds."""
    async with sessions() as session:
        return {
            model.__tablename__: int(
                await session.scalar(select(func.count()).select_from(model)) or 0
            )
            for model in STORED
        }


async def test_an_accepted_order_is_stored_whole_with_its_pending_start(
    settings: Settings, clean_db: None, serve_app: Serve, auth: Auth, sessions: Sessions
) -> None:
    async for api in serve_app(settings):
        placed = await api.post("/orders", json=order_body(), headers=auth(key="whole"))
        read = await api.get(placed.headers["Location"], headers=auth())
    assert placed.status_code == 201
    assert await _stored(sessions) == {
        "orders": 1,
        "order_items": 2,
        "order_status_history": 1,
        "idempotency_keys": 1,
        "workflow_starts": 1,
    }
    # The stored answer is the rows as written, timestamps included.
    assert read.json() == placed.json()


async def test_a_refused_order_stores_nothing_not_even_its_key(
    settings: Settings, clean_db: None, serve_app: Serve, auth: Auth, sessions: Sessions
) -> None:
    # Refused inside the accepting transaction, after the key was claimed: the claim goes too.
    body = order_body(items=[{"sku": "NO-SUCH-SKU", "quantity": 1}])
    async for api in serve_app(settings):
        refused = await api.post("/orders", json=body, headers=auth(key="refused"))
        assert refused.status_code == 422
        assert refused.json()["type"].endswith("/unknown-sku")
        assert set((await _stored(sessions)).values()) == {0}
        # The key is free again: the same key with a good body is a new order.
        accepted = await api.post("/orders", json=order_body(), headers=auth(key="refused"))
    assert accepted.status_code == 201 and "Idempotent-Replayed" not in accepted.headers


async def test_new_orders_are_shed_past_the_start_backlog_bound_and_taken_again_below_it(
    settings: Settings,
    worker: Worker,
    clean_db: None,
    serve_app: Serve,
    auth: Auth,
    sessions: Sessions,
    temporal: Client,
) -> None:
    # No relay runs until the end: the backlog only grows. The API looks at it every 50 ms.
    bounded = settings.model_copy(
        update={"max_start_backlog": 2, "start_backlog_refresh_seconds": 0.05}
    )
    async for api in serve_app(bounded):
        for n in range(3):
            placed = await api.post("/orders", json=order_body(), headers=auth(key=f"shed-{n}"))
            assert placed.status_code == 201
        await asyncio.sleep(0.3)
        before = await _stored(sessions)

        shed = await api.post("/orders", json=order_body(), headers=auth(key="shed-new"))
        replayed = await api.post("/orders", json=order_body(), headers=auth(key="shed-0"))

        assert shed.status_code == 503
        assert shed.headers["content-type"] == "application/problem+json"
        assert shed.json()["type"].endswith("/intake-overloaded")
        assert int(shed.headers["Retry-After"]) >= 1
        assert await _stored(sessions) == before
        assert replayed.status_code == 201
        assert replayed.headers["Idempotent-Replayed"] == "true"

        assert len(await Relay(bounded, sessions, temporal).drain()) == 3
        await asyncio.sleep(0.3)
        again = await api.post("/orders", json=order_body(), headers=auth(key="shed-new"))
        assert again.status_code == 201
        assert "Idempotent-Replayed" not in again.headers
