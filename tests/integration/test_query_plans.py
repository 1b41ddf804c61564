"""The common queries use their indexes: EXPLAIN of the statements the code really sends.

Each test fills the tables with a few thousand rows shaped like a live system (most orders
started, most keys unexpired, most dead letters resolved), runs ANALYZE, then calls the real
service, repository or sweep, records the SQL it sent, and EXPLAINs that exact statement with
its parameters. All of it happens in one transaction that is rolled back.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.client import Client

from api.dead_letters.service import DeadLetterService
from api.idempotency.repository import IdempotencyRepository, Mismatch
from api.metrics import refresh_backlog
from api.orders.service import OrderService
from api.orders.start_backlog import StartBacklog
from foundation.settings import Settings
from processes.key_purge import purge_expired_keys

pytestmark = pytest.mark.integration

ORDERS = 5000
CUSTOMERS = 500
UNSTARTED = 20  # the newest orders, whose workflow start is not confirmed yet
DEAD_LETTERS = 2000
UNRESOLVED_EVERY = 100  # one dead letter in a hundred still waits for an operator
EXPIRED_EVERY = 100  # one key in a hundred is past its retention
INDEX_SCANS = frozenset({"Index Scan", "Index Only Scan", "Bitmap Index Scan"})


def _order_uuid(n: int) -> str:
    return "md5('plan-order-' || " + str(n) + ")::uuid"


# One statement per table, so filling stays well under a second. Order n belongs to
# customer-(n % CUSTOMERS) and was placed under key-n; md5 gives stable, well-spread UUIDs.
FILL = [
    f"""
    INSERT INTO orders (id, customer_id, idempotency_key, key_generation, status, currency,
                        total_amount, payment_method, shipping_address, workflow_id,
                        workflow_started_at, created_at, updated_at)
    SELECT md5('plan-order-' || n)::uuid, 'customer-' || (n % {CUSTOMERS}), 'key-' || n, 1,
           'COMPLETED', 'USD', 1999, 'tok_visa', '{{}}'::jsonb, 'order-plan-' || n,
           CASE WHEN n > {ORDERS - UNSTARTED} THEN NULL ELSE created END, created, created
    FROM generate_series(1, {ORDERS}) AS n,
         LATERAL (SELECT CASE WHEN n > {ORDERS - UNSTARTED}
                              THEN now() - ({ORDERS} - n) * interval '1 second'
                              ELSE now() - ({ORDERS} - n) * interval '10 minutes' END) AS t(created)
    """,
    f"""
    INSERT INTO order_items (order_id, sku, quantity, unit_price, line_total)
    SELECT md5('plan-order-' || n)::uuid, sku, 1, 1999, 1999
    FROM generate_series(1, {ORDERS}) AS n, unnest(ARRAY['WIDGET-1', 'GIZMO-3']) AS sku
    """,
    f"""
    INSERT INTO order_status_history (order_id, from_status, to_status, reason, transition_id)
    SELECT md5('plan-order-' || n)::uuid, NULL, 'RECEIVED', 'plan', 'plan-' || n || '-' || step
    FROM generate_series(1, {ORDERS}) AS n, generate_series(1, 4) AS step
    """,
    f"""
    INSERT INTO idempotency_keys (principal, key, generation, fingerprint, state, locked_until,
                                  response_status, response_body, response_location, order_id,
                                  expires_at)
    SELECT 'customer-' || (n % {CUSTOMERS}), 'key-' || n, 1, md5('body-' || n), 'completed',
           now(), 201, '{{}}'::jsonb, '/orders/x', md5('plan-order-' || n)::uuid,
           CASE WHEN n % {EXPIRED_EVERY} = 0 THEN now() - interval '1 hour'
                ELSE now() + interval '1 day' END
    FROM generate_series(1, {ORDERS}) AS n
    """,
    f"""
    INSERT INTO dead_letters (order_id, workflow_id, run_id, failed_step, error_type,
                              error_message, attempts, step_input, failed_at, resolved_at)
    SELECT md5('plan-order-' || n)::uuid, 'order-plan-' || n, 'plan-run-' || n, 'charge',
           'PaymentDeclined', 'declined', 5, '{{}}'::jsonb, now() - n * interval '1 minute',
           CASE WHEN n % {UNRESOLVED_EVERY} = 0 THEN NULL ELSE now() END
    FROM generate_series(1, {DEAD_LETTERS}) AS n
    """,
    "ANALYZE orders, order_items, order_status_history, idempotency_keys, dead_letters",
]


@dataclass
class SentStatements:
    """The SQL a call really sent, with its parameters, as the driver got it."""

    sent: list[tuple[str, Any]] = field(default_factory=list)

    def one(self, *fragments: str) -> tuple[str, Any]:
        found = [s for s in self.sent if all(f in s[0] for f in fragments)]
        assert len(found) == 1, f"expected one statement with {fragments}, got {found}"
        return found[0]


@contextmanager
def recording(engine: AsyncEngine) -> Iterator[SentStatements]:
    log = SentStatements()

    def record(_conn: object, _cursor: object, statement: str, parameters: Any, *_: object) -> None:
        log.sent.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield log
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


@dataclass(frozen=True)
class Plan:
    root: dict[str, Any]

    def nodes(self) -> Iterator[dict[str, Any]]:
        stack = [self.root]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(node.get("Plans", []))

    def index_scans(self) -> set[str]:
        return {n["Index Name"] for n in self.nodes() if n["Node Type"] in INDEX_SCANS}

    def seq_scanned(self) -> set[str]:
        return {n["Relation Name"] for n in self.nodes() if n["Node Type"] == "Seq Scan"}

    def assert_uses(self, index: str, *, not_seq_scanned: str) -> None:
        assert index in self.index_scans(), f"{index} unused in plan:\n{self.root}"
        assert not_seq_scanned not in self.seq_scanned(), f"seq scan in plan:\n{self.root}"


@pytest.fixture
async def connection(db_session: AsyncSession) -> AsyncIterator[AsyncConnection]:
    """The rolled-back transaction's connection, filled and analysed."""
    conn = await db_session.connection()
    for statement in FILL:
        await conn.execute(text(statement))
    yield conn


@pytest.fixture
def bound_sessions(connection: AsyncConnection) -> async_sessionmaker[AsyncSession]:
    """What the services take, bound to the rolled-back transaction (savepoints inside it)."""
    return async_sessionmaker(
        bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )


async def explain(connection: AsyncConnection, sent: tuple[str, Any]) -> Plan:
    statement, parameters = sent
    result = await connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", parameters)
    document = result.scalar_one()
    return Plan(document[0]["Plan"])


async def order_id_of(connection: AsyncConnection, n: int) -> uuid.UUID:
    found = await connection.scalar(text(f"SELECT {_order_uuid(n)}"))
    assert isinstance(found, uuid.UUID)
    return found


def _backlog(sessions: async_sessionmaker[AsyncSession]) -> StartBacklog:
    return StartBacklog(sessions, bound=1, refresh_seconds=1.0)


async def _read_order(
    engine: AsyncEngine,
    connection: AsyncConnection,
    bound_sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    temporal: Client,
) -> SentStatements:
    order_id = await order_id_of(connection, 1234)
    with recording(engine) as log:
        order = await OrderService(
            settings, bound_sessions, temporal, _backlog(bound_sessions)
        ).get(order_id, f"customer-{1234 % CUSTOMERS}", is_admin=False)
    assert order is not None and len(order.items) == 2 and len(order.history) == 4
    return log


async def test_order_by_id_and_customer(
    engine: AsyncEngine,
    connection: AsyncConnection,
    bound_sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    temporal: Client,
) -> None:
    log = await _read_order(engine, connection, bound_sessions, settings, temporal)
    plan = await explain(connection, log.one("FROM orders", "orders.customer_id"))
    plan.assert_uses("pk_orders", not_seq_scanned="orders")


async def test_order_items_by_order_id(
    engine: AsyncEngine,
    connection: AsyncConnection,
    bound_sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    temporal: Client,
) -> None:
    log = await _read_order(engine, connection, bound_sessions, settings, temporal)
    plan = await explain(connection, log.one("JOIN order_items"))
    plan.assert_uses("ix_order_items_order_id", not_seq_scanned="order_items")


async def test_order_history_by_order_id(
    engine: AsyncEngine,
    connection: AsyncConnection,
    bound_sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    temporal: Client,
) -> None:
    log = await _read_order(engine, connection, bound_sessions, settings, temporal)
    plan = await explain(connection, log.one("JOIN order_status_history"))
    plan.assert_uses("ix_order_status_history_order_id", not_seq_scanned="order_status_history")


async def _claim_a_used_key(
    engine: AsyncEngine, bound_sessions: async_sessionmaker[AsyncSession]
) -> SentStatements:
    n = 1234
    with recording(engine) as log:
        async with bound_sessions.begin() as session:
            repo = IdempotencyRepository(
                session, retention=timedelta(hours=24), lease=timedelta(seconds=30)
            )
            outcome = await repo.claim(f"customer-{n % CUSTOMERS}", f"key-{n}", "fingerprint")
    # The claim found the key taken and read it in the same statement, as it stood.
    assert isinstance(outcome, Mismatch)
    return log


async def test_idempotency_key_by_principal_and_key(
    engine: AsyncEngine,
    connection: AsyncConnection,
    bound_sessions: async_sessionmaker[AsyncSession],
) -> None:
    log = await _claim_a_used_key(engine, bound_sessions)
    plan = await explain(connection, log.one("SELECT", "FROM idempotency_keys"))
    plan.assert_uses("uq_idempotency_keys_principal_key", not_seq_scanned="idempotency_keys")


async def test_claim_next_key_generation(
    engine: AsyncEngine,
    connection: AsyncConnection,
    bound_sessions: async_sessionmaker[AsyncSession],
) -> None:
    log = await _claim_a_used_key(engine, bound_sessions)
    plan = await explain(connection, log.one("INSERT INTO idempotency_keys"))
    plan.assert_uses(
        "uq_orders_customer_id_idempotency_key_key_generation", not_seq_scanned="orders"
    )


async def test_unresolved_dead_letters_page(
    engine: AsyncEngine,
    connection: AsyncConnection,
    bound_sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    temporal: Client,
) -> None:
    with recording(engine) as log:
        page = await DeadLetterService(settings, bound_sessions, temporal).page(after=0, limit=20)
    assert len(page.items) == 20 and page.next_after is None
    plan = await explain(connection, log.one("FROM dead_letters"))
    plan.assert_uses("ix_dead_letters_unresolved", not_seq_scanned="dead_letters")
    sorts = [n for n in plan.nodes() if n["Node Type"] == "Sort"]
    assert not sorts, f"the page is sorted, not read in index order:\n{plan.root}"


async def test_expired_keys_purge(
    engine: AsyncEngine,
    connection: AsyncConnection,
    bound_sessions: async_sessionmaker[AsyncSession],
) -> None:
    with recording(engine) as log:
        assert await purge_expired_keys(bound_sessions) == ORDERS // EXPIRED_EVERY
    plan = await explain(connection, log.one("DELETE FROM idempotency_keys"))
    plan.assert_uses("ix_idempotency_keys_expires_at", not_seq_scanned="idempotency_keys")


async def test_scrape_time_backlog_and_dead_letter_gauges(
    engine: AsyncEngine,
    connection: AsyncConnection,
    bound_sessions: async_sessionmaker[AsyncSession],
) -> None:
    # Run on every Prometheus scrape of every API replica, so it must stay off the big tables.
    with recording(engine) as log:
        await refresh_backlog(bound_sessions)
    unstarted = await explain(connection, log.one("FROM orders", "workflow_started_at IS NULL"))
    unstarted.assert_uses("ix_orders_workflow_not_started", not_seq_scanned="orders")
    unresolved = await explain(connection, log.one("FROM dead_letters", "resolved_at IS NULL"))
    unresolved.assert_uses("ix_dead_letters_unresolved", not_seq_scanned="dead_letters")
