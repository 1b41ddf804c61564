"""Benchmark-only: a burst of N orders through the service, drained to COMPLETED.

The orders are POSTed by a fixed number of concurrent clients as fast as the API answers; then
the database is polled until every one has finished. All figures come from the database, so they
mean the same whether the request starts the workflow or something after it does:
- completion rate: N ÷ (the first order's `created_at` → the last COMPLETED history row);
- start lag: `orders.created_at` → `orders.workflow_started_at`, p50 and p99 over the burst.
The burst's orders belong to a customer of their own, so earlier scenarios' orders never count.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from statistics import quantiles
from typing import Any

import httpx
import psycopg
from engine import EngineResult

POLL_SECONDS = 0.5
FINISHED = ("COMPLETED", "FAILED", "CANCELLED")


@dataclass(frozen=True)
class BurstResult:
    orders: int
    # Orders offered per second (None: as fast as the clients go).
    offered_per_second: float | None
    accepted: int
    completed: int
    post_seconds: float
    drain_seconds: float
    completed_per_second: float
    start_lag_p50_s: float | None
    start_lag_p99_s: float | None
    history_events_per_order: int | None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


async def post_orders(
    api_url: str,
    token: str,
    body: dict[str, Any],
    orders: int,
    concurrency: int,
    per_second: float | None = None,
) -> int:
    """POST `orders` new orders from `concurrency` clients, the n-th no sooner than n/`per_second`
    seconds after the first if a rate is given; returns how many were accepted."""
    run = uuid.uuid4().hex[:8]
    began = time.monotonic()
    keys = iter(range(orders))
    accepted = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=api_url, timeout=60.0, limits=limits) as client:

        async def one_client() -> None:
            nonlocal accepted
            for n in keys:
                if per_second:
                    await asyncio.sleep(max(0.0, began + n / per_second - time.monotonic()))
                response = await client.post(
                    "/orders",
                    json=body,
                    headers={
                        "Authorization": f"Bearer {token}",
                        "Idempotency-Key": f"burst-{run}-{n}",
                    },
                )
                accepted += response.status_code == httpx.codes.CREATED

        await asyncio.gather(*(one_client() for _ in range(concurrency)))
    return accepted


def _finished(conn: psycopg.Connection[Any], customer: str) -> int:
    row = conn.execute(
        "SELECT count(*) FROM orders WHERE customer_id = %s AND status = ANY(%s)",
        (customer, list(FINISHED)),
    ).fetchone()
    return int(row[0]) if row else 0


def _figures(conn: psycopg.Connection[Any], customer: str) -> tuple[int, float, list[float]]:
    """Completed orders, the burst's window in seconds, and every start lag in seconds."""
    window = conn.execute(
        """
        SELECT count(*), extract(epoch FROM max(h.occurred_at) - min(o.created_at))
        FROM orders o JOIN order_status_history h ON h.order_id = o.id
        WHERE o.customer_id = %s AND h.to_status = 'COMPLETED'
        """,
        (customer,),
    ).fetchone()
    lags = conn.execute(
        """
        SELECT extract(epoch FROM workflow_started_at - created_at) FROM orders
        WHERE customer_id = %s AND workflow_started_at IS NOT NULL
        """,
        (customer,),
    ).fetchall()
    completed = int(window[0]) if window else 0
    seconds = float(window[1]) if window and window[1] is not None else 0.0
    return completed, seconds, [float(lag) for (lag,) in lags]


def _percentiles(values: list[float]) -> tuple[float | None, float | None]:
    if len(values) < 2:
        return (values[0], values[0]) if values else (None, None)
    cuts = quantiles(values, n=100, method="inclusive")
    return cuts[49], cuts[98]


def _some_workflow_id(conn: psycopg.Connection[Any], customer: str) -> str | None:
    row = conn.execute(
        "SELECT workflow_id FROM orders WHERE customer_id = %s AND status = 'COMPLETED' LIMIT 1",
        (customer,),
    ).fetchone()
    return str(row[0]) if row else None


def measure(
    api_url: str,
    dsn: str,
    token: str,
    customer: str,
    body: dict[str, Any],
    *,
    orders: int,
    concurrency: int = 32,
    per_second: float | None = None,
    timeout: float = 180.0,
    history_events: Callable[[str], int] | None = None,
) -> BurstResult:
    """`token` must name `customer`, a customer with no orders yet. `history_events`, if given,
    is called with one completed order's workflow id and returns its history's length."""
    began = time.monotonic()
    accepted = asyncio.run(post_orders(api_url, token, body, orders, concurrency, per_second))
    posted = time.monotonic() - began
    with psycopg.connect(dsn, autocommit=True) as conn:
        deadline = time.monotonic() + timeout
        while _finished(conn, customer) < accepted and time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
        completed, seconds, lags = _figures(conn, customer)
        workflow_id = _some_workflow_id(conn, customer)
    p50, p99 = _percentiles(lags)
    events = history_events(workflow_id) if history_events and workflow_id else None
    return BurstResult(
        orders=orders,
        offered_per_second=per_second,
        accepted=accepted,
        completed=completed,
        post_seconds=posted,
        drain_seconds=seconds,
        completed_per_second=completed / seconds if seconds else 0.0,
        start_lag_p50_s=p50,
        start_lag_p99_s=p99,
        history_events_per_order=events,
    )


def ratios(raw: EngineResult | None, orders: BurstResult | None) -> dict[str, float | None]:
    """The two keys of the results' `ratios` that this scenario fills."""
    raw_rate = raw.raw_workflow.per_second if raw else None
    return {
        "fulfillment_vs_raw_workflow": (
            orders.completed_per_second / raw_rate if orders and raw_rate else None
        ),
        "start_lag_p99_s": orders.start_lag_p99_s if orders else None,
    }


def table_rows(raw: EngineResult | None, orders: BurstResult | None) -> list[str]:
    """Rows for the printed table, in its columns: rate, then what else each figure needs."""
    rows = []
    if raw is not None:
        window = raw.raw_workflow
        rows += [
            f"{'raw Temporal starts':<34}{raw.starts_per_second:>9.1f}"
            f"   starts/s, {raw.start_burst} trivial workflows, {raw.start_concurrency} at a time",
            f"{'raw 3-activity workflow':<34}{window.per_second:>9.1f}"
            f"   completed/s, {window.finished}/{window.runs} in {window.seconds:.1f}s, "
            f"{window.history_events_per_run} history events each",
        ]
    if orders is not None:
        p50, p99 = orders.start_lag_p50_s, orders.start_lag_p99_s
        versus = ratios(raw, orders)["fulfillment_vs_raw_workflow"]
        rows.append(
            f"{'order burst to COMPLETED':<34}{orders.completed_per_second:>9.1f}"
            f"   completed/s, {orders.completed}/{orders.orders} offered at "
            f"{_rate(orders.offered_per_second)} in {orders.drain_seconds:.1f}s, "
            f"{orders.history_events_per_order} history events each, "
            f"start lag p50 {_seconds(p50)} p99 {_seconds(p99)}, ÷raw {_ratio(versus)}"
        )
    return rows


def _rate(value: float | None) -> str:
    return f"{value:.0f}/s" if value else "full speed"


def _seconds(value: float | None) -> str:
    return f"{value:.2f}s" if value is not None else "n/a"


def _ratio(value: float | None) -> str:
    return f"{value:.3f}" if value is not None else "n/a"
