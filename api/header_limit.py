"""A cap on the total size of request headers, checked before anything reads them."""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from api.problems import problem_response


class HeaderSizeLimit:
    """431 for a request whose header names and values together exceed `max_bytes`.

    The HTTP server may have a limit of its own (`order-api run` sets uvicorn's); this one holds
    under any server, and runs outermost so no middleware, token check or handler sees the headers.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            size = sum(len(name) + len(value) for name, value in scope["headers"])
            if size > self.max_bytes:
                # Built from the path alone: the oversized headers are never looked at.
                request = Request({**scope, "headers": []})
                response = problem_response(
                    request,
                    431,
                    "request-header-fields-too-large",
                    f"The request headers are larger than {self.max_bytes} bytes in total.",
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
