"""RFC 9457 problem details: the one shape every error response takes."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import psycopg
import psycopg_pool
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE_BASE = "https://order-api.example/problems/"

logger = logging.getLogger(__name__)


class FieldError(BaseModel):
    pointer: str = Field(
        description="JSON pointer (RFC 6901) into the request, e.g. /body/items/0/sku"
    )
    detail: str


class Problem(BaseModel):
    """The documented error body."""

    type: str = Field(
        description="absolute URI naming the problem type", json_schema_extra={"format": "uri"}
    )
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldError] | None = None


class ProblemError(Exception):
    """Raise anywhere in a request to answer with a problem+json body."""

    def __init__(
        self,
        status: int,
        slug: str,
        detail: str,
        *,
        title: str | None = None,
        headers: Mapping[str, str] | None = None,
        errors: list[FieldError] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.detail = detail
        self.title = title or HTTPStatus(status).phrase
        self.headers = dict(headers or {})
        self.errors = errors


def problem_response(
    request: Request,
    status: int,
    slug: str,
    detail: str,
    *,
    title: str | None = None,
    headers: Mapping[str, str] | None = None,
    errors: list[FieldError] | None = None,
) -> JSONResponse:
    body = Problem(
        type=PROBLEM_TYPE_BASE + slug,
        title=title or HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        instance=request.url.path,
        errors=errors,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        headers=dict(headers or {}),
        media_type=PROBLEM_JSON,
    )


def _pointer(location: tuple[Any, ...]) -> str:
    return "/" + "/".join(str(part).replace("~", "~0").replace("/", "~1") for part in location)


_HTTP_SLUGS = {
    404: "not-found",
    405: "method-not-allowed",
    413: "payload-too-large",
    415: "unsupported-media-type",
}


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _allowed_methods(app: FastAPI, request: Request) -> list[str]:
    """Every method some route at the request's path takes. Starlette's 405 names only the first
    matching route's, and GET and POST /orders are two routes."""
    return [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL
            for route in app.router.routes
        )
    ]


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> JSONResponse:
        return problem_response(
            request, exc.status, exc.slug, exc.detail,
            title=exc.title, headers=exc.headers, errors=exc.errors,
        )  # fmt: skip

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            FieldError(pointer=_pointer(tuple(e["loc"])), detail=e["msg"]) for e in exc.errors()
        ]
        return problem_response(
            request, 422, "validation-error", "The request is not valid; see errors.", errors=errors
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        slug = _HTTP_SLUGS.get(exc.status_code, "http-error")
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(_allowed_methods(app, request))
        return problem_response(request, exc.status_code, slug, detail, headers=headers)

    async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
        # Connection refused, dropped or pool exhausted: transient, so 503 and retry, not 500.
        logger.warning(
            "database unavailable on %s %s", request.method, request.url.path, exc_info=True
        )
        return problem_response(
            request,
            503,
            "service-unavailable",
            "The service cannot reach its database right now; retry shortly.",
            headers={"Retry-After": "5"},
        )

    for unavailable in (
        OperationalError,
        InterfaceError,
        PoolTimeoutError,
        psycopg.OperationalError,
        psycopg_pool.PoolTimeout,
    ):
        app.add_exception_handler(unavailable, _database_unavailable)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Log the cause for operators; the client gets no stack trace, SQL or internals.
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(request, 500, "internal-error", "An unexpected error occurred.")
