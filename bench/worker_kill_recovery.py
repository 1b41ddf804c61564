"""How long orders in flight take when the worker is SIGKILLed under `order-api run`.

Starts a stack of its own (demo retry profile, simulators answering in 300 ms so orders are in
flight for a while), places an order a second, kills the worker several times, and reports
the time to complete of the orders that were in flight at a kill against the others.

    .venv/bin/python -m bench.worker_kill_recovery [--kills 4] [--gap 15]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from tests.running_stack import RunningStack, running_stack
from tests.support import order_body

ORDER_EVERY_SECONDS = 1.0


def _place_steadily(stack: RunningStack, order_ids: list[str], stop: threading.Event) -> None:
    while not stop.is_set():
        response = stack.place_order(order_body())
        if response.status_code == 201:
            order_ids.append(response.json()["id"])
        stop.wait(ORDER_EVERY_SECONDS)


def _timings(stack: RunningStack, order_ids: list[str]) -> list[tuple[float, float, str]]:
    with psycopg.connect(stack.database_dsn) as conn:
        rows = conn.execute(
            "SELECT extract(epoch FROM created_at), extract(epoch FROM updated_at), status "
            "FROM orders WHERE id::text = ANY(%s)",
            (order_ids,),
        ).fetchall()
    return [(float(created), float(updated), str(status)) for created, updated, status in rows]


def _summary(label: str, seconds: list[float]) -> str:
    if not seconds:
        return f"{label:<28} none"
    return (
        f"{label:<28} n={len(seconds):<4} median={statistics.median(seconds):5.1f}s "
        f"max={max(seconds):5.1f}s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=4)
    parser.add_argument("--gap", type=float, default=15.0, help="seconds between kills")
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="worker-kill-"))
    latency = {"payment_sim_latency_ms": "300", "carrier_sim_latency_ms": "300"}
    with running_stack(data_dir, **latency) as stack:
        order_ids: list[str] = []
        stop = threading.Event()
        placer = threading.Thread(target=_place_steadily, args=(stack, order_ids, stop))
        placer.start()
        kills: list[float] = []
        try:
            for _ in range(args.kills):
                time.sleep(args.gap)
                kills.append(datetime.now(UTC).timestamp())
                stack.kill("worker-1")
            time.sleep(args.gap)
        finally:
            stop.set()
            placer.join()
        stack.wait_until_terminal(order_ids, timeout=180)
        timings = _timings(stack, order_ids)
    hit = [u - c for c, u, _ in timings if any(c <= k <= u for k in kills)]
    spared = [u - c for c, u, _ in timings if not any(c <= k <= u for k in kills)]
    statuses = sorted({s for _, _, s in timings})
    print(f"{len(timings)} orders ({', '.join(statuses)}), {len(kills)} worker SIGKILLs")
    print(_summary("in flight at a kill", hit))
    print(_summary("not in flight at a kill", spared))


if __name__ == "__main__":
    main()
