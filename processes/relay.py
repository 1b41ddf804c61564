"""The relay: starts the workflow of every accepted order, in order of acceptance.

The API commits each new order with a row in `workflow_starts` (the outbox) and never waits on
Temporal. This process claims those rows in batches (`FOR UPDATE SKIP LOCKED`, so two relays
never claim the same row), starts their workflows concurrently, and in the same transaction
deletes the rows and records `orders.workflow_started_at`. A start that fails stays in the
outbox with a growing delay, so an unreachable Temporal is retried, never hammered. The insert
trigger's NOTIFY wakes the relay at each commit; a short poll covers a lost notification and the
retries that fall due (adrs/0003-accept-then-start.md).

Each worker process runs one (`relay_until_stopped`), next to its workflows, on the worker's
Temporal client and pool; `order-api relay` runs one alone, for a deployment that sets
ORDER_API_WORKER_RUNS_RELAY to false and scales relays apart from workers.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import uuid
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import raiseload
from temporalio.client import Client

from foundation.db import libpq_conninfo, make_engine, make_session_factory
from foundation.models import WORKFLOW_START_CHANNEL, Order, WorkflowStart
from foundation.settings import LogFormat, Settings, settings_or_exit
from foundation.telemetry import configure_logging, configure_tracing, resumed_trace
from foundation.temporal_client import temporal_unreachable
from processes.metrics_server import serve_metrics
from processes.patient_connect import connect_when_reachable
from workflows.contracts import RetryProfile
from workflows.starter import record_started, start_fulfillment

logger = logging.getLogger(__name__)

# After the LISTEN connection is lost, how long to wait before listening again.
RECONNECT_DELAY_SECONDS = 1.0
FIRST_RETRY_SECONDS = 0.5
# Passes that may claim and start at once. A pass holds its batch until the batch's slowest start
# returns; orders accepted meanwhile are claimed by another pass at once instead of waiting behind
# it (the starts of all passes share the one bound, relay_concurrency). Three, so the passes and
# the backlog count need four connections: a lone relay's whole pool, and within a worker's
# overflow (ORDER_API_WORKER_DB_MAX_OVERFLOW) beside its activities' five.
OVERLAPPING_PASSES = 3
# The pool of a relay run alone: a pass holds its connection while its starts are in flight.
POOL_SIZE = 2
POOL_OVERFLOW = 2
# Enough of Temporal's answer to tell one failure from another, not a whole stack.
MAX_ERROR_CHARS = 500

BACKLOG = Gauge("order_relay_backlog", "Accepted orders whose workflow start is pending")
OLDEST_PENDING_AGE = Gauge(
    "order_relay_oldest_pending_age_seconds",
    "Age of the oldest pending workflow start, read at scrape time (0 when none)",
)
START_LAG = Histogram(
    "order_relay_start_lag_seconds",
    "From an order's acceptance to its workflow started",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
RUNNING = Gauge(
    "order_relay_running", "1 while a relay runs in this process (the alert on no relay reads it)"
)
STARTS = Counter("order_relay_starts_total", "Workflow starts the relay recorded")
STARTS_FAILED = Counter(
    "order_relay_starts_failed_total", "Workflow start attempts that failed (retried later)"
)


def retry_delay(attempts: int, cap_seconds: float) -> timedelta:
    """The wait after the `attempts`-th failure: doubling from half a second, capped."""
    return timedelta(seconds=min(cap_seconds, FIRST_RETRY_SECONDS * 2 ** max(attempts - 1, 0)))


@dataclass
class BatchOutcome:
    claimed: int = 0
    started: list[uuid.UUID] = field(default_factory=list)
    # When each start call returned: what `orders.workflow_started_at` records.
    started_at: dict[uuid.UUID, datetime] = field(default_factory=dict)
    failed: int = 0


class Relay:
    def __init__(
        self, settings: Settings, sessions: async_sessionmaker[AsyncSession], client: Client
    ) -> None:
        self._settings = settings
        self._sessions = sessions
        self._client = client
        self._retry_profile = RetryProfile(settings.effective_retry_profile)
        self._oldest_pending: datetime | None = None
        # Shared by every pass, so overlapping passes add no starts beyond the bound.
        self._slots = asyncio.Semaphore(settings.relay_concurrency)

    async def drain(self) -> list[uuid.UUID]:
        """Start every due pending order, batch after batch; the orders it started.

        Stops at the first batch with a failure: what failed is delayed already, and trying the
        rest now would only fail the same way while Temporal is away.
        """
        started: list[uuid.UUID] = []
        while True:
            outcome = await self.relay_batch()
            started += outcome.started
            if outcome.failed or outcome.claimed < self._settings.relay_batch_size:
                return started

    async def relay_batch(self) -> BatchOutcome:
        outcome = BatchOutcome()
        async with self._sessions.begin() as session:
            claimed = (
                await session.execute(
                    select(
                        WorkflowStart.id,
                        WorkflowStart.order_id,
                        WorkflowStart.attempts,
                        WorkflowStart.trace_context,
                    )
                    .where(WorkflowStart.next_attempt_at <= func.now())
                    .order_by(WorkflowStart.id)
                    .limit(self._settings.relay_batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            outcome.claimed = len(claimed)
            if not claimed:
                return outcome
            orders = {
                order.id: order
                for order in await session.scalars(
                    select(Order)
                    .where(Order.id.in_([row.order_id for row in claimed]))
                    .options(raiseload(Order.history))
                )
            }
            # Tasks made in acceptance order take the semaphore in that order, so the oldest
            # orders are started first however many are in flight (a later pass claims later
            # orders, so its tasks queue behind these).
            ends = await asyncio.gather(
                *(self._start(orders[row.order_id], row.trace_context) for row in claimed)
            )
            failures = []
            for row, error in zip(claimed, ends, strict=True):
                if isinstance(error, datetime):
                    outcome.started.append(row.order_id)
                    outcome.started_at[row.order_id] = error
                    continue
                attempts = row.attempts + 1
                failures.append(
                    {
                        "id": row.id,
                        "attempts": attempts,
                        "next_attempt_at": datetime.now(UTC)
                        + retry_delay(attempts, self._settings.relay_retry_max_seconds),
                        "last_error": f"{type(error).__name__}: {error}"[:MAX_ERROR_CHARS],
                    }
                )
            outcome.failed = len(failures)
            await record_started(session, outcome.started_at)
            if failures:
                await session.execute(update(WorkflowStart), failures)
        STARTS.inc(len(outcome.started))
        STARTS_FAILED.inc(outcome.failed)
        return outcome

    async def _start(
        self, order: Order, trace_context: dict[str, str] | None
    ) -> BaseException | datetime:
        """The start's failure, or the time it returned."""
        async with self._slots:
            try:
                # Each start is a task of its own, so attaching the trace here touches no other.
                with resumed_trace(trace_context):
                    await start_fulfillment(
                        self._client, self._settings.task_queue, order, self._retry_profile
                    )
            except Exception as exc:
                if temporal_unreachable(exc):
                    logger.warning("Temporal unreachable; order %s waits for a retry", order.id)
                else:
                    logger.warning("could not start order %s", order.id, exc_info=True)
                return exc
        started_at = datetime.now(UTC)
        START_LAG.observe(max((started_at - order.created_at).total_seconds(), 0.0))
        return started_at

    async def refresh_backlog(self) -> None:
        async with self._sessions() as session:
            pending, oldest = (
                await session.execute(
                    select(func.count(WorkflowStart.id), func.min(WorkflowStart.enqueued_at))
                )
            ).one()
        BACKLOG.set(pending)
        self._oldest_pending = oldest

    def oldest_pending_age_seconds(self) -> float:
        oldest = self._oldest_pending
        return max((datetime.now(UTC) - oldest).total_seconds(), 0.0) if oldest else 0.0

    async def run(self, stop: asyncio.Event) -> None:
        """Drain on every notification and every poll interval until `stop` is set.

        A wake-up does not wait for the pass before it to finish its batch: it begins a pass of
        its own, up to OVERLAPPING_PASSES at once, so an order's start waits for a free start
        slot, not for the slowest start of a batch claimed before it was accepted.
        """
        OLDEST_PENDING_AGE.set_function(self.oldest_pending_age_seconds)
        RUNNING.set(1)
        wake = asyncio.Event()
        listener = asyncio.create_task(self._listen_forever(wake), name="relay-listener")
        passes: set[asyncio.Task[None]] = set()
        try:
            while not stop.is_set():
                if len(passes) >= OVERLAPPING_PASSES:
                    # A wake-up meanwhile is kept: the pass begun when one ends serves it.
                    await asyncio.wait(passes, return_when=asyncio.FIRST_COMPLETED)
                    continue
                # Cleared before the pass, so a commit during the pass wakes the next one.
                wake.clear()
                one = asyncio.create_task(self._pass(), name="relay-pass")
                passes.add(one)
                one.add_done_callback(passes.discard)
                await _first_of(wake, stop, timeout=self._settings.relay_poll_seconds)
        finally:
            # Passes under way finish their starts and record them before the relay stops.
            await asyncio.gather(*passes, return_exceptions=True)
            listener.cancel()
            with suppress(asyncio.CancelledError):
                await listener
            RUNNING.set(0)

    async def _pass(self) -> None:
        try:
            await self.drain()
            await self.refresh_backlog()
        except Exception:
            # PostgreSQL away: the next wake-up or poll tries again.
            logger.warning("relay pass failed; retrying", exc_info=True)

    async def _listen_forever(self, wake: asyncio.Event) -> None:
        conninfo = libpq_conninfo(self._settings.effective_database_url)
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    conninfo, autocommit=True, connect_timeout=5
                ) as connection:
                    await connection.execute(f"LISTEN {WORKFLOW_START_CHANNEL}")
                    # Commits made while not listening were notified to no one.
                    wake.set()
                    async for _ in connection.notifies():
                        wake.set()
            except (psycopg.Error, OSError):
                logger.warning("relay listener lost its connection", exc_info=True)
            await asyncio.sleep(RECONNECT_DELAY_SECONDS)


async def _first_of(
    wake: asyncio.Event,
    stop: asyncio.Event,
    *,
    timeout: float | None,
    also: asyncio.Future[Any] | None = None,
) -> None:
    """Wait until either event is set (or `also` is done), or the timeout passes."""
    waits = [asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stop.wait())]
    try:
        await asyncio.wait(
            [*waits, *([also] if also else [])],
            timeout=timeout,
            return_when=asyncio.FIRST_COMPLETED,
        )
    finally:
        for waiting in waits:
            waiting.cancel()


async def relay_until_stopped(
    settings: Settings,
    client: Client,
    sessions: async_sessionmaker[AsyncSession],
    stop: asyncio.Event,
) -> None:
    """A relay from now until `stop` is set and the starts it has in flight are recorded."""
    relay = Relay(settings, sessions, client)
    logger.info("relay started for task queue %r", settings.task_queue)
    await relay.run(stop)
    logger.info("relay stopped")


async def run_relay(settings: Settings) -> None:
    """`order-api relay`: a relay alone in its process, with its metrics on a port of its own."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    with serve_metrics(settings.relay_metrics_host, settings.relay_metrics_port) as bound:
        logger.info("relay metrics at http://%s:%s/metrics", settings.relay_metrics_host, bound)
        connecting = asyncio.create_task(connect_when_reachable(settings))
        await _first_of(asyncio.Event(), stop, timeout=None, also=connecting)
        if not connecting.done():
            # Stopped while Temporal was still away.
            connecting.cancel()
            return
        engine = make_engine(
            settings.effective_database_url, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW
        )
        try:
            await relay_until_stopped(
                settings, connecting.result(), make_session_factory(engine), stop
            )
        finally:
            await engine.dispose()


def main() -> None:
    settings = settings_or_exit()
    configure_logging(
        settings.log_level, json_lines=settings.effective_log_format is LogFormat.JSON
    )
    configure_tracing("order-relay", export_to_console=settings.otel_console_export)
    asyncio.run(run_relay(settings))
