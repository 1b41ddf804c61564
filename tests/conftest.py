"""Session fixtures: a real PostgreSQL and a real Temporal dev server, on free loopback ports.

Each test session gets its own data directory, ports, database and task queue, so the suite
never collides with a running `make run` and can run twice in a row.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest
from fastapi import FastAPI
from psycopg.errors import DeadlockDetected
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.worker import Worker

from api.main import create_app
from foundation.db import make_engine, make_session_factory
from foundation.migrate import upgrade_to_head
from foundation.settings import Settings
from foundation.temporal_client import connect_temporal
from foundation.tokens import DEFAULT_SCOPES, mint_dev_token
from processes.devstack.ports import free_port
from processes.devstack.postgres import EmbeddedPostgres
from processes.devstack.temporal import TemporalDevServer
from processes.relay import Relay
from processes.worker import fulfillment_worker
from simulators.carrier.app import create_app as create_carrier
from simulators.payment_gateway.app import create_app as create_gateway
from simulators.settings import SimulatorSettings
from tests.support import (
    FUZZ_CASES,
    FUZZ_SUCCESSES,
    SUITE_PAYLOAD_KEYS,
    in_process_client,
    running_relay,
    serve_over_http,
)

# Tries at emptying the tables before a test: a deadlock with a straggler is retried.
TRUNCATE_ATTEMPTS = 3


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(
        tmp_path_factory.mktemp("postgres") / "data", free_port(), durable=False
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def database_url(postgres: EmbeddedPostgres) -> str:
    postgres.create_database("orders")
    url = postgres.url("orders")
    upgrade_to_head(url)
    return url


@pytest.fixture(scope="session")
def temporal_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TemporalDevServer]:
    server = TemporalDevServer(
        port=free_port(),
        ui_port=None,
        db_file=None,
        log_file=tmp_path_factory.mktemp("temporal") / "temporal.log",
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def simulator_settings(tmp_path_factory: pytest.TempPathFactory) -> SimulatorSettings:
    """The session's simulators keep their ledgers in a directory of this session's own."""
    return SimulatorSettings(data_dir=tmp_path_factory.mktemp("simulators"))


@pytest.fixture(scope="session")
def settings(
    database_url: str, temporal_server: TemporalDevServer, simulator_settings: SimulatorSettings
) -> Iterator[Settings]:
    """Settings for this test session, with the payment and carrier simulators listening."""
    base = Settings(
        database_url=database_url,
        temporal_address=temporal_server.address,
        task_queue=f"orders-test-{uuid.uuid4().hex[:8]}",
        # Retries of a failed start soon after Temporal is back, not the production 10 s.
        relay_retry_max_seconds=2.0,
        retry_profile="demo",
        # Given, so no key file is written into the checkout.
        payload_keys=SUITE_PAYLOAD_KEYS,
    )
    with (
        serve_over_http(create_gateway(simulator_settings)) as gateway_url,
        serve_over_http(create_carrier(simulator_settings)) as carrier_url,
    ):
        yield base.model_copy(
            update={"payment_gateway_url": gateway_url, "carrier_url": carrier_url}
        )


@pytest.fixture(scope="session")
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(settings.effective_database_url)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return make_session_factory(engine)


@pytest.fixture(scope="session")
async def temporal(settings: Settings) -> Client:
    return await connect_temporal(settings)


@pytest.fixture(scope="session")
async def worker(
    temporal: Client, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[Worker]:
    async with fulfillment_worker(temporal, settings, sessions) as worker:
        yield worker


@pytest.fixture
async def relay(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], temporal: Client
) -> AsyncIterator[Relay]:
    """The relay that starts accepted orders' workflows, for the length of one test."""
    async with running_relay(settings, sessions, temporal) as relay:
        yield relay


@pytest.fixture
async def clean_db(
    sessions: async_sessionmaker[AsyncSession], temporal: Client, settings: Settings
) -> None:
    """Integration tests that commit through the API start from no orders and no keys.

    Runs left by earlier tests still write to these tables; truncating under them deadlocks,
    so this first waits until they have finished.
    """
    running = f"TaskQueue = '{settings.task_queue}' AND ExecutionStatus = 'Running'"
    deadline = asyncio.get_running_loop().time() + 60
    while [run async for run in temporal.list_workflows(running)]:
        assert asyncio.get_running_loop().time() < deadline, "earlier test runs never finished"
        await asyncio.sleep(0.2)
    # workflow_starts first: a relay still finishing a pass locks it before orders, and taking
    # the locks in the same order cannot deadlock with it. Anything else that deadlocks with the
    # truncate (PostgreSQL then rolls one side back) is retried.
    for attempt in range(1, TRUNCATE_ATTEMPTS + 1):
        try:
            async with sessions.begin() as session:
                await session.execute(
                    text(
                        "TRUNCATE workflow_starts, orders, order_items, idempotency_keys,"
                        " order_status_history, stock_reservations, dead_letters CASCADE"
                    )
                )
            return
        except OperationalError as exc:
            if not isinstance(exc.orig, DeadlockDetected) or attempt == TRUNCATE_ATTEMPTS:
                raise


async def _serve(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with in_process_client(app) as client:
        yield client


@pytest.fixture
async def api(
    settings: Settings, worker: Worker, clean_db: None, relay: Relay
) -> AsyncIterator[httpx.AsyncClient]:
    """The real app, with a worker polling its task queue and a relay starting the orders it
    accepts, over an in-process transport."""
    async for client in _serve(create_app(settings)):
        yield client


@pytest.fixture
def serve_app() -> Callable[[Settings], AsyncIterator[httpx.AsyncClient]]:
    """For tests that need the app built on settings of their own (e.g. Temporal unreachable)."""
    return lambda settings: _serve(create_app(settings))


@pytest.fixture(scope="session")
def token(settings: Settings) -> Callable[..., str]:
    def mint(subject: str = "alice", scopes: tuple[str, ...] = DEFAULT_SCOPES) -> str:
        return mint_dev_token(settings, subject, scopes)

    return mint


@pytest.fixture(scope="session")
def auth(token: Callable[..., str]) -> Callable[..., dict[str, str]]:
    def headers(subject: str = "alice", key: str | None = None, **kw: object) -> dict[str, str]:
        result = {"Authorization": f"Bearer {token(subject, **kw)}"}
        if key is not None:
            result["Idempotency-Key"] = key
        return result

    return headers


@pytest.fixture
async def db_session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session inside a transaction that is rolled back: repository tests leave no trace."""
    async with engine.connect() as connection:
        transaction = await connection.begin()
        session = AsyncSession(bind=connection, join_transaction_mode="create_savepoint")
        try:
            yield session
        finally:
            await session.close()
            await transaction.rollback()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """How many cases the contract fuzz generated, and answered 2xx, so a run can report it."""
    if FUZZ_CASES:
        terminalreporter.write_sep(
            "-",
            f"schemathesis: {FUZZ_CASES.total()} generated cases, "
            f"{FUZZ_SUCCESSES.total()} answered 2xx",
        )
        terminalreporter.write_line(f"{'cases':>6}  {'2xx':>6}  run: operation")
        for label, count in sorted(FUZZ_CASES.items()):
            terminalreporter.write_line(f"{count:6d}  {FUZZ_SUCCESSES[label]:6d}  {label}")
