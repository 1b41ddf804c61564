"""Dead-letter endpoints (admin scope)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from api.auth import Admin
from api.dead_letters.schemas import DeadLetterPage, RedriveOut
from api.dead_letters.service import DeadLetterService
from api.dependencies import AppSettings, SessionFactory, TemporalClient
from api.responses import REDRIVE_FIRST_LINK, problem_response_doc, problem_responses

router = APIRouter(prefix="/dead-letters", tags=["dead letters"])
# Ids are PostgreSQL bigints: a larger number is a client error, not a database one.
MAX_ID = 2**63 - 1


async def _service(
    settings: AppSettings, sessions: SessionFactory, temporal: TemporalClient
) -> DeadLetterService:
    return DeadLetterService(settings, sessions, temporal)


Service = Annotated[DeadLetterService, Depends(_service)]


@router.get(
    "",
    response_model=DeadLetterPage,
    summary="List unresolved dead letters, oldest first",
    responses={200: {"links": REDRIVE_FIRST_LINK}, **problem_responses(401, 403, 422, 503)},
)
async def list_dead_letters(
    _: Admin,
    service: Service,
    after: Annotated[
        int, Query(ge=0, le=MAX_ID, description="the `next_after` of the previous page")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> DeadLetterPage:
    return await service.page(after=after, limit=limit)


@router.post(
    "/{dead_letter_id}/redrive",
    status_code=202,
    response_model=RedriveOut,
    summary="Run the dead-lettered order's workflow again",
    responses={
        **problem_responses(401, 403, 404, 422, 503),
        **problem_response_doc(409, {"dead-letter-resolved": "the order completed since"}),
    },
)
async def redrive(
    dead_letter_id: Annotated[int, Path(ge=1, le=MAX_ID)], _: Admin, service: Service
) -> RedriveOut:
    return await service.redrive(dead_letter_id)
