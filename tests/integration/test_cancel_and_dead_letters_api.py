"""Cancelling orders and working the dead-letter queue over HTTP, with demo retry policies."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError

from foundation.models import DeadLetter, Order, Product, WorkflowStart
from foundation.settings import Settings
from processes.devstack.ports import free_port
from tests.support import eventually, order_body
from workflows.contracts import ErrorType

pytestmark = pytest.mark.integration
Auth = Callable[..., dict[str, str]]
Sessions = async_sessionmaker[AsyncSession]
ADMIN = ("orders:write", "orders:read", "admin")


def _body(**overrides: Any) -> dict[str, Any]:
    body = order_body(items=[{"sku": "GIZMO-3", "quantity": 1}])
    body.update(overrides)
    return body


def _address(postal_code: str) -> dict[str, str]:
    return {
        "name": "Alice Example",
        "line1": "1 Main St",
        "city": "Springfield",
        "postal_code": postal_code,
        "country": "US",
    }


async def _place(api: httpx.AsyncClient, auth: Auth, **overrides: Any) -> dict[str, Any]:
    response = await api.post(
        "/orders", json=_body(**overrides), headers=auth(key=str(uuid.uuid4()))
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def _wait_for(
    api: httpx.AsyncClient, auth: Auth, order_id: str, status: str, timeout: float = 60
) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def reached() -> None:
        seen.update(
            (await api.get(f"/orders/{order_id}", headers=auth("alice", scopes=ADMIN))).json()
        )
        assert seen["status"] == status, seen["status"]

    await eventually(reached, timeout=timeout)
    return seen


async def test_completed_order_shows_its_whole_history(api: httpx.AsyncClient, auth: Auth) -> None:
    placed = await _place(api, auth)
    order = await _wait_for(api, auth, placed["id"], "COMPLETED")
    assert [(h["from_status"], h["to_status"]) for h in order["history"]] == [
        (None, "RECEIVED"),
        ("RECEIVED", "RESERVED"),
        ("RESERVED", "PAID"),
        ("PAID", "SHIPPED"),
        ("SHIPPED", "COMPLETED"),
    ]
    assert order["charge_id"] and order["tracking_number"]


async def test_order_whose_payment_always_fails_dead_letters_within_a_minute(
    api: httpx.AsyncClient, auth: Auth, temporal: Client
) -> None:
    started = time.monotonic()
    placed = await _place(api, auth, payment_method="tok_gateway_down")
    order = await _wait_for(api, auth, placed["id"], "FAILED", timeout=60)
    elapsed = time.monotonic() - started
    print(f"\n[demo profile] payment outage reached FAILED in {elapsed:.1f}s of wall time")

    assert elapsed < 60
    assert ErrorType.PAYMENT_GATEWAY_UNAVAILABLE in order["history"][-1]["reason"]
    # The order is marked FAILED just before the run itself fails, so wait for the run too.
    with pytest.raises(WorkflowFailureError):
        await temporal.get_workflow_handle(placed["workflow_id"]).result()
    description = await temporal.get_workflow_handle(placed["workflow_id"]).describe()
    assert description.status == WorkflowExecutionStatus.FAILED
    page = (await api.get("/dead-letters", headers=auth("ops", scopes=ADMIN))).json()
    [letter] = [d for d in page["items"] if d["order_id"] == placed["id"]]
    assert letter["failed_step"] == "charge_payment"
    assert letter["attempts"] == 5


async def test_dead_letters_need_the_admin_scope(api: httpx.AsyncClient, auth: Auth) -> None:
    response = await api.get("/dead-letters", headers=auth())
    assert response.status_code == 403


async def test_dead_letters_are_paged_oldest_first(
    api: httpx.AsyncClient, auth: Auth, sessions: Sessions
) -> None:
    placed = [await _place(api, auth, items=[{"sku": "SOLD-OUT", "quantity": 1}]) for _ in range(3)]
    for order in placed:
        await _wait_for(api, auth, order["id"], "FAILED")
    admin = auth("ops", scopes=ADMIN)

    first = (await api.get("/dead-letters", params={"limit": 2}, headers=admin)).json()
    rest = (
        await api.get(
            "/dead-letters", params={"limit": 2, "after": first["next_after"]}, headers=admin
        )
    ).json()

    assert len(first["items"]) == 2 and first["next_after"] is not None
    assert len(rest["items"]) == 1 and rest["next_after"] is None
    ids = [d["id"] for d in first["items"] + rest["items"]]
    assert ids == sorted(ids)
    assert {d["order_id"] for d in first["items"] + rest["items"]} == {o["id"] for o in placed}


async def test_redrive_after_restock_completes_the_order_and_resolves_the_letter(
    api: httpx.AsyncClient, auth: Auth, sessions: Sessions
) -> None:
    placed = await _place(api, auth, items=[{"sku": "SOLD-OUT", "quantity": 1}])
    await _wait_for(api, auth, placed["id"], "FAILED")
    admin = auth("ops", scopes=ADMIN)
    [letter] = (await api.get("/dead-letters", headers=admin)).json()["items"]
    async with sessions.begin() as session:
        await session.execute(update(Product).where(Product.sku == "SOLD-OUT").values(stock=1))

    response = await api.post(f"/dead-letters/{letter['id']}/redrive", headers=admin)
    assert response.status_code == 202
    await _wait_for(api, auth, placed["id"], "COMPLETED")

    assert (await api.get("/dead-letters", headers=admin)).json()["items"] == []
    again = await api.post(f"/dead-letters/{letter['id']}/redrive", headers=admin)
    assert again.status_code == 409
    async with sessions() as session:
        stored = await session.get(DeadLetter, letter["id"])
        assert stored is not None and stored.resolved_at is not None


async def test_redrive_of_an_unknown_dead_letter_is_404(api: httpx.AsyncClient, auth: Auth) -> None:
    response = await api.post("/dead-letters/999999/redrive", headers=auth("ops", scopes=ADMIN))
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_cancel_while_the_carrier_is_down_refunds_and_is_idempotent(
    api: httpx.AsyncClient, auth: Auth
) -> None:
    placed = await _place(api, auth, shipping_address=_address("00000"))
    await _wait_for(api, auth, placed["id"], "PAID")

    first = await api.post(
        f"/orders/{placed['id']}/cancel", json={"reason": "too slow"}, headers=auth()
    )
    second = await api.post(f"/orders/{placed['id']}/cancel", headers=auth())

    assert first.status_code == 200, first.text
    assert first.json()["status"] == "CANCELLED"
    assert first.json()["history"][-1]["reason"] == "too slow"
    assert second.status_code == 200 and second.json()["status"] == "CANCELLED"


async def test_cancel_of_a_completed_order_is_409(api: httpx.AsyncClient, auth: Auth) -> None:
    placed = await _place(api, auth)
    await _wait_for(api, auth, placed["id"], "COMPLETED")
    response = await api.post(f"/orders/{placed['id']}/cancel", headers=auth())
    assert response.status_code == 409
    assert response.json()["type"].endswith("/order-not-cancellable")


async def test_cancel_of_another_customers_order_is_404(api: httpx.AsyncClient, auth: Auth) -> None:
    placed = await _place(api, auth, shipping_address=_address("00000"))
    response = await api.post(f"/orders/{placed['id']}/cancel", headers=auth("mallory"))
    assert response.status_code == 404
    # The owner cancels, so no run outlives this test: once the relay has started the run (a
    # cancel before that is 409 order-busy, to be retried), and while the carrier holds it.
    await _wait_for(api, auth, placed["id"], "PAID")
    assert (await api.post(f"/orders/{placed['id']}/cancel", headers=auth())).status_code == 200


@pytest.mark.parametrize("query", [{"after": 2**63}, {"limit": 0}, {"limit": 101}])
async def test_out_of_range_paging_is_422_not_a_database_error(
    api: httpx.AsyncClient, auth: Auth, query: dict[str, int]
) -> None:
    response = await api.get("/dead-letters", params=query, headers=auth("ops", scopes=ADMIN))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_redrive_of_an_out_of_range_id_is_422(api: httpx.AsyncClient, auth: Auth) -> None:
    response = await api.post(f"/dead-letters/{2**63}/redrive", headers=auth("ops", scopes=ADMIN))
    assert response.status_code == 422


async def test_cancel_that_outlasts_the_wait_is_202_and_the_order_still_ends_cancelled(
    api: httpx.AsyncClient,
    auth: Auth,
    settings: Settings,
    serve_app: Callable[[Settings], AsyncIterator[httpx.AsyncClient]],
) -> None:
    placed = await _place(api, auth, shipping_address=_address("00000"))
    await _wait_for(api, auth, placed["id"], "PAID")
    impatient = settings.model_copy(update={"cancel_wait_seconds": 0.5})
    async with httpx.AsyncClient(base_url=str(settings.payment_gateway_url)) as gateway:
        # Refunds fail while the gateway is down, so compensation outlasts the short wait.
        await gateway.put("/faults", json={"error_rate": 1.0, "latency_ms": 0})
        try:
            async for short_wait_api in serve_app(impatient):
                response = await short_wait_api.post(
                    f"/orders/{placed['id']}/cancel", headers=auth()
                )
        finally:
            await gateway.put("/faults", json={"error_rate": 0.0, "latency_ms": 0})

    assert response.status_code == 202, response.text
    assert response.json()["id"] == placed["id"]
    assert response.headers["Location"] == f"/orders/{placed['id']}"
    assert int(response.headers["Retry-After"]) >= 1
    await _wait_for(api, auth, placed["id"], "CANCELLED")


async def test_redrive_while_temporal_is_unreachable_is_503_and_the_relay_starts_it(
    api: httpx.AsyncClient,
    auth: Auth,
    settings: Settings,
    sessions: Sessions,
    temporal: Client,
    serve_app: Callable[[Settings], AsyncIterator[httpx.AsyncClient]],
) -> None:
    placed = await _place(api, auth, items=[{"sku": "SOLD-OUT", "quantity": 1}])
    await _wait_for(api, auth, placed["id"], "FAILED")
    admin = auth("ops", scopes=ADMIN)
    [letter] = (await api.get("/dead-letters", headers=admin)).json()["items"]
    async with sessions.begin() as session:
        await session.execute(update(Product).where(Product.sku == "SOLD-OUT").values(stock=1))

    nothing_listens = settings.model_copy(update={"temporal_address": f"127.0.0.1:{free_port()}"})
    async for outage in serve_app(nothing_listens):
        response = await outage.post(f"/dead-letters/{letter['id']}/redrive", headers=admin)

    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["Retry-After"]) > 0
    # The redrive is recorded with its pending start: the relay (on the reachable Temporal)
    # starts it, and the order completes this time.
    await _wait_for(api, auth, placed["id"], "COMPLETED")
    async with sessions() as session:
        assert await session.scalar(select(func.count(WorkflowStart.id))) == 0
        order = await session.get(Order, uuid.UUID(placed["id"]))
    assert order is not None and order.workflow_started_at is not None


async def test_cancel_while_temporal_is_unreachable_is_503_not_an_accepted_cancel(
    api: httpx.AsyncClient,
    auth: Auth,
    settings: Settings,
    temporal: Client,
    serve_app: Callable[[Settings], AsyncIterator[httpx.AsyncClient]],
) -> None:
    placed = await _place(api, auth, shipping_address=_address("00000"))
    await _wait_for(api, auth, placed["id"], "PAID")

    nothing_listens = settings.model_copy(update={"temporal_address": f"127.0.0.1:{free_port()}"})
    async for outage in serve_app(nothing_listens):
        response = await outage.post(f"/orders/{placed['id']}/cancel", headers=auth())

    assert response.status_code == 503
    assert response.json()["type"].endswith("temporal-unavailable")
    assert int(response.headers["Retry-After"]) > 0
    # Nothing reached the workflow: a cancel once Temporal answers again still works.
    retried = await api.post(f"/orders/{placed['id']}/cancel", headers=auth())
    assert retried.status_code == 200 and retried.json()["status"] == "CANCELLED"
