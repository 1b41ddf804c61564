"""Async engine and session factory (psycopg 3), and a pool of the driver's own connections."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import psycopg
from opentelemetry.trace import SpanKind
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from sqlalchemy.engine import make_url
from sqlalchemy.ext import asyncio as sqlalchemy_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from foundation.telemetry import tracer


def make_engine(database_url: str, *, pool_size: int = 10, max_overflow: int = 10) -> AsyncEngine:
    # Looked up at call time, so the database instrumentation's wrapper (foundation.telemetry)
    # sees every engine made after tracing is configured.
    return sqlalchemy_asyncio.create_async_engine(
        database_url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        # No ping per checkout: it is a round trip on every transaction. A connection that died
        # (PostgreSQL restarted) fails its statement instead, which is answered 503, and the
        # disconnect invalidates the pool's older connections, so the next checkout is fresh.
        pool_pre_ping=False,
        # A bounded connect so readiness and requests fail fast when PostgreSQL is down.
        connect_args={"connect_timeout": 5},
    )


def make_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def make_read_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions for reads that are one statement each, on autocommit connections.

    One statement is its own consistent snapshot, so the transaction around it would only add
    a BEGIN and a ROLLBACK: two round trips on every read of the hot paths.
    """
    return async_sessionmaker(
        engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False
    )


DriverPool = AsyncConnectionPool[AsyncConnection[Any]]
READ_SPAN_ATTRIBUTES = {"db.system": "postgresql", "db.operation.name": "SELECT"}


def libpq_conninfo(database_url: str) -> str:
    """The database URL as the driver takes it (no `+psycopg` dialect suffix)."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def make_read_pool(database_url: str, *, size: int, name: str) -> DriverPool:
    """Autocommit driver connections, for a hot read that is one statement of plain SQL.

    Such a read needs nothing of the ORM session, SQLAlchemy's pool or the greenlet bridge
    between them, which were about half of the API's CPU for GET /orders/{id} under load.
    Fixed size, opened in the background: a process that starts while PostgreSQL is down still
    starts, and its reads wait at most 2 s for a connection, then fail (answered 503).
    """
    return AsyncConnectionPool(
        libpq_conninfo(database_url),
        min_size=size,
        max_size=size,
        kwargs={"autocommit": True, "connect_timeout": 5},
        timeout=2,
        open=False,
        name=name,
    )


async def read_one(
    pool: DriverPool, query: str, params: Mapping[str, Any], *, table: str
) -> tuple[Any, ...] | None:
    """The first row of a one-statement read on `pool`, or None; traced as the database
    instrumentation traces the statements of the other paths."""
    with tracer().start_as_current_span(
        f"SELECT {table}", kind=SpanKind.CLIENT, attributes=READ_SPAN_ATTRIBUTES
    ):
        try:
            async with pool.connection() as connection:
                cursor = await connection.execute(query, params)
                return await cursor.fetchone()
        except psycopg.OperationalError:
            # PostgreSQL restarted or went away. Every pooled connection is dead then, but would
            # fail only when used (a check per checkout is a round trip per read), each failing a
            # request in turn: sweep them all now, while this read is answered 503.
            _sweep(pool)
            raise


_sweeps: dict[int, asyncio.Task[None]] = {}


def _sweep(pool: DriverPool) -> None:
    running = _sweeps.get(id(pool))
    if running is None or running.done():
        _sweeps[id(pool)] = asyncio.get_running_loop().create_task(pool.check())
