"""GET /orders stays one index range scan at any depth, over 50,000 orders.

A module of its own: its fill is analysed once and held in one open transaction for every case,
and ANALYZE's lock lasts as long as that transaction, so no other query-plan test (each runs its
own ANALYZE) may run while it is open.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, async_sessionmaker
from temporalio.client import Client

from api.orders.cursor import PagePosition
from api.orders.repository import OrderFilter
from api.orders.service import OrderService
from api.orders.start_backlog import StartBacklog
from foundation.domain import OrderStatus
from foundation.settings import Settings
from tests.integration.test_query_plans import explain, recording

pytestmark = pytest.mark.integration

# GET /orders, at scale: one customer with most of the orders, so a deep page is really deep.
LISTED_ORDERS = 50_000
BIG_CUSTOMER_ORDERS = 40_000
DEEP = 30_000  # how many of the big customer's orders lie before the deep page
FAILED_EVERY = 20
LIST_FILL = [
    f"""
    INSERT INTO orders (id, customer_id, idempotency_key, key_generation, status, currency,
                        total_amount, payment_method, shipping_address, workflow_id,
                        workflow_started_at, created_at, updated_at)
    SELECT md5('list-order-' || n)::uuid,
           CASE WHEN n <= {BIG_CUSTOMER_ORDERS} THEN 'big' ELSE 'customer-' || (n % 100) END,
           'list-key-' || n, 1,
           CASE WHEN n % {FAILED_EVERY} = 0 THEN 'FAILED' ELSE 'COMPLETED' END,
           'USD', 1999, 'tok_visa', '{{}}'::jsonb, 'order-list-' || n, created, created, created
    FROM generate_series(1, {LISTED_ORDERS}) AS n,
         LATERAL (SELECT now() - n * interval '1 minute') AS t(created)
    """,
    "ANALYZE orders",
]


@dataclass(frozen=True)
class ListCase:
    deep: bool
    statuses: frozenset[OrderStatus] = frozenset()
    placed_within_days: int | None = None


LIST_CASES = {
    "first page": ListCase(deep=False),
    "deep page": ListCase(deep=True),
    "first page of failed orders": ListCase(deep=False, statuses=frozenset({OrderStatus.FAILED})),
    "deep page of failed orders": ListCase(deep=True, statuses=frozenset({OrderStatus.FAILED})),
    "deep page within a date range": ListCase(deep=True, placed_within_days=40),
}


@pytest.fixture(scope="module")
async def listed_orders(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """The 50,000 orders, inserted and analysed once for every case, rolled back after the last.

    Their ids, keys and workflow ids are their own, so the other tests' fills never wait on them.
    """
    async with engine.connect() as conn:
        transaction = await conn.begin()
        try:
            for statement in LIST_FILL:
                await conn.execute(text(statement))
            yield conn
        finally:
            await transaction.rollback()


@pytest.mark.parametrize("case", LIST_CASES.values(), ids=LIST_CASES.keys())
async def test_a_page_of_a_customers_orders_is_one_index_range_scan(
    engine: AsyncEngine,
    listed_orders: AsyncConnection,
    settings: Settings,
    temporal: Client,
    case: ListCase,
) -> None:
    conn = listed_orders
    sessions = async_sessionmaker(
        bind=conn, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )
    after = None
    if case.deep:
        row = (
            await conn.execute(
                text(
                    "SELECT created_at, id FROM orders WHERE customer_id = 'big'"
                    f" ORDER BY created_at DESC, id DESC OFFSET {DEEP - 1} LIMIT 1"
                )
            )
        ).one()
        after = PagePosition(row.created_at, row.id)
    now = datetime.now(UTC)
    where = OrderFilter(
        customer_id="big",
        statuses=case.statuses,
        created_after=now - timedelta(days=case.placed_within_days)
        if case.placed_within_days
        else None,
        created_before=now if case.placed_within_days else None,
    )
    with recording(engine) as log:
        backlog = StartBacklog(sessions, bound=1, refresh_seconds=1.0)
        service = OrderService(settings, sessions, temporal, backlog)
        items, end = await service.page(where, after, 20)
    assert len(items) == 20 and end is not None

    plan = await explain(conn, log.one("FROM orders"))
    # Limit over one Index Scan: no sort, no bitmap, no second pass, at any depth.
    assert plan.root["Node Type"] == "Limit", plan.root
    (scan,) = plan.root["Plans"]
    assert scan["Node Type"] == "Index Scan", plan.root
    assert scan["Index Name"] == "ix_orders_customer_newest_first"
    assert [n["Node Type"] for n in plan.nodes()] == ["Limit", "Index Scan"]
    bounds = scan["Index Cond"]
    assert "customer_id" in bounds
    if case.deep:
        # The keyset is a bound of the range, not a filter over rows read from the start.
        assert "ROW(created_at, id) <" in bounds, bounds
    # A status filter is not in the index: it is checked on the rows the scan reads.
    if case.statuses:
        assert "status" in scan["Filter"]
    else:
        assert "Filter" not in scan, scan
