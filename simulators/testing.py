"""Running a simulator in tests.

`in_process_client` calls it within the test's event loop, for the simulator's own tests;
`serve_in_background` puts it on a real port, for code under test that calls it over HTTP
(activities in workflow tests).
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress

import httpx
import uvicorn
from fastapi import FastAPI

from orderapi.devstack.ports import port_is_open

START_TIMEOUT_SECONDS = 15.0
STOP_TIMEOUT_SECONDS = 10.0


@asynccontextmanager
async def in_process_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client that calls `app` in this event loop, its lifespan (engine) running around it."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://simulator") as client:
            yield client


@contextmanager
def serve_in_background(app: FastAPI, port: int, *, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve `app` with uvicorn in a thread until the block exits; yields its base URL.

    The server runs its own event loop in that thread, so the app's engine and connections
    belong to it and never to the test's loop.
    """
    # log_config=None: leave the test run's logging alone.
    server = uvicorn.Server(
        uvicorn.Config(app, host=host, port=port, log_config=None, log_level="warning")
    )

    def run() -> None:
        # SystemExit is how uvicorn gives up at startup (port taken, lifespan failed), after
        # logging why; the wait below reports it as the thread ending.
        with suppress(SystemExit):
            server.run()

    thread = threading.Thread(target=run, name=f"uvicorn-{host}:{port}", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not (server.started and port_is_open(port, host)):
            if not thread.is_alive():
                raise RuntimeError(
                    f"the server for {host}:{port} stopped while starting; "
                    "the uvicorn.error log says why"
                )
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"nothing answered on {host}:{port} within {START_TIMEOUT_SECONDS}s"
                )
            time.sleep(0.05)
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(STOP_TIMEOUT_SECONDS)
        if thread.is_alive():
            # Open connections keep a graceful shutdown waiting; a test run must not.
            server.force_exit = True
            thread.join(STOP_TIMEOUT_SECONDS)
