"""Every request dependency is a coroutine: FastAPI runs a plain `def` one on a worker thread,
a thread hop on every request for what is usually an attribute read."""

from __future__ import annotations

import inspect
from collections.abc import Iterator

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from api.main import create_app
from foundation.settings import Settings


def _calls(dependant: Dependant) -> Iterator[object]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from _calls(dependency)


def _api_routes(routes: list[BaseRoute]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        # An included router keeps its own routes behind it.
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _api_routes(included.routes)


def _is_coroutine(call: object) -> bool:
    return inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(
        getattr(call, "__call__", None)  # noqa: B004 - dependency classes such as HTTPBearer
    )


def test_every_dependency_of_every_route_runs_on_the_event_loop() -> None:
    routes = list(_api_routes(create_app(Settings()).routes))
    threaded = {
        f"{route.path}: {getattr(call, '__qualname__', call)}"
        for route in routes
        for call in _calls(route.dependant)
        if not _is_coroutine(call)
    }
    assert any(route.path == "/orders/{order_id}" for route in routes)
    assert not threaded
