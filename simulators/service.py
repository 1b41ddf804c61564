"""What both simulators share: the app skeleton, the per-request session, the health check."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import MetaData, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from foundation.telemetry import configure_logging
from simulators.errors import error_response, error_responses, install_error_handlers
from simulators.faults import FaultInjector
from simulators.settings import SimulatorSettings
from simulators.storage import create_ledger, make_session_factory, open_ledger


async def _session_factory(request: Request) -> async_sessionmaker[AsyncSession]:
    return request.app.state.session_factory  # type: ignore[no-any-return]


async def _session(
    factory: Annotated[async_sessionmaker[AsyncSession], Depends(_session_factory)],
) -> AsyncIterator[AsyncSession]:
    """One session per request; the ledger opens and commits its own transactions in it."""
    async with factory() as session:
        yield session


DbSession = Annotated[AsyncSession, Depends(_session)]


class Health(BaseModel):
    status: str


health_router = APIRouter(tags=["health"])


@health_router.get(
    "/health",
    response_model=Health,
    summary="The simulator and its ledger answer",
    responses=error_responses(503),
)
async def health(request: Request, session: DbSession) -> Health | JSONResponse:
    timeout: float = request.app.state.health_timeout
    try:
        await asyncio.wait_for(session.execute(text("SELECT 1")), timeout)
    except Exception:
        return error_response(
            503, "ledger_unavailable", f"The ledger did not answer within {timeout}s."
        )
    return Health(status="ok")


class FaultSettings(BaseModel):
    """The whole-simulator faults, changeable at run time (until the process restarts)."""

    error_rate: float = Field(ge=0.0, le=1.0, description="share of requests answered 503")
    latency_ms: int = Field(ge=0, le=60_000, description="delay before every answer")


faults_router = APIRouter(prefix="/faults", tags=["fault injection"])


@faults_router.get("", response_model=FaultSettings, summary="The faults in force")
async def get_faults(request: Request) -> FaultSettings:
    faults: FaultInjector = request.app.state.faults
    return FaultSettings(error_rate=faults.error_rate, latency_ms=faults.latency_ms)


@faults_router.put(
    "",
    response_model=FaultSettings,
    summary="Take the service down or slow it, and bring it back (demos of outages)",
)
async def put_faults(request: Request, wanted: FaultSettings) -> FaultSettings:
    faults: FaultInjector = request.app.state.faults
    faults.error_rate, faults.latency_ms = wanted.error_rate, wanted.latency_ms
    return wanted


def build_app(
    *,
    title: str,
    summary: str,
    settings: SimulatorSettings,
    ledger: Path,
    metadata: MetaData,
    faults: FaultInjector,
    routers: Sequence[APIRouter],
) -> FastAPI:
    """A simulator app whose ledger is the SQLite file `ledger`, with `metadata`'s tables."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.log_level)
        # A file of its own, never the Order API's database: a third party keeps answering
        # while the product's PostgreSQL is down.
        engine = open_ledger(ledger)
        await create_ledger(engine, metadata)
        app.state.session_factory = make_session_factory(engine)
        yield
        await engine.dispose()

    app = FastAPI(title=title, version="0.1.0", summary=summary, lifespan=lifespan)
    app.state.faults = faults
    app.state.health_timeout = settings.readiness_timeout_seconds
    install_error_handlers(app)
    app.include_router(health_router)
    app.include_router(faults_router)
    for router in routers:
        app.include_router(router)
    return app
