"""The hot paths cost as few round trips as they can: one saved there is saved per request.

psycopg sends BEGIN before the first statement on a connection that is not in autocommit mode,
and the end of the session sends ROLLBACK or COMMIT; on an autocommit connection a statement is
one round trip and nothing more.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support import order_body

pytestmark = pytest.mark.integration
Auth = Callable[..., dict[str, str]]
# The tables a request for an order touches; other statements are not its own.
ORDER_TABLES = (
    "idempotency_keys",
    "orders",
    "order_items",
    "order_status_history",
    "workflow_starts",
    "products",
)

# The API's backlog count (api/orders/start_backlog.py), once a second in the background: it
# may fall inside a request's window, but it is no request's statement.
BACKLOG_COUNT = "SELECT count(workflow_starts.id)"


@dataclass
class Transaction:
    statements: list[str] = field(default_factory=list)
    committed: bool = False
    # Per statement: whether its connection was in autocommit mode (no BEGIN sent for it).
    autocommit: list[bool] = field(default_factory=list)


@dataclass
class Seen:
    transactions: list[Transaction] = field(default_factory=list)

    @property
    def statements(self) -> list[str]:
        return [s for t in self.transactions for s in t.statements]

    def touching_orders(self) -> list[Transaction]:
        return [
            t
            for t in self.transactions
            if any(table in s for s in t.statements for table in ORDER_TABLES)
            and not any(s.startswith(BACKLOG_COUNT) for s in t.statements)
        ]


@contextmanager
def the_apps_transactions(other: AsyncEngine) -> Iterator[Seen]:
    """Every transaction (BEGIN to COMMIT or ROLLBACK) and statement of the app's own engine:
    `other`, the engine the worker and the relay of the test session share, is left out."""
    seen = Seen()
    open_: dict[int, Transaction] = {}

    def own(connection: Connection) -> bool:
        return connection.engine is not other.sync_engine

    def begin(connection: Connection) -> None:
        if own(connection):
            open_[id(connection)] = transaction = Transaction()
            seen.transactions.append(transaction)

    def statement(connection: Connection, *args: Any) -> None:
        if own(connection) and id(connection) in open_:
            open_[id(connection)].statements.append(str(args[1]))
            driver = connection.connection.driver_connection
            open_[id(connection)].autocommit.append(bool(getattr(driver, "autocommit", False)))

    def commit(connection: Connection) -> None:
        if own(connection) and id(connection) in open_:
            open_.pop(id(connection)).committed = True

    def rollback(connection: Connection) -> None:
        if own(connection):
            open_.pop(id(connection), None)

    listeners = [
        ("begin", begin),
        ("before_cursor_execute", statement),
        ("commit", commit),
        ("rollback", rollback),
    ]
    for name, listener in listeners:
        event.listen(Engine, name, listener)
    try:
        yield seen
    finally:
        for name, listener in listeners:
            event.remove(Engine, name, listener)


@contextmanager
def this_tasks_statements(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, bool]]]:
    """Every statement the driver sends on behalf of the calling task, through any pool, with
    whether its connection was in autocommit mode. The in-process app serves a request in the
    task that sent it; the worker, the relay and the backlog count run in tasks of their own."""
    sent: list[tuple[str, bool]] = []
    task = asyncio.current_task()
    execute = psycopg.AsyncCursor.execute

    async def recording(cursor: psycopg.AsyncCursor[Any], query: Any, *args: Any, **kw: Any) -> Any:
        if asyncio.current_task() is task:
            sent.append((str(query), cursor.connection.autocommit))
        return await execute(cursor, query, *args, **kw)

    monkeypatch.setattr(psycopg.AsyncCursor, "execute", recording)
    yield sent
    monkeypatch.setattr(psycopg.AsyncCursor, "execute", execute)


async def test_a_new_order_is_one_transaction_of_three_statements(
    api: httpx.AsyncClient, auth: Auth, engine: AsyncEngine
) -> None:
    with the_apps_transactions(engine) as seen:
        placed = await api.post("/orders", json=order_body(), headers=auth(key="one-commit"))
    assert placed.status_code == 201
    (accepting,) = seen.touching_orders()
    assert accepting.committed
    # The key's claim, the catalog's prices, and one statement writing everything else.
    claim, prices, writes = accepting.statements
    assert "idempotency_keys" in claim and "products" in prices
    for table in ("orders", "order_items", "order_status_history", "workflow_starts"):
        assert f"INSERT INTO {table}" in writes
    assert "UPDATE idempotency_keys" in writes


async def test_an_order_with_its_items_and_history_is_read_in_one_statement(
    api: httpx.AsyncClient, auth: Auth, monkeypatch: pytest.MonkeyPatch
) -> None:
    placed = await api.post("/orders", json=order_body(), headers=auth(key="one-read"))
    assert placed.status_code == 201
    with this_tasks_statements(monkeypatch) as sent:
        response = await api.get(f"/orders/{placed.json()['id']}", headers=auth())
    assert response.status_code == 200
    assert len(response.json()["items"]) == 2 and response.json()["history"]
    assert len(sent) == 1, sent


async def test_a_replay_is_answered_by_one_statement_outside_any_transaction(
    api: httpx.AsyncClient, auth: Auth, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = await api.post("/orders", json=order_body(), headers=auth(key="one-replay"))
    assert first.status_code == 201
    with this_tasks_statements(monkeypatch) as sent:
        again = await api.post("/orders", json=order_body(), headers=auth(key="one-replay"))
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert [autocommit for _, autocommit in sent] == [True], sent


async def test_a_new_order_looks_up_its_key_once_before_its_transaction(
    api: httpx.AsyncClient, auth: Auth, monkeypatch: pytest.MonkeyPatch
) -> None:
    with this_tasks_statements(monkeypatch) as sent:
        placed = await api.post("/orders", json=order_body(), headers=auth(key="look-up-once"))
    assert placed.status_code == 201
    # The lookup of a stored answer, then the claim, the prices and the writes in one transaction.
    assert [autocommit for _, autocommit in sent] == [True, False, False, False], sent
    assert "idempotency_keys" in sent[0][0]


async def test_reading_an_order_sends_no_begin_or_rollback(
    api: httpx.AsyncClient, auth: Auth, monkeypatch: pytest.MonkeyPatch
) -> None:
    placed = await api.post("/orders", json=order_body(), headers=auth(key="no-transaction"))
    assert placed.status_code == 201
    with this_tasks_statements(monkeypatch) as sent:
        response = await api.get(f"/orders/{placed.json()['id']}", headers=auth())
    assert response.status_code == 200
    assert [autocommit for _, autocommit in sent] == [True]


async def test_listing_orders_sends_no_begin_or_rollback(
    api: httpx.AsyncClient, auth: Auth, engine: AsyncEngine
) -> None:
    placed = await api.post("/orders", json=order_body(), headers=auth(key="no-transaction-list"))
    assert placed.status_code == 201
    with the_apps_transactions(engine) as seen:
        response = await api.get("/orders", headers=auth())
    assert response.status_code == 200 and response.json()["items"]
    (listing,) = seen.touching_orders()
    assert listing.autocommit == [True]


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
