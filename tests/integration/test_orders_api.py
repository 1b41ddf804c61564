"""Placing and reading orders over HTTP, on real PostgreSQL and a real Temporal server."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from foundation.models import IdempotencyKey, Order
from tests.support import order_body

pytestmark = pytest.mark.integration
Auth = Callable[..., dict[str, str]]


async def _count(sessions: async_sessionmaker[AsyncSession], model: type) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_catalog_lists_the_seeded_products(api: httpx.AsyncClient) -> None:
    response = await api.get("/products")
    assert response.status_code == 200
    skus = {p["sku"] for p in response.json()}
    assert {"WIDGET-1", "GADGET-2", "GIZMO-3"} <= skus
    widget = next(p for p in response.json() if p["sku"] == "WIDGET-1")
    assert widget["unit_price"] == 1999 and widget["currency"] == "USD"


async def test_placing_an_order_returns_201_with_location_and_catalog_prices(
    api: httpx.AsyncClient, auth: Auth
) -> None:
    response = await api.post("/orders", json=order_body(), headers=auth(key="place-1"))
    assert response.status_code == 201
    order = response.json()
    assert response.headers["Location"] == f"/orders/{order['id']}"
    assert "Idempotent-Replayed" not in response.headers
    assert order["status"] == "RECEIVED"
    assert order["currency"] == "USD"
    assert order["items"] == [
        {"sku": "WIDGET-1", "quantity": 2, "unit_price": 1999, "line_total": 3998},
        {"sku": "GIZMO-3", "quantity": 1, "unit_price": 999, "line_total": 999},
    ]
    assert order["total"] == 4997
    assert order["workflow_id"].startswith("order-")


async def test_client_supplied_prices_are_rejected_not_trusted(
    api: httpx.AsyncClient, auth: Auth
) -> None:
    body = order_body(items=[{"sku": "WIDGET-1", "quantity": 1, "unit_price": 1}])
    response = await api.post("/orders", json=body, headers=auth(key="price-1"))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_unknown_sku_is_422_and_stores_nothing(
    api: httpx.AsyncClient, auth: Auth, sessions: async_sessionmaker[AsyncSession]
) -> None:
    body = order_body(items=[{"sku": "NO-SUCH-THING", "quantity": 1}])
    response = await api.post("/orders", json=body, headers=auth(key="unknown-sku"))
    assert response.status_code == 422
    problem = response.json()
    assert problem["type"].endswith("/unknown-sku")
    assert problem["errors"] == [
        {"pointer": "/body/items/0/sku", "detail": "unknown sku 'NO-SUCH-THING'"}
    ]
    assert await _count(sessions, Order) == 0
    assert await _count(sessions, IdempotencyKey) == 0


async def test_invalid_body_is_422_problem_with_json_pointers_and_stores_nothing(
    api: httpx.AsyncClient, auth: Auth, sessions: async_sessionmaker[AsyncSession]
) -> None:
    body = order_body(items=[{"sku": "WIDGET-1", "quantity": 0}], currency="XXX")
    response = await api.post("/orders", json=body, headers=auth(key="invalid-body"))
    assert response.status_code == 422
    pointers = {e["pointer"] for e in response.json()["errors"]}
    assert {"/body/items/0/quantity", "/body/currency"} <= pointers
    assert await _count(sessions, IdempotencyKey) == 0


async def test_owner_reads_their_order(api: httpx.AsyncClient, auth: Auth) -> None:
    placed = (await api.post("/orders", json=order_body(), headers=auth(key="read-1"))).json()
    response = await api.get(f"/orders/{placed['id']}", headers=auth())
    assert response.status_code == 200
    assert response.json()["id"] == placed["id"]


async def test_another_customers_order_is_404(api: httpx.AsyncClient, auth: Auth) -> None:
    placed = (await api.post("/orders", json=order_body(), headers=auth(key="mine"))).json()
    response = await api.get(f"/orders/{placed['id']}", headers=auth("mallory"))
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_another_customers_order_answers_exactly_like_a_missing_one(
    api: httpx.AsyncClient, auth: Auth
) -> None:
    placed = (await api.post("/orders", json=order_body(), headers=auth(key="probe"))).json()
    theirs = (await api.get(f"/orders/{placed['id']}", headers=auth("mallory"))).json()
    missing = (await api.get(f"/orders/{uuid.uuid4()}", headers=auth("mallory"))).json()
    del theirs["instance"], missing["instance"]
    assert theirs == missing


async def test_admin_reads_any_customers_order(api: httpx.AsyncClient, auth: Auth) -> None:
    placed = (await api.post("/orders", json=order_body(), headers=auth(key="any"))).json()
    admin = auth("ops", scopes=("orders:read", "admin"))
    assert (await api.get(f"/orders/{placed['id']}", headers=admin)).status_code == 200


@pytest.mark.parametrize("order_id", ["3f1c2b9e-0000-4000-8000-000000000000", "not-a-uuid"])
async def test_unknown_or_malformed_order_id_is_404(
    api: httpx.AsyncClient, auth: Auth, order_id: str
) -> None:
    response = await api.get(f"/orders/{order_id}", headers=auth())
    assert response.status_code == 404
    assert response.json()["status"] == 404


async def test_missing_token_is_401_with_bearer_challenge(api: httpx.AsyncClient) -> None:
    response = await api.post("/orders", json=order_body(), headers={"Idempotency-Key": "k"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.headers["content-type"] == "application/problem+json"


async def test_token_without_write_scope_is_403(
    api: httpx.AsyncClient, auth: Auth, sessions: async_sessionmaker[AsyncSession]
) -> None:
    headers = auth(key="read-only", scopes=("orders:read",))
    response = await api.post("/orders", json=order_body(), headers=headers)
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
    assert await _count(sessions, IdempotencyKey) == 0
