"""Benchmark-only baseline, not part of the service: FastAPI + async psycopg, one statement per
request, on the bench stack's PostgreSQL. The Order API is measured as a ratio to this app, so
the figures say what the service adds over the bare framework and driver on the same machine.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from fastapi import FastAPI, HTTPException

DSN = os.environ.get("BENCH_BARE_DSN", "postgresql://postgres@127.0.0.1:5432/orders")
POOL_SIZE = int(os.environ.get("BENCH_BARE_POOL_SIZE", "10"))
TABLE = "bench_bare_orders"
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    id bigserial PRIMARY KEY,
    customer_id text NOT NULL,
    body jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
)
"""


class SmallPool:
    """A fixed set of autocommit connections handed out in turn: the least a pool can do."""

    def __init__(self, dsn: str, size: int) -> None:
        self._dsn = dsn
        self._size = size
        self._idle: asyncio.Queue[psycopg.AsyncConnection[Any]] = asyncio.Queue()

    async def open(self) -> None:
        for _ in range(self._size):
            self._idle.put_nowait(await psycopg.AsyncConnection.connect(self._dsn, autocommit=True))

    async def close(self) -> None:
        while not self._idle.empty():
            await self._idle.get_nowait().close()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        conn = await self._idle.get()
        try:
            yield conn
        finally:
            self._idle.put_nowait(conn)


pool = SmallPool(DSN, POOL_SIZE)


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    await pool.open()
    yield
    await pool.close()


app = FastAPI(lifespan=lifespan)


@app.post("/insert", status_code=201)
async def insert(body: dict[str, Any]) -> dict[str, Any]:
    async with pool.connection() as conn:
        cur = await conn.execute(
            f"INSERT INTO {TABLE} (customer_id, body) VALUES (%s, %s) RETURNING id",
            ("bench", psycopg.types.json.Jsonb(body)),
        )
        row = await cur.fetchone()
    assert row is not None
    return {"id": row[0]}


@app.get("/select/{row_id}")
async def select(row_id: int) -> dict[str, Any]:
    async with pool.connection() as conn:
        cur = await conn.execute(
            f"SELECT id, customer_id, body, created_at FROM {TABLE} WHERE id = %s",
            (row_id,),
        )
        row = await cur.fetchone()
    if row is None:
        raise HTTPException(status_code=404)
    return {"id": row[0], "customer_id": row[1], "body": row[2], "created_at": row[3]}
