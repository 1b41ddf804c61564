"""Where a simulator keeps its ledger: an SQLite file of its own, never the Order API's database.

A real third party does not fail when the Order API's PostgreSQL does, so neither may its
stand-in. Each simulator creates its tables at startup (`create_ledger`); the file lives under
the data directory (see `simulators.settings`) and survives restarts, attempt counters included.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Dialect, Integer, MetaData, String, event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator

# Deterministic constraint names, as in the product's models, so a ledger file reads the same
# way whichever version of the simulator created it.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# How long a transaction waits for another process's write lock on the same file before it
# fails; generous, because a wait is normal under load and a failure is a 500.
BUSY_TIMEOUT_SECONDS = 30.0


def ledger_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


def utc_now() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A moment in UTC. SQLite stores no time zone, so it is dropped on the way in and put back
    on the way out: callers always see aware datetimes, as they did from PostgreSQL."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class AttemptCounter:
    """Tries per Idempotency-Key of a request the simulator fails until its Nth try.

    Counted in the ledger file, not in memory, so the count survives a restart and is shared by
    every process serving the simulator.
    """

    idempotency_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    last_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


def open_ledger(path: Path) -> AsyncEngine:
    """An engine on the ledger file at `path`, made with its directory if missing.

    SQLite has no row locks, so the ledger's guarantees (one row per Idempotency-Key however many
    requests race, refunds never above the charge) rest on transactions never interleaving:
    - one pooled connection per process queues this process's transactions one after another,
      without the busy-waiting SQLite would otherwise do between them;
    - every transaction starts with BEGIN IMMEDIATE, which takes the file's write lock at once,
      so another process on the same file cannot read between our read and our write (with a
      plain BEGIN, both could read "no charge for this key" and the second write would fail).
    WAL lets readers in other processes (an operator's sqlite3 shell) work during a write.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(
        f"sqlite+aiosqlite:///{path}",
        pool_size=1,
        max_overflow=0,
        connect_args={"timeout": BUSY_TIMEOUT_SECONDS},
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _configure(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # The driver must not open transactions itself: `_begin` below does, immediately.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


async def create_ledger(engine: AsyncEngine, metadata: MetaData) -> None:
    """Create the tables the file lacks; an existing ledger is kept as it is."""
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)


def make_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
