"""A cap on request body size, enforced as bytes arrive, before anything parses them."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import problem_response


class BodySizeLimit:
    """413 for a body over `max_bytes`.

    A declared Content-Length over the limit is refused before a byte is read. Chunked bodies
    (no Content-Length) and bodies that lie about their length are counted as they are received,
    and the read that crosses the limit fails, so no handler ever holds more than the limit.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _detail(self) -> str:
        return f"The request body is larger than {self.max_bytes} bytes."

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            response = problem_response(Request(scope), 413, "payload-too-large", self._detail())
            await response(scope, receive, send)
            return

        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Raised inside the body read, so the problem handlers answer it.
                    raise HTTPException(413, self._detail())
            return message

        await self.app(scope, counting_receive, send)
