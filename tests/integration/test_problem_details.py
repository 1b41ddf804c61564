"""Every error the app can produce is RFC 9457 problem+json, and none leaks internals."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Callable
from urllib.parse import urlparse

import httpx
import pytest
from sqlalchemy.exc import ProgrammingError

from api.main import create_app
from api.orders.views import OrderViews
from foundation.settings import Settings
from processes.devstack.ports import free_port

pytestmark = pytest.mark.integration
Auth = Callable[..., dict[str, str]]
Serve = Callable[[Settings], AsyncIterator[httpx.AsyncClient]]
LEAKY_SQL = "SELECT secret_column FROM orders WHERE customer_id = 'alice'"


def assert_problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, object] = response.json()
    type_uri = urlparse(str(problem["type"]))
    assert type_uri.scheme == "https" and type_uri.netloc, "type must be an absolute URI"
    assert problem["status"] == status
    assert problem["title"] and problem["detail"]
    return problem


@pytest.fixture
async def unraising_api(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app over a transport that hands back its 500s instead of re-raising the cause."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            yield client


async def test_unknown_path_is_a_404_problem(api: httpx.AsyncClient) -> None:
    assert_problem(await api.get("/no/such/thing"), 404)


async def test_unsupported_method_is_a_405_problem_naming_the_allowed_ones(
    api: httpx.AsyncClient,
) -> None:
    response = await api.delete("/products")
    assert_problem(response, 405)
    assert response.headers["Allow"] == "GET"


async def test_a_405_names_the_methods_of_every_route_at_the_path(api: httpx.AsyncClient) -> None:
    response = await api.delete("/orders")
    assert_problem(response, 405)
    assert response.headers["Allow"] == "GET, POST"


async def test_unexpected_exception_is_a_generic_500_with_no_trace_or_sql(
    unraising_api: httpx.AsyncClient,
    auth: Auth,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(*args: object, **kwargs: object) -> None:
        raise ProgrammingError(LEAKY_SQL, {}, Exception('relation "orders" does not exist'))

    monkeypatch.setattr(OrderViews, "find", broken)
    with caplog.at_level(logging.ERROR):
        response = await unraising_api.get(f"/orders/{uuid.uuid4()}", headers=auth())
    problem = assert_problem(response, 500)
    assert problem["detail"] == "An unexpected error occurred."
    for leak in ("Traceback", "secret_column", "SELECT", "relation", "ProgrammingError"):
        assert leak not in response.text
    assert "secret_column" in caplog.text, "operators still get the cause in the log"


async def test_unreachable_database_is_a_503_problem_with_retry_after(
    settings: Settings, serve_app: Serve, auth: Auth
) -> None:
    dead_url = f"postgresql+psycopg://postgres:hunter2@127.0.0.1:{free_port()}/orders"
    async for api in serve_app(settings.model_copy(update={"database_url": dead_url})):
        response = await api.get(f"/orders/{uuid.uuid4()}", headers=auth())
    assert_problem(response, 503)
    assert int(response.headers["Retry-After"]) > 0
    assert "hunter2" not in response.text and "127.0.0.1" not in response.text


async def test_missing_token_is_a_401_problem(api: httpx.AsyncClient) -> None:
    assert_problem(await api.get(f"/orders/{uuid.uuid4()}"), 401)


async def test_missing_scope_is_a_403_problem(api: httpx.AsyncClient, auth: Auth) -> None:
    response = await api.get(f"/orders/{uuid.uuid4()}", headers=auth(scopes=("orders:write",)))
    assert_problem(response, 403)
