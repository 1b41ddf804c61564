"""Helpers the integration tests share."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat


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


def public_pem(private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    public = private_key.public_key()
    return public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()


@contextmanager
def serve_over_http(app: Any, **config: Any) -> Iterator[str]:
    """Run `app` under uvicorn, lifespan included, in a thread on a free loopback port.

    Logging is left to the test (`log_config=None`), so uvicorn's records reach caplog.
    """
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, **config))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            listener.close()
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        listener.close()
