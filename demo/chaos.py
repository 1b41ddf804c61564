"""`make demo-chaos`: orders under fire on a stack of its own, then a reconciliation per order kind.

Starts `order-api run` on free ports, places N orders of four kinds (each Idempotency-Key sent
twice at once), SIGKILLs the worker several times and Temporal and PostgreSQL once each while
they are placed, waits until every order is terminal, and checks the books: the product's
database, the simulators' ledgers and Temporal's workflows. Exits 1 on any lost order, double or
orphan charge, orphan shipment, stuck order, order with more than one workflow, or HTTP 500.

    make demo-chaos N=50
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import httpx
import psycopg
from temporalio.client import Client

from foundation import search_attributes as sa
from foundation.domain import OrderStatus
from tests.running_stack import RunningStack, running_stack
from tests.support import order_body

ORDER_EVERY_SECONDS = 0.3
DRAIN_TIMEOUT_SECONDS = 300.0
RESEND_PAUSE_SECONDS = 0.5
# (seconds after the first order, what to kill)
CHAOS_PLAN = (
    (3.0, "worker-1"),
    (6.0, "Temporal"),
    (9.0, "worker-2"),
    (12.0, "PostgreSQL"),
    (15.0, "worker-1"),
)


class Kind(StrEnum):
    NORMAL = "normal"
    FLAKY = "flaky"
    DECLINED = "declined"
    SLOW_CARRIER = "slow carrier"


BODIES = {
    Kind.NORMAL: order_body(),
    Kind.FLAKY: order_body(payment_method="tok_flaky"),
    Kind.DECLINED: order_body(payment_method="tok_declined"),
    # The carrier is unavailable for the first three tries of each shipment.
    Kind.SLOW_CARRIER: order_body(
        shipping_address={**order_body()["shipping_address"], "postal_code": "00003"}  # type: ignore[dict-item]
    ),
}
EXPECTED = {
    Kind.NORMAL: OrderStatus.COMPLETED,
    Kind.FLAKY: OrderStatus.COMPLETED,
    Kind.DECLINED: OrderStatus.FAILED,
    Kind.SLOW_CARRIER: OrderStatus.COMPLETED,
}


@dataclass
class Placement:
    kind: Kind
    key: str
    order_ids: set[str] = field(default_factory=set)
    answers: Counter[int] = field(default_factory=Counter)


def _send_until_accepted(stack: RunningStack, placement: Placement, deadline: float) -> None:
    """One client's sends of one key: retried, as a client would, until a 201."""
    headers = {
        "Authorization": f"Bearer {stack.token()}",
        "Idempotency-Key": placement.key,
    }
    while time.monotonic() < deadline:
        try:
            response = httpx.post(
                f"{stack.api_url}/orders",
                json=BODIES[placement.kind],
                headers=headers,
                timeout=15.0,
            )
        except httpx.HTTPError:
            placement.answers[0] += 1  # no answer: the API itself was restarting
            time.sleep(RESEND_PAUSE_SECONDS)
            continue
        placement.answers[response.status_code] += 1
        if response.status_code == 201:
            placement.order_ids.add(response.json()["id"])
            return
        time.sleep(RESEND_PAUSE_SECONDS)


def _place_all(stack: RunningStack, count: int, kills: list[tuple[float, str]]) -> list[Placement]:
    kinds = list(Kind)
    placements = [
        Placement(kinds[i % len(kinds)], f"chaos-{uuid.uuid4().hex}") for i in range(count)
    ]
    started = time.monotonic()
    deadline = started + DRAIN_TIMEOUT_SECONDS
    chaos = threading.Thread(target=_unleash, args=(stack, started, kills), daemon=True)
    chaos.start()
    with ThreadPoolExecutor(max_workers=16) as pool:
        for i, placement in enumerate(placements):
            # Each key twice at once: the second send must find the first, not make an order.
            pool.submit(_send_until_accepted, stack, placement, deadline)
            pool.submit(_send_until_accepted, stack, placement, deadline)
            if i % 10 == 0:
                print(f"  placing: {i}/{count} sent, killed so far: {len(kills)}", flush=True)
            time.sleep(ORDER_EVERY_SECONDS)
    chaos.join()
    return placements


def _unleash(stack: RunningStack, started: float, kills: list[tuple[float, str]]) -> None:
    for at, name in CHAOS_PLAN:
        time.sleep(max(0.0, started + at - time.monotonic()))
        try:
            stack.kill(name)
        except AssertionError:
            continue  # not running right now (still restarting): nothing to kill
        kills.append((time.monotonic() - started, name))
        print(f"  killed {name} (SIGKILL) at {kills[-1][0]:.1f}s", flush=True)


def _ledger(path: Path, query: str) -> list[tuple[str, int]]:
    with sqlite3.connect(path) as ledger:
        return [(str(ref), int(amount)) for ref, amount in ledger.execute(query)]


def _workflows_per_order(stack: RunningStack) -> Counter[str]:
    async def count() -> Counter[str]:
        client = await Client.connect(
            f"127.0.0.1:{stack.env['ORDER_API_TEMPORAL_PORT']}", namespace="default"
        )
        seen: dict[str, str] = {}
        async for execution in client.list_workflows():
            order_id = execution.typed_search_attributes.get(sa.ORDER_ID)
            if order_id is not None:
                seen[execution.id] = order_id
        return Counter(seen.values())

    return asyncio.run(count())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--orders", type=int, default=50)
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="demo-chaos-"))
    print(f"Starting a stack of its own in {data_dir}", flush=True)
    with running_stack(data_dir) as stack:
        kills: list[tuple[float, str]] = []
        placing_started = time.monotonic()
        placements = _place_all(stack, args.orders, kills)
        placed_at = time.monotonic()
        order_ids = [oid for p in placements for oid in p.order_ids]
        print(f"  all {len(placements)} keys sent; waiting for every order to finish", flush=True)
        stuck = False
        try:
            outcomes = stack.wait_until_terminal(order_ids, timeout=DRAIN_TIMEOUT_SECONDS)
        except AssertionError:
            stuck = True
            outcomes = stack.outcomes(order_ids)
        drained = time.monotonic() - placed_at
        with psycopg.connect(stack.database_dsn) as conn:
            rows = conn.execute("SELECT id::text, total_amount FROM orders").fetchall()
            totals: dict[str, int] = {str(oid): int(amount) for oid, amount in rows}
            dead = Counter(
                str(r[0]) for r in conn.execute("SELECT order_id FROM dead_letters").fetchall()
            )
        ledgers = data_dir / "simulators"
        charges = _ledger(
            ledgers / "payment-gateway.sqlite3",
            "SELECT reference, amount FROM charges WHERE status = 'succeeded'",
        )
        refunds = _ledger(
            ledgers / "payment-gateway.sqlite3",
            "SELECT c.reference, r.amount FROM refunds r JOIN charges c ON c.id = r.charge_id",
        )
        shipments = _ledger(
            ledgers / "carrier.sqlite3",
            "SELECT reference, 1 FROM shipments WHERE status = 'created'",
        )
        workflows = _workflows_per_order(stack)
    print(f"  placing took {placed_at - placing_started:.1f}s; drained {drained:.1f}s after")

    net: defaultdict[str, int] = defaultdict(int)
    charge_count: Counter[str] = Counter()
    for ref, amount in charges:
        net[ref] += amount
        charge_count[ref] += 1
    for ref, amount in refunds:
        net[ref] -= amount
    shipped = Counter(ref for ref, _ in shipments)
    problems: list[str] = []
    for ref in set(net) | set(shipped):
        if ref not in totals:
            problems.append(f"charge or shipment for unknown order {ref}")
    header = (
        f"{'kind':<13}{'orders':>7}{'COMPL':>7}{'FAIL':>6}{'CANC':>6}{'charged':>10}"
        f"{'shipped':>9}{'wfs':>5}{'dead':>6}{'5xx':>5}  problems"
    )
    print()
    print(header)
    for kind in Kind:
        mine = [p for p in placements if p.kind is kind]
        ids = [oid for p in mine for oid in p.order_ids]
        statuses = Counter(outcomes[oid].status for oid in ids if oid in outcomes)
        fivexx = sum(n for p in mine for code, n in p.answers.items() if code >= 500)
        kind_problems: list[str] = []
        for p in mine:
            if len(p.order_ids) != 1:
                kind_problems.append(f"key {p.key} made {len(p.order_ids)} orders")
            if any(code == 500 for code in p.answers):
                kind_problems.append(f"key {p.key} saw a 500")
        for oid in ids:
            status = outcomes[oid].status if oid in outcomes else None
            if status is None:
                kind_problems.append(f"order {oid} lost")
                continue
            if status not in (OrderStatus.COMPLETED, OrderStatus.FAILED, OrderStatus.CANCELLED):
                kind_problems.append(f"order {oid} stuck in {status}")
            if charge_count[oid] > 1 and net[oid] > totals[oid]:
                kind_problems.append(f"order {oid} charged twice")
            if status is OrderStatus.COMPLETED and net[oid] != totals[oid]:
                kind_problems.append(f"order {oid} completed with net charge {net[oid]}")
            if status is not OrderStatus.COMPLETED and net[oid] != 0:
                kind_problems.append(f"orphan charge on {status} order {oid}")
            if shipped[oid] > (1 if status is OrderStatus.COMPLETED else 0):
                kind_problems.append(f"orphan or extra shipment on {status} order {oid}")
            if workflows[oid] != 1:
                kind_problems.append(f"order {oid} has {workflows[oid]} workflows")
            if status is not EXPECTED[kind]:
                kind_problems.append(f"order {oid} ended {status}, expected {EXPECTED[kind]}")
        print(
            f"{kind:<13}{len(ids):>7}{statuses[OrderStatus.COMPLETED]:>7}"
            f"{statuses[OrderStatus.FAILED]:>6}{statuses[OrderStatus.CANCELLED]:>6}"
            f"{sum(net[oid] for oid in ids):>10}{sum(shipped[oid] for oid in ids):>9}"
            f"{sum(workflows[oid] for oid in ids):>5}{sum(dead[oid] for oid in ids):>6}"
            f"{fivexx:>5}  {len(kind_problems) or '-'}"
        )
        problems += kind_problems
    print()
    print("killed: " + ", ".join(f"{name} at {at:.1f}s" for at, name in kills))
    print(f"time to drain: {drained:.1f}s after the last order was accepted")
    if stuck:
        problems.append(f"orders not terminal within {DRAIN_TIMEOUT_SECONDS:.0f}s")
    for problem in problems:
        print(f"PROBLEM: {problem}")
    print("OK: every order accounted for" if not problems else f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
