"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from api.dependencies import AppSettings, SessionFactory, TemporalClient
from api.problems import problem_response
from api.responses import problem_responses

router = APIRouter(prefix="/health", tags=["health"])


class HealthOut(BaseModel):
    status: str
    checks: dict[str, str] = {}


@router.get("/live", response_model=HealthOut, summary="The process answers")
async def live() -> HealthOut:
    return HealthOut(status="ok")


@router.get(
    "/ready",
    response_model=HealthOut,
    summary="PostgreSQL and Temporal both answer",
    responses=problem_responses(503),
)
async def ready(
    request: Request, settings: AppSettings, sessions: SessionFactory, temporal: TemporalClient
) -> HealthOut | JSONResponse:
    timeout = settings.readiness_timeout_seconds

    async def postgres() -> None:
        async with sessions() as session:
            await session.execute(text("SELECT 1"))

    async def temporal_server() -> None:
        await temporal.service_client.check_health(timeout=timedelta(seconds=timeout))

    names = ("postgres", "temporal")
    results = await asyncio.gather(
        *(asyncio.wait_for(check(), timeout) for check in (postgres, temporal_server)),
        return_exceptions=True,
    )
    checks = {n: "ok" if r is None else "unavailable" for n, r in zip(names, results, strict=True)}
    down = [n for n, state in checks.items() if state != "ok"]
    if down:
        return problem_response(
            request,
            503,
            "not-ready",
            f"Not ready: {', '.join(down)} did not answer within {timeout}s.",
        )
    return HealthOut(status="ok", checks=checks)
