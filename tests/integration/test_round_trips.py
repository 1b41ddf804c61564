"""The hot read paths cost one statement each: a round trip saved there is saved per request.

psycopg sends BEGIN before the first statement of a connection that is not in autocommit mode,
and the session's end sends ROLLBACK, so "one statement, autocommit" is one round trip.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from tests.support import order_body

pytestmark = pytest.mark.integration
Auth = Callable[..., dict[str, str]]
# The tables a request for an order reads; other statements (none expected) are not its own.
ORDER_TABLES = ("idempotency_keys", "orders", "order_items", "order_status_changes")


@contextmanager
def statements_on_order_tables(
    autocommit: list[bool] | None = None,
) -> Iterator[list[str]]:
    """The statements sent on the order tables, and (if asked) whether each went in autocommit."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        statement = str(args[2])
        if any(table in statement for table in ORDER_TABLES):
            seen.append(statement)
            if autocommit is not None:
                autocommit.append(bool(args[0].connection.driver_connection.autocommit))

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", record)


async def test_an_order_with_its_items_and_history_is_read_in_one_statement(
    api: httpx.AsyncClient, auth: Auth
) -> None:
    placed = await api.post("/orders", json=order_body(), headers=auth(key="one-read"))
    assert placed.status_code == 201
    with statements_on_order_tables() as seen:
        response = await api.get(f"/orders/{placed.json()['id']}", headers=auth())
    assert response.status_code == 200
    assert len(response.json()["items"]) == 2 and response.json()["history"]
    assert len(seen) == 1, seen


async def test_a_replay_is_answered_by_one_statement(api: httpx.AsyncClient, auth: Auth) -> None:
    first = await api.post("/orders", json=order_body(), headers=auth(key="one-replay"))
    assert first.status_code == 201
    with statements_on_order_tables() as seen:
        again = await api.post("/orders", json=order_body(), headers=auth(key="one-replay"))
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert len(seen) == 1, seen


async def test_reading_an_order_sends_no_begin_or_rollback(
    api: httpx.AsyncClient, auth: Auth
) -> None:
    placed = await api.post("/orders", json=order_body(), headers=auth(key="no-transaction"))
    assert placed.status_code == 201
    autocommit: list[bool] = []
    with statements_on_order_tables(autocommit):
        response = await api.get(f"/orders/{placed.json()['id']}", headers=auth())
    assert response.status_code == 200
    assert autocommit == [True]


async def test_listing_orders_sends_no_begin_or_rollback(
    api: httpx.AsyncClient, auth: Auth
) -> None:
    placed = await api.post("/orders", json=order_body(), headers=auth(key="no-transaction-list"))
    assert placed.status_code == 201
    autocommit: list[bool] = []
    with statements_on_order_tables(autocommit):
        response = await api.get("/orders", headers=auth())
    assert response.status_code == 200 and response.json()["items"]
    assert autocommit == [True]


async def test_an_order_read_back_shows_what_its_creation_answered(
    api: httpx.AsyncClient, auth: Auth
) -> None:
    placed = await api.post("/orders", json=order_body(), headers=auth(key="read-back"))
    assert placed.status_code == 201
    read = await api.get(f"/orders/{placed.json()['id']}", headers=auth())
    assert read.status_code == 200
    created, shown = placed.json(), read.json()
    # Fulfilment may have moved on since; what the order was when accepted does not change.
    unchanged = ("id", "items", "total", "currency", "workflow_id", "created_at")
    assert {k: shown[k] for k in unchanged} == {k: created[k] for k in unchanged}
    assert shown["history"][0] == created["history"][0]
