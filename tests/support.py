"""Helpers the integration tests share."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from foundation.payload_keys import generate_keyring
from foundation.settings import Settings
from processes.relay import Relay
from workflows.order_fulfillment import STATUS_WRITES_IN_STEPS


def order_body(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "items": [{"sku": "WIDGET-1", "quantity": 2}, {"sku": "GIZMO-3", "quantity": 1}],
        "currency": "USD",
        "payment_method": "tok_visa",
        "shipping_address": {
            "name": "Alice Example",
            "line1": "1 Main St",
            "city": "Springfield",
            "postal_code": "12345",
            "country": "US",
        },
    }
    body.update(overrides)
    return body


async def eventually(check: Callable[[], object], *, timeout: float = 20.0) -> None:
    """Poll an async or sync assertion until it passes or the timeout runs out."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            result = check()
            if asyncio.iscoroutine(result):
                await result
            return
        except AssertionError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.2)


# Production refuses to start without payload keys; tests that build production settings use these.
PRODUCTION_PAYLOAD_KEYS = SecretStr(generate_keyring("production").to_text())
# The suite's own key, fixed (and secret from no one) so that histories recorded by
# `make histories`, which are encrypted with it, still replay in tests/unit/test_replay.py.
SUITE_PAYLOAD_KEYS = SecretStr(
    "suite:" + base64.b64encode(b"order-api-test-suite-payload-key").decode()
)

HISTORIES = Path(__file__).parent / "histories"
# Runs of every shape the workflow's commands have had may still be in flight, so the histories of
# each shape must keep replaying: the first shape's lie at the top, each later one's in a folder
# named after the patch that introduced it, and `make histories` refreshes only the current one.
CURRENT_HISTORIES = HISTORIES / STATUS_WRITES_IN_STEPS
# `make histories` sets this to refresh the committed histories the replay test checks.
RECORD_HISTORIES = os.environ.get("ORDER_API_RECORD_HISTORIES") == "1"


async def keep_history(handle: WorkflowHandle[Any, Any], name: str) -> None:
    """Save the run's history for the replay test, when asked to record."""
    if not RECORD_HISTORIES:
        return
    history = await handle.fetch_history()
    CURRENT_HISTORIES.mkdir(parents=True, exist_ok=True)
    (CURRENT_HISTORIES / f"{name}.json").write_text(history.to_json() + "\n")


def public_pem(private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    public = private_key.public_key()
    return public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()


@contextmanager
def serve_over_http(app: Any, **config: Any) -> Iterator[str]:
    """Run `app` under uvicorn, lifespan included, in a thread on a free loopback port.

    The socket is bound here, so no other process can take the port in between. The server runs
    its own event loop in that thread, so the app's engine belongs to it, not to the test's loop.
    Logging is left to the test (`log_config=None`), so uvicorn's records reach caplog.
    """
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    config.setdefault("log_level", "warning")
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, **config))

    def run() -> None:
        # SystemExit is how uvicorn gives up at startup (lifespan failed), after logging why.
        with suppress(SystemExit):
            server.run(sockets=[listener])

    thread = threading.Thread(target=run, name=f"uvicorn-127.0.0.1:{port}", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start; the uvicorn.error log says why")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        if thread.is_alive():
            # Open connections keep a graceful shutdown waiting; a test run must not.
            server.force_exit = True
            thread.join(timeout=10)
        listener.close()


@asynccontextmanager
async def in_process_client(
    app: Any, base_url: str = "http://127.0.0.1", client_host: str = "127.0.0.1"
) -> AsyncIterator[httpx.AsyncClient]:
    """A client that calls `app` in this event loop, its lifespan running around it; the app
    sees the request come from `client_host`."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=(client_host, 50000))
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            yield client


# Cases generated by the contract fuzz tests, per run, and how many of them answered 2xx (so a
# run shows the success paths were reached, not only the refusals); reported in the summary.
FUZZ_CASES: Counter[str] = Counter()
FUZZ_SUCCESSES: Counter[str] = Counter()


def count_fuzz_case(label: str, status_code: int) -> None:
    FUZZ_CASES[label] += 1
    if 200 <= status_code < 300:
        FUZZ_SUCCESSES[label] += 1


class CuttableProxy:
    """A TCP forwarder to `target` whose line can be cut and restored, as a network outage.

    Cut: every open connection is closed and new ones are refused, as if the server were gone.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        await self._server.wait_closed()
        self._server = None

    async def restore(self) -> None:
        await self.start()

    async def stop(self) -> None:
        if self._server is not None:
            await self.cut()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        try:
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        finally:
            self._writers -= {writer, up_writer}
            for w in (writer, up_writer):
                w.close()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with suppress(OSError, asyncio.IncompleteReadError):
            while chunk := await reader.read(65536):
                writer.write(chunk)
                await writer.drain()
        writer.close()


@asynccontextmanager
async def running_relay(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], temporal: Client
) -> AsyncIterator[Relay]:
    """A relay in this process, as `order-api relay` runs it, until the block ends."""
    relay = Relay(settings, sessions, temporal)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop), name="test-relay")
    try:
        yield relay
    finally:
        stop.set()
        await task


async def started_run(
    client: Client, workflow_id: str, *, timeout: float = 20.0
) -> WorkflowHandle[Any, Any]:
    """The order's workflow once the relay has started it: a 201 no longer waits for the start,
    so a handle taken at once may name a run that does not exist yet."""
    handle = client.get_workflow_handle(workflow_id)

    async def exists() -> None:
        try:
            await handle.describe()
        except RPCError as error:
            if error.status is not RPCStatusCode.NOT_FOUND:
                raise
            raise AssertionError(f"{workflow_id} not started yet") from None

    await eventually(exists, timeout=timeout)
    return handle
