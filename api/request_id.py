"""`X-Request-ID`: the caller's when it sends a usable one, else a new one; always returned."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response

from foundation.telemetry import LogField, bind_log_context

REQUEST_ID_HEADER = "X-Request-ID"
# Bounded and plain, so a caller cannot put arbitrary text (or a log-line break) into every line.
ACCEPTED_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def request_id_for(sent: str | None) -> str:
    if sent is not None and ACCEPTED_REQUEST_ID.fullmatch(sent):
        return sent
    return uuid.uuid4().hex


def install_request_id(app: FastAPI) -> None:
    @app.middleware("http")
    async def _request_id(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        request_id = request_id_for(request.headers.get(REQUEST_ID_HEADER))
        # Set before the app runs, so every line logged while answering carries it.
        bind_log_context({LogField.REQUEST_ID: request_id})
        response = await call_next(request)
        response.headers[REQUEST_ID_HEADER] = request_id
        return response
