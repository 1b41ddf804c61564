"""The hot read paths cost one statement each: a round trip saved there is saved per request."""

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
def statements_on_order_tables() -> Iterator[list[str]]:
    seen: list[str] = []

    def record(*args: Any) -> None:
        statement = str(args[2])
        if any(table in statement for table in ORDER_TABLES):
            seen.append(statement)

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
