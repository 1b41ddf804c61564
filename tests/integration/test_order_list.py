"""GET /orders: a customer's orders newest first, a page at a time, on real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from foundation.domain import OrderStatus
from foundation.models import Order

pytestmark = pytest.mark.integration
Auth = Callable[..., dict[str, str]]

START = datetime(2026, 1, 1, tzinfo=UTC)


async def _orders(
    sessions: async_sessionmaker[AsyncSession],
    customer: str,
    count: int,
    *,
    status: OrderStatus = OrderStatus.COMPLETED,
    same_instant: bool = False,
) -> list[str]:
    """Orders placed an hour apart (or all at once), returned newest first as the list is."""
    orders = [
        Order(
            id=uuid.uuid4(),
            customer_id=customer,
            idempotency_key=f"list-{uuid.uuid4()}",
            status=status,
            currency="USD",
            total_amount=1999,
            payment_method="tok_visa",
            shipping_address={},
            workflow_id=f"order-list-{uuid.uuid4()}",
            created_at=START if same_instant else START + timedelta(hours=n),
        )
        for n in range(count)
    ]
    async with sessions.begin() as session:
        session.add_all(orders)
    ordered = sorted(orders, key=lambda o: (o.created_at, o.id), reverse=True)
    return [str(o.id) for o in ordered]


async def _every_page(api: httpx.AsyncClient, headers: dict[str, str], url: str) -> list[str]:
    seen: list[str] = []
    next_url: str | None = url
    while next_url is not None:
        response = await api.get(next_url, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        seen += [item["id"] for item in page["items"]]
        next_url = page["next"]
    return seen


async def test_a_customer_sees_their_orders_newest_first(
    api: httpx.AsyncClient, auth: Auth, sessions: async_sessionmaker[AsyncSession]
) -> None:
    mine = await _orders(sessions, "alice", 3)
    response = await api.get("/orders", headers=auth())
    assert response.status_code == 200
    page = response.json()
    assert [item["id"] for item in page["items"]] == mine
    assert page["next"] is None and page["next_cursor"] is None
    assert page["items"][0] == {
        "id": mine[0],
        "status": "COMPLETED",
        "total": 1999,
        "currency": "USD",
        "created_at": "2026-01-01T02:00:00Z",
    }


async def test_pages_follow_next_links_without_skipping_or_repeating(
    api: httpx.AsyncClient, auth: Auth, sessions: async_sessionmaker[AsyncSession]
) -> None:
    mine = await _orders(sessions, "alice", 7)
    assert await _every_page(api, auth(), "/orders?limit=3") == mine


async def test_orders_placed_at_the_same_instant_are_paged_by_id(
    api: httpx.AsyncClient, auth: Auth, sessions: async_sessionmaker[AsyncSession]
) -> None:
    mine = await _orders(sessions, "alice", 5, same_instant=True)
    assert await _every_page(api, auth(), "/orders?limit=2") == mine


async def test_the_next_link_keeps_the_filters(
    api: httpx.AsyncClient, auth: Auth, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await _orders(sessions, "alice", 3, status=OrderStatus.COMPLETED)
    failed = await _orders(sessions, "alice", 3, status=OrderStatus.FAILED)
    cancelled = await _orders(sessions, "alice", 2, status=OrderStatus.CANCELLED)
    seen = await _every_page(api, auth(), "/orders?limit=1&status=FAILED&status=CANCELLED")
    assert set(seen) == set(failed + cancelled) and len(seen) == 5


async def test_created_after_and_before_bound_the_list_strictly(
    api: httpx.AsyncClient, auth: Auth, sessions: async_sessionmaker[AsyncSession]
) -> None:
    mine = await _orders(sessions, "alice", 5)  # placed at 00:00, 01:00, ... 04:00
    query = {"created_after": "2026-01-01T01:00:00Z", "created_before": "2026-01-01T05:00:00+01:00"}
    response = await api.get("/orders", params=query, headers=auth())
    assert [item["id"] for item in response.json()["items"]] == mine[1:3]


async def test_a_customer_never_sees_another_customers_orders(
    api: httpx.AsyncClient, auth: Auth, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await _orders(sessions, "alice", 2)
    response = await api.get("/orders", headers=auth("mallory"))
    assert response.status_code == 200
    assert response.json()["items"] == []


async def test_naming_another_customer_needs_the_admin_scope(
    api: httpx.AsyncClient, auth: Auth, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await _orders(sessions, "alice", 2)
    response = await api.get("/orders", params={"customer_id": "alice"}, headers=auth("mallory"))
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert 'scope="admin"' in response.headers["WWW-Authenticate"]


async def test_naming_yourself_is_the_same_as_naming_no_one(
    api: httpx.AsyncClient, auth: Auth, sessions: async_sessionmaker[AsyncSession]
) -> None:
    mine = await _orders(sessions, "alice", 2)
    response = await api.get("/orders", params={"customer_id": "alice"}, headers=auth())
    assert [item["id"] for item in response.json()["items"]] == mine


async def test_an_admin_lists_any_customers_orders(
    api: httpx.AsyncClient, auth: Auth, sessions: async_sessionmaker[AsyncSession]
) -> None:
    theirs = await _orders(sessions, "alice", 2)
    admin = auth("ops", scopes=("orders:read", "admin"))
    response = await api.get("/orders", params={"customer_id": "alice"}, headers=admin)
    assert [item["id"] for item in response.json()["items"]] == theirs


@pytest.mark.parametrize(
    "query",
    [
        {"cursor": "not-a-cursor"},
        {"cursor": "12-" + "0" * 31},
        {"status": "SHIPPING"},
        {"created_after": "yesterday"},
        {"created_after": "0.5"},
        {"created_before": "2026-01-01T04:00:00"},
        {"limit": "0"},
        {"limit": "101"},
        {"stauts": "PAID"},
    ],
    ids=str,
)
async def test_malformed_cursors_and_filters_are_422_problems(
    api: httpx.AsyncClient, auth: Auth, query: dict[str, str]
) -> None:
    response = await api.get("/orders", params=query, headers=auth())
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"]


@pytest.mark.parametrize(
    "query",
    [
        {"created_after": "0001-01-01T00:00:00+14:00"},
        {"created_before": "9999-12-31T23:59:59-23:59"},
    ],
    ids=str,
)
async def test_instants_beyond_the_databases_range_are_answered_not_500(
    api: httpx.AsyncClient, auth: Auth, query: dict[str, str]
) -> None:
    response = await api.get("/orders", params=query, headers=auth())
    assert response.status_code == 200


async def test_listing_needs_the_read_scope(api: httpx.AsyncClient, auth: Auth) -> None:
    response = await api.get("/orders", headers=auth(scopes=("orders:write",)))
    assert response.status_code == 403
