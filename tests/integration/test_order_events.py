"""GET /orders/{id}/events: status changes pushed over Server-Sent Events, on real servers.

The app runs under uvicorn on a loopback port and the tests read its streams over real HTTP.
Changes are appended to the history table directly, as the workflow's activity does, so each
test decides exactly when a change happens; one test follows a real workflow run instead.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.worker import Worker

from api.main import create_app
from foundation.domain import OrderStatus
from foundation.models import Order, OrderStatusChange
from foundation.settings import Settings
from processes.relay import Relay
from tests.support import eventually, order_body, serve_over_http

pytestmark = pytest.mark.integration
Auth = Callable[..., dict[str, str]]

FULFILMENT = [OrderStatus.RESERVED, OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.COMPLETED]


@dataclass(frozen=True)
class Event:
    id: int
    to_status: OrderStatus
    data: dict[str, Any]


@dataclass(frozen=True)
class Served:
    app: FastAPI
    url: str


@pytest.fixture
def served(settings: Settings, worker: Worker, clean_db: None, relay: Relay) -> Iterator[Served]:
    # Short keep-alives, so the test that waits for one waits a moment only.
    app = create_app(settings.model_copy(update={"events_keepalive_seconds": 0.5}))
    with serve_over_http(app) as url:
        yield Served(app, url)


class EventReader:
    """Reads one stream event by event; comments (keep-alives) are counted, not returned."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()
        self.comments = 0

    async def next(self, timeout: float = 10.0) -> Event | None:
        """The next event, or None when the server ended the stream."""
        fields: dict[str, str] = {}
        async with asyncio.timeout(timeout):
            async for line in self._lines:
                if line.startswith(":"):
                    self.comments += 1
                elif line:
                    name, _, value = line.partition(": ")
                    fields[name] = value
                elif fields:
                    assert fields["event"] == "status"
                    data = json.loads(fields["data"])
                    return Event(int(fields["id"]), OrderStatus(data["to_status"]), data)
        return None

    async def rest(self) -> list[Event]:
        events = []
        while (event := await self.next()) is not None:
            events.append(event)
        return events


@asynccontextmanager
async def stream(
    served: Served, order_id: str, headers: dict[str, str]
) -> AsyncIterator[EventReader]:
    async with (
        httpx.AsyncClient(base_url=served.url, timeout=30) as client,
        client.stream("GET", f"/orders/{order_id}/events", headers=headers) as response,
    ):
        yield EventReader(response)


async def _order(sessions: async_sessionmaker[AsyncSession], customer: str = "alice") -> str:
    """An order just accepted: status RECEIVED, one history row."""
    order = Order(
        id=uuid.uuid4(),
        customer_id=customer,
        idempotency_key=f"events-{uuid.uuid4()}",
        status=OrderStatus.RECEIVED,
        currency="USD",
        total_amount=1999,
        payment_method="tok_visa",
        shipping_address={},
        workflow_id=f"order-events-{uuid.uuid4()}",
    )
    async with sessions.begin() as session:
        session.add(order)
        await session.flush()
        session.add(_change(order.id, None, OrderStatus.RECEIVED))
    return str(order.id)


def _change(
    order_id: uuid.UUID, from_status: OrderStatus | None, to_status: OrderStatus
) -> OrderStatusChange:
    return OrderStatusChange(
        order_id=order_id,
        from_status=from_status,
        to_status=to_status,
        reason=f"now {to_status.value}",
        transition_id=f"events-test/{uuid.uuid4()}",
    )


async def _append(
    sessions: async_sessionmaker[AsyncSession], order_id: str, *statuses: OrderStatus
) -> None:
    """Each change in a transaction of its own, as the workflow's activity commits them."""
    for status in statuses:
        async with sessions.begin() as session:
            order = await session.get_one(Order, uuid.UUID(order_id), with_for_update=True)
            session.add(_change(order.id, order.status, status))
            order.status = status


async def test_the_stream_gives_the_history_then_live_changes_and_ends_after_completed(
    served: Served, auth: Auth, sessions: async_sessionmaker[AsyncSession]
) -> None:
    order_id = await _order(sessions)
    await _append(sessions, order_id, OrderStatus.RESERVED)
    async with stream(served, order_id, auth()) as events:
        history = [await events.next(), await events.next()]
        assert [e.to_status for e in history if e] == [OrderStatus.RECEIVED, OrderStatus.RESERVED]
        await _append(sessions, order_id, OrderStatus.PAID)
        paid = await events.next()
        assert paid is not None and paid.to_status is OrderStatus.PAID
        assert paid.data["order_id"] == order_id and paid.data["from_status"] == "RESERVED"
        await _append(sessions, order_id, OrderStatus.SHIPPED, OrderStatus.COMPLETED)
        rest = await events.rest()
    assert [e.to_status for e in rest] == [OrderStatus.SHIPPED, OrderStatus.COMPLETED]
    ids = [e.id for e in [*history, paid, *rest] if e]
    assert ids == sorted(ids) and len(set(ids)) == 5


async def test_a_real_run_is_followed_to_completed(served: Served, auth: Auth) -> None:
    async with httpx.AsyncClient(base_url=served.url, timeout=30) as client:
        placed = await client.post(
            "/orders", json=order_body(), headers=auth(key=f"events-{uuid.uuid4()}")
        )
    assert placed.status_code == 201, placed.text
    async with stream(served, placed.json()["id"], auth()) as events:
        statuses = [e.to_status for e in await events.rest()]
    assert statuses == [OrderStatus.RECEIVED, *FULFILMENT]


async def test_last_event_id_resumes_after_the_given_event(
    served: Served, auth: Auth, sessions: async_sessionmaker[AsyncSession]
) -> None:
    order_id = await _order(sessions)
    await _append(sessions, order_id, *FULFILMENT)
    async with stream(served, order_id, auth()) as events:
        everything = await events.rest()
    resume_after = everything[1].id  # the client saw RECEIVED and RESERVED
    async with stream(served, order_id, {**auth(), "Last-Event-ID": str(resume_after)}) as events:
        resumed = await events.rest()
    assert resumed == everything[2:]


async def test_resuming_after_the_terminal_event_ends_at_once(
    served: Served, auth: Auth, sessions: async_sessionmaker[AsyncSession]
) -> None:
    order_id = await _order(sessions)
    await _append(sessions, order_id, OrderStatus.CANCELLED)
    async with stream(served, order_id, auth()) as events:
        last = (await events.rest())[-1]
    async with stream(served, order_id, {**auth(), "Last-Event-ID": str(last.id)}) as events:
        assert await events.rest() == []


@pytest.mark.parametrize("terminal", [OrderStatus.CANCELLED, OrderStatus.FAILED], ids=str)
async def test_a_cancelled_or_failed_orders_stream_ends_at_that_status(
    served: Served, auth: Auth, sessions: async_sessionmaker[AsyncSession], terminal: OrderStatus
) -> None:
    order_id = await _order(sessions)
    async with stream(served, order_id, auth()) as events:
        assert (await events.next()) is not None
        await _append(sessions, order_id, OrderStatus.RESERVED, terminal)
        assert [e.to_status for e in await events.rest()] == [OrderStatus.RESERVED, terminal]


async def test_a_redriven_order_streams_past_its_earlier_failure(
    served: Served, auth: Auth, sessions: async_sessionmaker[AsyncSession]
) -> None:
    order_id = await _order(sessions)
    await _append(sessions, order_id, OrderStatus.FAILED, OrderStatus.RECEIVED, *FULFILMENT)
    async with stream(served, order_id, auth()) as events:
        statuses = [e.to_status for e in await events.rest()]
    assert statuses[-1] is OrderStatus.COMPLETED and OrderStatus.FAILED in statuses


async def test_another_customers_order_is_404_like_a_missing_one(
    served: Served, auth: Auth, sessions: async_sessionmaker[AsyncSession]
) -> None:
    order_id = await _order(sessions)
    async with httpx.AsyncClient(base_url=served.url) as client:
        theirs = await client.get(f"/orders/{order_id}/events", headers=auth("mallory"))
        missing = await client.get(f"/orders/{uuid.uuid4()}/events", headers=auth("mallory"))
    assert theirs.status_code == missing.status_code == 404
    assert theirs.headers["content-type"] == "application/problem+json"
    assert {**theirs.json(), "instance": None} == {**missing.json(), "instance": None}


async def test_an_admin_follows_any_customers_order(
    served: Served, auth: Auth, sessions: async_sessionmaker[AsyncSession]
) -> None:
    order_id = await _order(sessions)
    await _append(sessions, order_id, OrderStatus.CANCELLED)
    admin = auth("ops", scopes=("orders:read", "admin"))
    async with stream(served, order_id, admin) as events:
        assert events.response.status_code == 200
        assert events.response.headers["content-type"].startswith("text/event-stream")
        assert [e.to_status for e in await events.rest()] == [
            OrderStatus.RECEIVED,
            OrderStatus.CANCELLED,
        ]


async def test_a_malformed_last_event_id_is_a_422_problem(
    served: Served, auth: Auth, sessions: async_sessionmaker[AsyncSession]
) -> None:
    order_id = await _order(sessions)
    async with httpx.AsyncClient(base_url=served.url) as client:
        response = await client.get(
            f"/orders/{order_id}/events", headers={**auth(), "Last-Event-ID": "seven"}
        )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_an_idle_stream_sends_keep_alive_comments(
    served: Served, auth: Auth, sessions: async_sessionmaker[AsyncSession]
) -> None:
    order_id = await _order(sessions)
    async with stream(served, order_id, auth()) as events:
        assert await events.next() is not None
        with pytest.raises(TimeoutError):
            await events.next(timeout=1.2)
        assert events.comments >= 2


async def test_streams_share_one_listener_connection_and_free_it_on_disconnect(
    served: Served, auth: Auth, sessions: async_sessionmaker[AsyncSession]
) -> None:
    listener = served.app.state.status_changes

    async def listening_connections() -> int:
        async with sessions() as session:
            query = "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN %'"
            return int(await session.scalar(text(query)) or 0)

    orders = [await _order(sessions) for _ in range(3)]
    async with stream(served, orders[0], auth()) as first:
        assert await first.next() is not None
        with_one_stream = await listening_connections()
        async with (
            stream(served, orders[1], auth()) as second,
            stream(served, orders[2], auth()) as third,
        ):
            for events in (second, third):
                assert await events.next() is not None
            assert listener.subscriber_count == 3
            assert await listening_connections() == with_one_stream >= 1

    async def unsubscribed() -> None:
        assert listener.subscriber_count == 0

    await eventually(unsubscribed, timeout=5)
