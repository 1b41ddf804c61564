"""Benchmark-only: the fulfilment figures alone, on a stack of their own, for tuning the worker.

    .venv/bin/python bench/fulfilment.py [--orders 200] [--reps 2] [--profile DIR] [--keep]

Starts the bench stack as `make bench` does and runs its fulfilment scenarios (the raw Temporal
start rate and three-activity workflow, then the order burst) `--reps` times, printing each
repetition as one JSON line, with the CPU seconds each kind of process spent per workflow in
each burst: the Temporal server is the busiest, so its CPU per order is what a lighter workflow
saves. `--profile DIR` records py-spy samples of one service worker during the first order burst.
The worker reads its settings from the environment as usual, so each run can try one setting.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import uuid
from contextlib import AbstractContextManager, nullcontext, suppress
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
import burst
import engine
from run import HOST, ORDER_BODY, BenchStack, Ports, Profiler, raise_stock

# Which kind of process a command line is, by a part of it; the first match wins.
KINDS = (
    ("temporal server", "temporal"),
    ("processes.cli worker", "service worker"),
    ("engine.py serve", "raw worker"),
    ("api.main", "api"),
    ("simulators.", "simulators"),
    ("postgres", "postgres"),
)


def _kind(process: psutil.Process) -> str | None:
    command = " ".join(process.cmdline())
    return next((kind for part, kind in KINDS if part in command), None)


def _processes(stack: BenchStack) -> list[psutil.Process]:
    """This stack's processes (PostgreSQL's backends included) and this script's raw worker."""
    assert stack.process is not None
    roots = [psutil.Process(stack.process.pid), psutil.Process()]
    # pg_ctl daemonizes PostgreSQL, so it is no child of the stack: find it by its pid file.
    with suppress(OSError, ValueError, IndexError, psutil.Error):
        pid_file = stack.data_dir / "postgres" / "postmaster.pid"
        roots.append(psutil.Process(int(pid_file.read_text().split()[0])))
    found = list(roots)
    for root in roots:
        with suppress(psutil.Error):
            found += root.children(recursive=True)
    return found


def cpu_seconds(stack: BenchStack) -> dict[int, tuple[str, float]]:
    """CPU seconds so far of each of the stack's processes, by pid, with its kind."""
    found: dict[int, tuple[str, float]] = {}
    for process in _processes(stack):
        with suppress(psutil.Error):
            kind = _kind(process)
            if kind is not None:
                times = process.cpu_times()
                found[process.pid] = (kind, times.user + times.system)
    return found


def spent_per_run(
    before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]], runs: int
) -> dict[str, float]:
    spent: dict[str, float] = {}
    for pid, (kind, seconds) in after.items():
        spent[kind] = spent.get(kind, 0.0) + seconds - before.get(pid, (kind, 0.0))[1]
    return {
        kind: round(1000 * seconds / runs, 1)
        for kind, seconds in sorted(spent.items(), key=lambda kv: -kv[1])
    }


def _remembering(address: str, seen: list[str]) -> engine.HistoryCounter:
    """Counts a run's history events and remembers which run, for a look at its event types."""

    def count(workflow_id: str) -> int:
        seen.append(workflow_id)
        return engine.history_events_sync(address, workflow_id)

    return count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--profile", type=Path, default=None)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="order-api-fulfilment-"))
    stack = BenchStack(data_dir, Ports.pick())
    address = f"{HOST}:{stack.ports.temporal}"
    try:
        stack.start()
        raise_stock(stack)
        for rep in range(args.reps):
            before = cpu_seconds(stack)
            raw = engine.measure(address, data_dir, args.orders)
            between = cpu_seconds(stack)
            customer = f"bench-burst-{uuid.uuid4().hex[:8]}"
            recording: AbstractContextManager[None] = nullcontext()
            if args.profile is not None and rep == 0:
                worker = next(p for p in _processes(stack) if _kind(p) == "service worker")
                recording = Profiler(args.profile, worker.pid).recording("order_burst_worker")
            seen: list[str] = []
            with recording:
                orders = burst.measure(
                    stack.api_url,
                    stack.database_dsn,
                    stack.token(customer),
                    customer,
                    ORDER_BODY,
                    orders=args.orders,
                    history_events=_remembering(address, seen),
                )
            after = cpu_seconds(stack)
            print("\n".join(burst.table_rows(raw, orders)), flush=True)
            raw_phase = spent_per_run(before, between, args.orders)
            raw_phase["raw worker"] = round(1000 * raw.raw_worker_cpu_seconds / args.orders, 1)
            line = {
                "engine": raw.as_json(),
                "burst": orders.as_json(),
                # Per three-activity workflow, the trivial starts before them included.
                "cpu_ms_per_raw_workflow": raw_phase,
                "cpu_ms_per_order": spent_per_run(between, after, args.orders),
                "order_history": engine.history_event_types(address, seen[0]) if seen else None,
            } | burst.ratios(raw, orders)
            print(json.dumps(line), flush=True)
    finally:
        left = stack.stop()
        if left:
            print(f"left after the stop (killed): {left}", file=sys.stderr)
        if args.keep:
            print(f"kept {data_dir}", file=sys.stderr)
        else:
            shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
