"""Helpers the integration tests share."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowHandle


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


HISTORIES = Path(__file__).parent / "histories"
# `make histories` sets this to refresh the committed histories the replay test checks.
RECORD_HISTORIES = os.environ.get("ORDER_API_RECORD_HISTORIES") == "1"


async def keep_history(handle: WorkflowHandle[Any, Any], name: str) -> None:
    """Save the run's history for the replay test, when asked to record."""
    if not RECORD_HISTORIES:
        return
    history = await handle.fetch_history()
    HISTORIES.mkdir(exist_ok=True)
    (HISTORIES / f"{name}.json").write_text(history.to_json() + "\n")
