"""`X-Request-ID`: the caller's when it sends a usable one, else a new one; always returned."""

from __future__ import annotations

import re
import uuid

from fastapi import FastAPI
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from foundation.telemetry import LogField, bind_log_context

REQUEST_ID_HEADER = "X-Request-ID"
# Bounded and plain, so a caller cannot put arbitrary text (or a log-line break) into every line.
ACCEPTED_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def request_id_for(sent: str | None) -> str:
    if sent is not None and ACCEPTED_REQUEST_ID.fullmatch(sent):
        return sent
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Pure ASGI, so a request costs one wrapped `send`, not a task and a response copy."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_for(Headers(scope=scope).get(REQUEST_ID_HEADER))
        # Set before the app runs, so every line logged while answering carries it.
        bind_log_context({LogField.REQUEST_ID: request_id})

        async def send_with_request_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        await self.app(scope, receive, send_with_request_id)


def install_request_id(app: FastAPI) -> None:
    app.add_middleware(RequestIdMiddleware)
