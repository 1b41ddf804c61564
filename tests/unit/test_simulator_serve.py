"""One process serving several simulators, each on its own port (`simulators.serve`)."""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

import httpx
import pytest
import uvicorn

from processes.devstack.ports import free_port
from simulators.serve import Served, serve


def test_a_simulator_is_named_as_module_app_and_port() -> None:
    assert Served.parse("simulators.carrier.app:app=8102") == Served(
        "simulators.carrier.app:app", 8102
    )


@pytest.mark.parametrize("spec", ["simulators.carrier.app:app", "carrier=8102", "a:b=port"])
def test_a_simulator_without_module_app_and_port_is_refused(spec: str) -> None:
    with pytest.raises(ValueError, match="module:app=port"):
        Served.parse(spec)


def answering(body: bytes) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    return app


async def test_each_app_answers_on_its_own_port_until_one_sigterm_stops_them_all() -> None:
    ports = [free_port(), free_port()]
    chosen = [
        uvicorn.Config(answering(name), port=port, lifespan="off", log_level="warning")
        for name, port in zip([b"gateway", b"carrier"], ports, strict=True)
    ]
    running = asyncio.create_task(serve(chosen))
    bodies: list[bytes] = []
    async with httpx.AsyncClient(timeout=2.0) as client:
        for port in ports:
            for _ in range(100):
                try:
                    bodies.append((await client.get(f"http://127.0.0.1:{port}/")).content)
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)

    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.wait_for(running, timeout=10)

    assert bodies == [b"gateway", b"carrier"]
