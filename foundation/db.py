"""Async engine and session factory (psycopg 3)."""

from __future__ import annotations

from sqlalchemy.ext import asyncio as sqlalchemy_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker


def make_engine(database_url: str, *, pool_size: int = 10) -> AsyncEngine:
    # Looked up at call time, so the database instrumentation's wrapper (foundation.telemetry)
    # sees every engine made after tracing is configured.
    return sqlalchemy_asyncio.create_async_engine(
        database_url,
        pool_size=pool_size,
        max_overflow=10,
        pool_pre_ping=True,
        # A bounded connect so readiness and requests fail fast when PostgreSQL is down.
        connect_args={"connect_timeout": 5},
    )


def make_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
