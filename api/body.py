"""JSON request bodies parsed as a dependency, so they are checked after auth and headers.

FastAPI parses a declared body before it runs any dependency: a malformed body would answer 422
to a caller with no token. Parsing in a dependency declared last keeps the documented order:
401/403, then 400 for headers, then 429, then 415/422 for the body.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from api.problems import ProblemError

Model = TypeVar("Model", bound=BaseModel)


def _is_json(content_type: str | None) -> bool:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def json_body(model: type[Model]) -> Callable[[Request], Coroutine[Any, Any, Model]]:
    async def parse(request: Request) -> Model:
        raw = await request.body()
        if not raw:
            _require_json(request)
            raise RequestValidationError(
                [{"type": "missing", "loc": ("body",), "msg": "Field required"}]
            )
        return _validate(model, request, raw)

    return parse


def optional_json_body(
    model: type[Model],
) -> Callable[[Request], Coroutine[Any, Any, Model | None]]:
    """Like json_body, but an empty body is allowed and means "no body"."""

    async def parse(request: Request) -> Model | None:
        raw = await request.body()
        return _validate(model, request, raw) if raw else None

    return parse


def _require_json(request: Request) -> None:
    if not _is_json(request.headers.get("content-type")):
        raise ProblemError(
            415, "unsupported-media-type", "The request body must be application/json."
        )


def _validate(model: type[Model], request: Request, raw: bytes) -> Model:
    _require_json(request)
    try:
        # Parsed here first only to report malformed JSON with its position in our own words.
        json.loads(raw)
    except (ValueError, RecursionError) as exc:
        # RecursionError: deeply nested arrays are valid JSON that Python cannot decode.
        position = exc.pos if isinstance(exc, json.JSONDecodeError) else 0
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("body", position), "msg": "JSON decode error"}]
        ) from None
    try:
        # From the JSON text, so strict models tell JSON types apart (a string is not a number)
        # and still read enums from their string values.
        return model.model_validate_json(raw)
    except ValidationError as exc:
        errors = [
            {"type": e["type"], "loc": ("body", *e["loc"]), "msg": e["msg"]}
            for e in exc.errors(include_url=False, include_input=False)
        ]
        raise RequestValidationError(errors) from None
