"""Idempotent POST /orders: replay, mismatch, in-flight, expiry and concurrency."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from api.idempotency.header import request_fingerprint
from api.idempotency.repository import Claimed, IdempotencyRepository
from api.orders.schemas import OrderCreate
from foundation.domain import OrderStatus
from foundation.models import IdempotencyKey, Order, OrderItem
from foundation.workflow_ids import order_workflow_id
from processes.key_purge import purge_expired_keys
from tests.support import eventually, order_body, started_run

pytestmark = pytest.mark.integration
Auth = Callable[..., dict[str, str]]
Sessions = async_sessionmaker[AsyncSession]


async def _orders(sessions: Sessions, customer: str | None = None) -> list[Order]:
    query = select(Order).order_by(Order.created_at)
    if customer is not None:
        query = query.where(Order.customer_id == customer)
    async with sessions() as session:
        return list(await session.scalars(query))


async def _claim_in_flight(sessions: Sessions, customer: str, key: str, lease: timedelta) -> None:
    """Stand in for a first request that has claimed the key and is still working."""
    fingerprint = request_fingerprint(
        "POST",
        "/orders",
        OrderCreate.model_validate_json(json.dumps(order_body())).model_dump(mode="json"),
    )
    async with sessions.begin() as session:
        repo = IdempotencyRepository(session, retention=timedelta(hours=24), lease=lease)
        assert isinstance(await repo.claim(customer, key, fingerprint), Claimed)


async def test_replay_returns_the_stored_response_and_creates_nothing_new(
    api: httpx.AsyncClient, auth: Auth, sessions: Sessions
) -> None:
    first = await api.post("/orders", json=order_body(), headers=auth(key="replay-1"))
    second = await api.post("/orders", json=order_body(), headers=auth(key="replay-1"))
    assert first.status_code == second.status_code == 201
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.headers["Location"] == first.headers["Location"]
    assert second.json() == first.json()
    assert len(await _orders(sessions)) == 1


async def test_replay_matches_a_semantically_equal_body_in_another_key_order(
    api: httpx.AsyncClient, auth: Auth
) -> None:
    body = order_body()
    reordered = dict(reversed(list(body.items())))
    await api.post("/orders", json=body, headers=auth(key="reorder-1"))
    second = await api.post("/orders", json=reordered, headers=auth(key="reorder-1"))
    assert second.headers.get("Idempotent-Replayed") == "true"


async def test_same_key_with_a_different_body_is_422(
    api: httpx.AsyncClient, auth: Auth, sessions: Sessions
) -> None:
    await api.post("/orders", json=order_body(), headers=auth(key="mismatch-1"))
    other = order_body(items=[{"sku": "GADGET-2", "quantity": 1}])
    response = await api.post("/orders", json=other, headers=auth(key="mismatch-1"))
    assert response.status_code == 422
    assert response.json()["type"].endswith("/idempotency-key-reused")
    assert len(await _orders(sessions)) == 1


async def test_missing_key_is_400_and_stores_nothing(
    api: httpx.AsyncClient, auth: Auth, sessions: Sessions
) -> None:
    response = await api.post("/orders", json=order_body(), headers=auth())
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/idempotency-key-missing")
    assert await _orders(sessions) == []


@pytest.mark.parametrize(
    "key", [b"", b"x" * 256, b'"unterminated', "caf\u00e9".encode(), b"tab\there"]
)
async def test_malformed_key_is_400_and_stores_nothing(
    api: httpx.AsyncClient, auth: Auth, sessions: Sessions, key: bytes
) -> None:
    headers: dict[str, str | bytes] = {**auth(), "Idempotency-Key": key}
    response = await api.post("/orders", json=order_body(), headers=headers)
    assert response.status_code == 400
    assert response.json()["type"].endswith("/idempotency-key-malformed")
    assert await _orders(sessions) == []


async def test_quoted_and_bare_forms_of_a_key_are_the_same_key(
    api: httpx.AsyncClient, auth: Auth, sessions: Sessions
) -> None:
    await api.post("/orders", json=order_body(), headers=auth(key="same-key"))
    second = await api.post("/orders", json=order_body(), headers=auth(key='"same-key"'))
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert len(await _orders(sessions)) == 1


async def test_key_in_flight_is_409_with_retry_after(
    api: httpx.AsyncClient, auth: Auth, sessions: Sessions
) -> None:
    await _claim_in_flight(sessions, "alice", "busy-1", lease=timedelta(seconds=30))
    response = await api.post("/orders", json=order_body(), headers=auth(key="busy-1"))
    assert response.status_code == 409
    assert 1 <= int(response.headers["Retry-After"]) <= 31
    assert response.json()["type"].endswith("/idempotency-key-in-flight")
    assert await _orders(sessions) == []


async def test_lapsed_claim_of_a_crashed_request_is_taken_over(
    api: httpx.AsyncClient, auth: Auth, sessions: Sessions
) -> None:
    await _claim_in_flight(sessions, "alice", "crashed-1", lease=timedelta(seconds=-1))
    response = await api.post("/orders", json=order_body(), headers=auth(key="crashed-1"))
    assert response.status_code == 201
    assert len(await _orders(sessions)) == 1


async def test_a_lapsed_claim_whose_order_was_written_is_answered_with_that_order_and_started(
    api: httpx.AsyncClient, auth: Auth, sessions: Sessions, temporal: Client
) -> None:
    # What the intake before the outbox could leave behind: the order committed under a claim
    # whose response was never stored, and no workflow started.
    await _claim_in_flight(sessions, "alice", "half-done", lease=timedelta(seconds=-1))
    order_id = uuid.uuid4()
    async with sessions.begin() as session:
        session.add(
            Order(
                id=order_id, customer_id="alice", idempotency_key="half-done",
                status=OrderStatus.RECEIVED, currency="USD", total_amount=999,
                payment_method="tok_visa", shipping_address=order_body()["shipping_address"],
                workflow_id=order_workflow_id("alice", "half-done"),
                items=[OrderItem(sku="GIZMO-3", quantity=1, unit_price=999, line_total=999)],
            )
        )  # fmt: skip
        await session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.key == "half-done")
            .values(order_id=order_id)
        )

    response = await api.post("/orders", json=order_body(), headers=auth(key="half-done"))

    assert response.status_code == 201
    assert response.json()["id"] == str(order_id)
    assert len(await _orders(sessions)) == 1
    await (await started_run(temporal, response.json()["workflow_id"])).result()


async def test_expired_key_is_a_new_request_with_a_new_workflow(
    api: httpx.AsyncClient, auth: Auth, sessions: Sessions
) -> None:
    first = (await api.post("/orders", json=order_body(), headers=auth(key="expiring"))).json()
    async with sessions.begin() as session:
        await session.execute(
            update(IdempotencyKey).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    second = await api.post("/orders", json=order_body(), headers=auth(key="expiring"))
    assert second.status_code == 201
    assert "Idempotent-Replayed" not in second.headers
    assert second.json()["id"] != first["id"]
    assert second.json()["workflow_id"] == order_workflow_id("alice", "expiring", generation=2)
    assert len(await _orders(sessions)) == 2


async def test_expired_keys_are_purged(
    api: httpx.AsyncClient, auth: Auth, sessions: Sessions
) -> None:
    await api.post("/orders", json=order_body(), headers=auth(key="old"))
    await api.post("/orders", json=order_body(), headers=auth(key="fresh"))
    async with sessions.begin() as session:
        await session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.key == "old")
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert await purge_expired_keys(sessions) == 1
    async with sessions() as session:
        keys = list(await session.scalars(select(IdempotencyKey.key)))
    assert keys == ["fresh"]


async def test_keys_are_scoped_per_customer(
    api: httpx.AsyncClient, auth: Auth, sessions: Sessions
) -> None:
    alice = await api.post("/orders", json=order_body(), headers=auth("alice", key="shared"))
    bob = await api.post("/orders", json=order_body(), headers=auth("bob", key="shared"))
    assert alice.status_code == bob.status_code == 201
    assert "Idempotent-Replayed" not in bob.headers
    assert alice.json()["workflow_id"] != bob.json()["workflow_id"]
    assert len(await _orders(sessions)) == 2


async def test_workflow_id_is_derived_from_customer_and_key_and_recorded(
    api: httpx.AsyncClient, auth: Auth, sessions: Sessions, temporal: Client
) -> None:
    placed = (await api.post("/orders", json=order_body(), headers=auth(key="wf-1"))).json()
    expected = order_workflow_id("alice", "wf-1")
    assert placed["workflow_id"] == expected
    [order] = await _orders(sessions)
    assert order.workflow_id == expected

    async def started_under_that_id() -> None:
        [order] = await _orders(sessions)
        assert order.workflow_started_at is not None
        description = await temporal.get_workflow_handle(expected).describe()
        assert description.workflow_type == "OrderFulfillment"

    await eventually(started_under_that_id)


async def test_twenty_concurrent_identical_posts_make_one_order_and_one_workflow(
    api: httpx.AsyncClient, auth: Auth, sessions: Sessions, temporal: Client
) -> None:
    headers = auth(key="stampede")
    responses = await asyncio.gather(
        *(api.post("/orders", json=order_body(), headers=headers) for _ in range(20))
    )
    # One transaction accepts the order: the others wait on the key's unique index until it
    # commits, then replay its answer; none is told to come back later.
    assert [r.status_code for r in responses] == [201] * 20
    assert len([r for r in responses if "Idempotent-Replayed" not in r.headers]) == 1
    assert len({r.json()["id"] for r in responses}) == 1

    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Order)) == 1
    workflow_id = order_workflow_id("alice", "stampede")

    async def exactly_one_run() -> None:
        runs = [e async for e in temporal.list_workflows(f"WorkflowId = '{workflow_id}'")]
        assert len(runs) == 1, runs

    await eventually(exactly_one_run)


async def test_idempotency_key_sent_in_two_header_fields_is_400_and_stores_nothing(
    api: httpx.AsyncClient, auth: Auth, sessions: Sessions
) -> None:
    headers = [*auth().items(), ("Idempotency-Key", "dup-1"), ("Idempotency-Key", "dup-2")]
    response = await api.post("/orders", json=order_body(), headers=headers)
    assert response.status_code == 400
    assert response.json()["type"].endswith("/idempotency-key-malformed")
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Order)) == 0
