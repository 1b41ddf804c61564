"""The relay starts every accepted order exactly once, whatever dies or goes away in between."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager

import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.worker import Worker

from foundation.models import Order, WorkflowStart
from foundation.settings import Settings
from foundation.temporal_client import connect_temporal
from processes.devstack.ports import free_port
from processes.devstack.stack import CLIENT_STOP_SECONDS
from processes.relay import Relay
from tests.support import CuttableProxy, eventually, order_body, running_relay

pytestmark = pytest.mark.integration
Auth = Callable[..., dict[str, str]]
Serve = Callable[[Settings], AsyncIterator[httpx.AsyncClient]]
Sessions = async_sessionmaker[AsyncSession]


async def _place(api: httpx.AsyncClient, auth: Auth, count: int, prefix: str) -> list[str]:
    ids = []
    for n in range(count):
        response = await api.post("/orders", json=order_body(), headers=auth(key=f"{prefix}-{n}"))
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


async def _pending(sessions: Sessions) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count(WorkflowStart.id))) or 0)


async def _workflow_ids(sessions: Sessions, order_ids: list[str]) -> list[str]:
    async with sessions() as session:
        rows = await session.scalars(
            select(Order.workflow_id).where(Order.id.in_([uuid.UUID(i) for i in order_ids]))
        )
        return list(rows)


async def _runs_of(temporal: Client, workflow_id: str) -> int:
    return len([run async for run in temporal.list_workflows(f"WorkflowId = '{workflow_id}'")])


async def _all_completed_once(temporal: Client, workflow_ids: list[str]) -> None:
    for workflow_id in workflow_ids:
        handle = temporal.get_workflow_handle(workflow_id)
        await asyncio.wait_for(handle.result(), timeout=60)
        assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED

    async def one_run_each() -> None:
        # Visibility lags the runs a little; a second run would show here once it is listed.
        assert [await _runs_of(temporal, w) for w in workflow_ids] == [1] * len(workflow_ids)

    await eventually(one_run_each)


async def _start_recorded(sessions: Sessions, order_id: str) -> None:
    async with sessions() as session:
        order = await session.get(Order, uuid.UUID(order_id), populate_existing=True)
    assert order is not None and order.workflow_started_at is not None


def _sample(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


def _child_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a program of ours on the test session's database and Temporal."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("ORDER_API_") and key not in ("DATABASE_URL", "TEMPORAL_ADDRESS")
    }
    assert settings.payload_keys is not None
    env.update(
        DATABASE_URL=settings.effective_database_url,
        TEMPORAL_ADDRESS=settings.effective_temporal_address,
        ORDER_API_TASK_QUEUE=settings.task_queue,
        ORDER_API_PAYLOAD_KEYS=settings.payload_keys.get_secret_value(),
        ORDER_API_RETRY_PROFILE="demo",
        **extra,
    )
    return env


@contextmanager
def api_process(settings: Settings) -> Iterator[str]:
    """The API as its own process (uvicorn), on the test session's database and Temporal."""
    port = free_port()
    env = _child_env(settings)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "api.main:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, "the API process exited"
            assert time.monotonic() < deadline, "the API process never answered"
            try:
                if httpx.get(f"{url}/health/live", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield url
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        assert process.returncode == -signal.SIGKILL


async def test_orders_accepted_by_an_api_killed_before_any_start_are_started_once_later(
    settings: Settings,
    worker: Worker,
    clean_db: None,
    auth: Auth,
    sessions: Sessions,
    temporal: Client,
) -> None:
    with api_process(settings) as url:
        async with httpx.AsyncClient(base_url=url, timeout=10) as api:
            accepted = await _place(api, auth, 8, "killed")
        # SIGKILL right after the last 201: no relay has run, nothing was started.
        # (api_process kills it on leaving the block and checks it died of SIGKILL.)
    workflow_ids = await _workflow_ids(sessions, accepted)
    assert len(workflow_ids) == 8
    assert await _pending(sessions) == 8
    assert [await _runs_of(temporal, w) for w in workflow_ids] == [0] * 8

    relay = Relay(settings, sessions, temporal)
    started = await relay.drain()

    assert sorted(map(str, started)) == sorted(accepted)
    assert await relay.drain() == []
    assert await _pending(sessions) == 0
    await _all_completed_once(temporal, workflow_ids)


async def test_a_burst_while_temporal_is_down_is_accepted_and_started_once_it_is_back(
    settings: Settings,
    worker: Worker,
    clean_db: None,
    serve_app: Serve,
    auth: Auth,
    sessions: Sessions,
    temporal: Client,
) -> None:
    host, port = settings.effective_temporal_address.rsplit(":", 1)
    proxy = CuttableProxy(host, int(port))
    await proxy.start()
    through_proxy = await connect_temporal(
        settings.model_copy(update={"temporal_address": proxy.address})
    )
    try:
        async with running_relay(settings, sessions, through_proxy):
            await proxy.cut()
            failed_before = _sample("order_relay_starts_failed_total")
            async for api in serve_app(settings):
                accepted = await _place(api, auth, 10, "burst")

            async def backing_off() -> None:
                async with sessions() as session:
                    rows = list(await session.scalars(select(WorkflowStart)))
                assert len(rows) == 10
                assert all(row.attempts >= 1 and row.last_error for row in rows)

            await eventually(backing_off)
            await asyncio.sleep(3)
            # Delays of 0.5, 1, 2, 2 s: a handful of tries per order in those seconds, not a loop.
            tries = _sample("order_relay_starts_failed_total") - failed_before
            assert 10 <= tries <= 10 * 6
            assert await _pending(sessions) == 10

            await proxy.restore()

            async def drained() -> None:
                assert await _pending(sessions) == 0

            await eventually(drained, timeout=30)
        await _all_completed_once(temporal, await _workflow_ids(sessions, accepted))
    finally:
        await proxy.stop()


async def test_two_relays_on_one_backlog_claim_disjoint_orders_and_start_each_once(
    settings: Settings,
    worker: Worker,
    clean_db: None,
    serve_app: Serve,
    auth: Auth,
    sessions: Sessions,
    temporal: Client,
) -> None:
    async for api in serve_app(settings):
        accepted = await _place(api, auth, 30, "two-relays")
    # Small batches, so the two take turns on the backlog instead of one taking it all.
    small_batches = settings.model_copy(update={"relay_batch_size": 4})
    first, second = (
        Relay(small_batches, sessions, temporal),
        Relay(small_batches, sessions, temporal),
    )

    by_first, by_second = await asyncio.gather(first.drain(), second.drain())

    assert by_first and by_second, "one relay took the whole backlog"
    assert not set(by_first) & set(by_second)
    assert len(by_first) + len(by_second) == 30
    assert sorted(map(str, by_first + by_second)) == sorted(accepted)
    assert await _pending(sessions) == 0
    await _all_completed_once(temporal, await _workflow_ids(sessions, accepted))


async def test_each_order_records_when_its_own_start_returned_not_when_its_batch_ended(
    settings: Settings,
    clean_db: None,
    serve_app: Serve,
    auth: Auth,
    sessions: Sessions,
    temporal: Client,
) -> None:
    async for api in serve_app(settings):
        accepted = await _place(api, auth, 6, "own-start-time")
    # One start at a time, so the starts of one batch end at distinct moments.
    one_at_a_time = settings.model_copy(update={"relay_concurrency": 1})

    outcome = await Relay(one_at_a_time, sessions, temporal).relay_batch()

    assert sorted(map(str, outcome.started)) == sorted(accepted)
    async with sessions() as session:
        rows = await session.execute(select(Order.id, Order.workflow_started_at))
        recorded = {row.id: row.workflow_started_at for row in rows}
    assert recorded == outcome.started_at
    assert len(set(recorded.values())) == len(accepted)


async def test_the_relay_starts_an_order_on_its_commit_not_at_its_next_poll(
    settings: Settings,
    worker: Worker,
    clean_db: None,
    serve_app: Serve,
    auth: Auth,
    sessions: Sessions,
    temporal: Client,
) -> None:
    rarely_polling = settings.model_copy(update={"relay_poll_seconds": 60.0})
    async with running_relay(rarely_polling, sessions, temporal):
        await asyncio.sleep(1)  # past its first pass: it now waits for a notification or a minute
        async for api in serve_app(settings):
            [order_id] = await _place(api, auth, 1, "notified")

        # Well inside the minute the poll would have taken.
        await eventually(lambda: _start_recorded(sessions, order_id), timeout=10)


@contextmanager
def our_program(command: str, env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    """`order-api <command>` as its own process, killed if the test leaves it running."""
    process = subprocess.Popen(
        [sys.executable, "-m", "processes.cli", command],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _scrape_once_it_shows(process: subprocess.Popen[str], url: str, series: str) -> str:
    """The process's metrics once they name `series`; fails if it exits or a minute passes."""
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, process.communicate()[0]
        assert time.monotonic() < deadline, f"{url} never showed {series}"
        try:
            scrape = httpx.get(url, timeout=1).text
            if series in scrape:
                return scrape
        except httpx.HTTPError:
            pass
        time.sleep(0.2)


def test_order_api_relay_serves_its_metrics_and_stops_cleanly_on_sigterm(
    settings: Settings,
) -> None:
    port = free_port()
    env = _child_env(settings, ORDER_API_RELAY_METRICS_PORT=str(port))
    with our_program("relay", env) as process:
        url = f"http://127.0.0.1:{port}/metrics"
        # Running, not only serving: its series are there from import, before Temporal answers.
        scrape = _scrape_once_it_shows(process, url, "order_relay_running 1.0")
        assert "order_relay_start_lag_seconds_bucket" in scrape
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=10)
    assert process.returncode == 0, output
    assert "relay stopped" in output


@contextmanager
def worker_process(settings: Settings, **extra: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`order-api worker` on its own task queue, and the URL of its metrics."""
    port = free_port()
    env = _child_env(settings, ORDER_API_WORKER_METRICS_PORT=str(port), **extra)
    # A queue of its own, so the suite's in-process workers take none of its workflows' tasks.
    env["ORDER_API_TASK_QUEUE"] = f"orders-relaying-{uuid.uuid4().hex[:8]}"
    with our_program("worker", env) as process:
        yield process, f"http://127.0.0.1:{port}/metrics"


# The Temporal SDK reports its pollers once the worker polls: past the point where its relay starts.
POLLING = "temporal_num_pollers"


async def test_order_api_worker_runs_a_relay_that_starts_the_accepted_orders(
    settings: Settings, sessions: Sessions, auth: Auth, serve_app: Serve, clean_db: None
) -> None:
    with worker_process(settings) as (process, metrics_url):
        async for api in serve_app(settings):
            [order_id] = await _place(api, auth, 1, "worker-relayed")
        await eventually(lambda: _start_recorded(sessions, order_id), timeout=60)
        scrape = await asyncio.to_thread(_scrape_once_it_shows, process, metrics_url, POLLING)
        assert "order_relay_running 1.0" in scrape
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
    assert process.returncode == 0, output
    assert "relay stopped" in output
    assert await _pending(sessions) == 0


def test_a_worker_gives_the_heap_it_freed_back_once_quiet(settings: Settings) -> None:
    # Its start-up's imports are work enough; once it polls, it is quiet.
    with worker_process(settings, ORDER_API_HEAP_RELEASE_CHECK_SECONDS="0.5") as (process, url):
        _scrape_once_it_shows(process, url, POLLING)
        time.sleep(2)
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
    assert process.returncode == 0, output
    assert re.search(r"quiet after work: gave [0-9.]+ MB of freed heap back", output), output


def test_a_worker_stops_on_sigterm_within_the_time_order_api_run_allows_it(
    settings: Settings,
) -> None:
    # Past this, the dev stack's supervisor kills a worker it is stopping instead of waiting.
    with worker_process(settings) as (process, url):
        _scrape_once_it_shows(process, url, "order_relay_running 1.0")
        asked = time.monotonic()
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
        took = time.monotonic() - asked
    assert process.returncode == 0, output
    assert "relay stopped" in output
    assert took < CLIENT_STOP_SECONDS, f"{took:.2f}s"


async def test_a_worker_told_not_to_relay_runs_no_relay(
    settings: Settings, sessions: Sessions, auth: Auth, serve_app: Serve, clean_db: None
) -> None:
    with worker_process(settings, ORDER_API_WORKER_RUNS_RELAY="false") as (process, url):
        async for api in serve_app(settings):
            await _place(api, auth, 1, "not-relayed")
        scrape = await asyncio.to_thread(_scrape_once_it_shows, process, url, POLLING)
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
    assert "order_relay_running 0.0" in scrape
    assert "worker polling task queue" in output
    assert "relay started" not in output
    assert await _pending(sessions) == 1
