"""Who may ask the codec server to decrypt: it hands out customer data in clear.

Production: an admin token, and from a browser only the Temporal UI's origin. Dev: callers on
loopback only (no token, so the dev UI works as it is), and browsers only from the dev UI's origin.
Either way the answers carry CORS headers for that origin, since the UI calls from its own page.
"""

from __future__ import annotations

from ipaddress import ip_address

from fastapi import Request, Response

from api.auth import authenticate_with_scope
from api.problems import ProblemError
from foundation.domain import Scope
from foundation.settings import Environment, Settings

ALLOWED_METHODS = "POST, OPTIONS"
# What the UI sends: its JSON, the namespace it shows and, if configured, its access token.
ALLOWED_HEADERS = "Content-Type, X-Namespace, Authorization"
PREFLIGHT_CACHE_SECONDS = "600"


def _is_loopback(host: str | None) -> bool:
    try:
        return host is not None and ip_address(host).is_loopback
    except ValueError:
        return False


def _check_origin(request: Request, settings: Settings) -> None:
    origin = request.headers.get("origin")
    if origin is not None and origin not in settings.codec_allowed_origins:
        raise ProblemError(
            403, "origin-not-allowed", "The codec server answers only the Temporal UI's origin."
        )


def _check_network(request: Request, settings: Settings) -> None:
    if settings.environment is Environment.DEV and not _is_loopback(
        request.client.host if request.client else None
    ):
        raise ProblemError(
            403, "loopback-only", "In dev the codec server answers callers on loopback only."
        )


async def require_codec_access(request: Request) -> None:
    """The dependency of the encode and decode routes."""
    settings: Settings = request.app.state.settings
    _check_network(request, settings)
    _check_origin(request, settings)
    if settings.environment is Environment.PRODUCTION:
        await authenticate_with_scope(request, Scope.ADMIN)


def allow_origin(request: Request, response: Response) -> None:
    """CORS headers for an allowed browser origin (the request has passed the checks)."""
    origin = request.headers.get("origin")
    response.headers["Vary"] = "Origin"
    if origin is not None:
        response.headers["Access-Control-Allow-Origin"] = origin
        # The UI may be configured to send credentials (its access token, or cookies).
        response.headers["Access-Control-Allow-Credentials"] = "true"


def preflight(request: Request) -> Response:
    """The answer to the browser's OPTIONS before the UI's POST; it carries no token."""
    settings: Settings = request.app.state.settings
    _check_network(request, settings)
    if request.headers.get("origin") is None:
        raise ProblemError(400, "not-a-preflight", "A CORS preflight names its Origin.")
    _check_origin(request, settings)
    response = Response(status_code=204)
    allow_origin(request, response)
    response.headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
    response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
    response.headers["Access-Control-Max-Age"] = PREFLIGHT_CACHE_SECONDS
    return response
