"""Benchmark-only: what the bench stack's Temporal server does with no service in the way.

Two figures, each from one burst of N workflows on a task queue of the bench's own:
- the start rate: N trivial workflows started concurrently while no worker polls their queue,
  so the figure is the server's cost of a start and nothing else (a worker drains them after);
- the raw workflow rate: N three-activity workflows (bench/raw_workflow.py) started concurrently
  and drained by one worker in a process of its own (`python bench/engine.py serve ...`), from the
  first start to the last close, as the server recorded them.
The order burst (bench/burst.py) is judged against the second.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.worker import Worker

sys.path.insert(0, str(Path(__file__).resolve().parent))
import raw_workflow

SERVE_READY = "polling"
WORKER_READY_TIMEOUT_SECONDS = 30.0
POLL_SECONDS = 0.5


@dataclass(frozen=True)
class BurstWindow:
    """N runs from the first start to the last close, by the server's own timestamps."""

    runs: int
    finished: int
    seconds: float
    per_second: float
    history_events_per_run: int


@dataclass(frozen=True)
class EngineResult:
    start_burst: int
    start_concurrency: int
    starts_per_second: float
    raw_workflow: BurstWindow
    # The bench worker's CPU over both bursts: it is gone before anyone else could read it.
    raw_worker_cpu_seconds: float

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


async def _bounded(concurrency: int, calls: list[Callable[[], Awaitable[Any]]]) -> list[Any]:
    gate = asyncio.Semaphore(concurrency)

    async def one(call: Callable[[], Awaitable[Any]]) -> Any:
        async with gate:
            return await call()

    return await asyncio.gather(*(one(call) for call in calls))


async def start_rate(client: Client, task_queue: str, runs: int, concurrency: int) -> float:
    prefix = f"bench-start-{uuid.uuid4().hex[:8]}"
    began = time.perf_counter()
    await _bounded(
        concurrency,
        [
            lambda n=n: client.start_workflow(  # type: ignore[misc]
                raw_workflow.Trivial.run, id=f"{prefix}-{n}", task_queue=task_queue
            )
            for n in range(runs)
        ],
    )
    return runs / (time.perf_counter() - began)


async def _closed(client: Client, query: str) -> int:
    return (await client.count_workflows(f"{query} AND ExecutionStatus != 'Running'")).count


async def wait_closed(client: Client, query: str, runs: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    closed = await _closed(client, query)
    while closed < runs and time.monotonic() < deadline:
        await asyncio.sleep(POLL_SECONDS)
        closed = await _closed(client, query)
    return closed


async def server_window(client: Client, query: str) -> tuple[float, int]:
    """Seconds from the first start to the last close of the runs `query` finds, and their count."""
    first, last, closed = None, None, 0
    async for execution in client.list_workflows(f"{query} AND ExecutionStatus != 'Running'"):
        assert execution.close_time is not None
        closed += 1
        first = min(first or execution.start_time, execution.start_time)
        last = max(last or execution.close_time, execution.close_time)
    if first is None or last is None:
        return 0.0, 0
    return (last - first).total_seconds(), closed


HistoryCounter = Callable[[str], int]


async def history_events(client: Client, workflow_id: str) -> int:
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return len(history.events)


async def history_events_at(address: str, workflow_id: str) -> int:
    """Events in a run's history; payloads are counted, not read, so no codec is needed."""
    return await history_events(await Client.connect(address), workflow_id)


def history_events_sync(address: str, workflow_id: str) -> int:
    return asyncio.run(history_events_at(address, workflow_id))


async def _event_types(address: str, workflow_id: str) -> dict[str, int]:
    client = await Client.connect(address)
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return dict(Counter(EventType.Name(event.event_type) for event in history.events))


def history_event_types(address: str, workflow_id: str) -> dict[str, int]:
    """How many events of each type a run's history holds: where a run's server work goes."""
    return asyncio.run(_event_types(address, workflow_id))


async def raw_workflow_rate(
    client: Client, task_queue: str, runs: int, concurrency: int, timeout: float
) -> BurstWindow:
    prefix = f"bench-raw-{uuid.uuid4().hex[:8]}"
    await _bounded(
        concurrency,
        [
            lambda n=n: client.start_workflow(  # type: ignore[misc]
                raw_workflow.ThreeSteps.run, id=f"{prefix}-{n}", task_queue=task_queue
            )
            for n in range(runs)
        ],
    )
    query = f"WorkflowType = 'BenchThreeSteps' AND WorkflowId STARTS_WITH '{prefix}'"
    await wait_closed(client, query, runs, timeout)
    seconds, finished = await server_window(client, query)
    return BurstWindow(
        runs=runs,
        finished=finished,
        seconds=seconds,
        per_second=finished / seconds if seconds else 0.0,
        history_events_per_run=await history_events(client, f"{prefix}-0"),
    )


@contextmanager
def raw_worker(
    address: str, task_queue: str, log_file: Path, cpu_seconds: list[float]
) -> Iterator[subprocess.Popen[str]]:
    """The bench-only worker in a process of its own, like the service's workers; its CPU seconds
    are left in `cpu_seconds[0]` when it stops."""
    with log_file.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "serve", address, task_queue],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + WORKER_READY_TIMEOUT_SECONDS
        # readline blocks, but the worker prints at once or dies (closing the pipe).
        while process.stdout.readline().strip() != SERVE_READY:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the raw worker did not start; see {log_file}")
        yield process
    finally:
        with suppress(psutil.Error):
            times = psutil.Process(process.pid).cpu_times()
            cpu_seconds[0] = times.user + times.system
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def measure_async(
    address: str, work_dir: Path, runs: int, concurrency: int, timeout: float
) -> EngineResult:
    client = await Client.connect(address)
    task_queue = f"bench-raw-{uuid.uuid4().hex[:8]}"
    starts_per_second = await start_rate(client, task_queue, runs, concurrency)
    worker_cpu = [0.0]
    with raw_worker(address, task_queue, work_dir / "raw_worker.log", worker_cpu):
        # The trivial runs first, so the raw burst starts on an idle server.
        await wait_closed(client, "WorkflowType = 'BenchTrivial'", runs, timeout)
        window = await raw_workflow_rate(client, task_queue, runs, concurrency, timeout)
    return EngineResult(
        start_burst=runs,
        start_concurrency=concurrency,
        starts_per_second=starts_per_second,
        raw_workflow=window,
        raw_worker_cpu_seconds=worker_cpu[0],
    )


def measure(
    address: str, work_dir: Path, runs: int, concurrency: int = 32, timeout: float = 120.0
) -> EngineResult:
    return asyncio.run(measure_async(address, work_dir, runs, concurrency, timeout))


async def serve(address: str, task_queue: str) -> None:
    client = await Client.connect(address)
    worker = Worker(
        client,
        task_queue=task_queue,
        workflows=[raw_workflow.Trivial, raw_workflow.ThreeSteps],
        activities=[raw_workflow.step],
    )
    async with worker:
        print(SERVE_READY, flush=True)
        await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serving = commands.add_parser("serve", help="run the raw worker until terminated")
    serving.add_argument("address")
    serving.add_argument("task_queue")
    measuring = commands.add_parser("measure", help="both figures against a running server")
    measuring.add_argument("address")
    measuring.add_argument("--runs", type=int, default=200)
    measuring.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    if args.command == "serve":
        with suppress(KeyboardInterrupt):
            asyncio.run(serve(args.address, args.task_queue))
        return
    result = measure(args.address, Path.cwd(), args.runs, args.concurrency)
    print(result.as_json())


if __name__ == "__main__":
    main()
