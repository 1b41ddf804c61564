"""A worker killed mid-charge loses no order and charges no payment twice."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from foundation.domain import OrderStatus
from foundation.models import Order, OrderItem
from foundation.settings import Settings
from foundation.workflow_ids import order_workflow_id
from simulators.payment_gateway.app import create_app as create_gateway
from simulators.settings import SimulatorSettings
from tests.support import SUITE_PAYLOAD_KEYS, serve_over_http
from workflows.contracts import RetryProfile
from workflows.order_fulfillment import OrderFulfillmentWorkflow
from workflows.starter import start_fulfillment

pytestmark = pytest.mark.integration
Sessions = async_sessionmaker[AsyncSession]
GATEWAY_LATENCY_MS = 3000


@pytest.fixture
def slow_gateway(simulator_settings: SimulatorSettings) -> Iterator[str]:
    """A gateway that takes 3 s per request, so a charge is reliably in flight when we kill."""
    slow = simulator_settings.model_copy(update={"payment_sim_latency_ms": GATEWAY_LATENCY_MS})
    with serve_over_http(create_gateway(slow)) as url:
        yield url


def _start_worker(
    settings: Settings, gateway_url: str, queue: str, log: Path
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": settings.effective_database_url,
        "TEMPORAL_ADDRESS": settings.effective_temporal_address,
        "ORDER_API_TASK_QUEUE": queue,
        "ORDER_API_PAYMENT_GATEWAY_URL": gateway_url,
        "ORDER_API_CARRIER_URL": settings.effective_carrier_url,
        "ORDER_API_RETRY_PROFILE": "demo",
        # The suite's key: the worker must decrypt what the test's client encrypts.
        "ORDER_API_PAYLOAD_KEYS": SUITE_PAYLOAD_KEYS.get_secret_value(),
        # The test starts its own workflow; a relay here would start other orders on this queue.
        "ORDER_API_WORKER_RUNS_RELAY": "false",
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "processes.cli", "worker"], env=env, stdout=out, stderr=out
        )


async def _status(sessions: Sessions, order_id: uuid.UUID) -> OrderStatus:
    async with sessions() as session:
        order = await session.get(Order, order_id, populate_existing=True)
        assert order is not None
        return order.status


async def test_worker_killed_during_charge_charges_exactly_once(
    settings: Settings,
    sessions: Sessions,
    temporal: Client,
    slow_gateway: str,
    clean_db: None,
    tmp_path: Path,
) -> None:
    queue = f"orders-crash-{uuid.uuid4().hex[:8]}"
    key = f"crash-{uuid.uuid4().hex}"
    async with sessions.begin() as session:
        order = Order(
            id=uuid.uuid4(), customer_id="alice", idempotency_key=key, status=OrderStatus.RECEIVED,
            currency="USD", total_amount=999, payment_method="tok_visa",
            shipping_address={"name": "A", "line1": "1 Main St", "city": "X",
                              "postal_code": "12345", "country": "US"},
            workflow_id=order_workflow_id("alice", key),
            items=[OrderItem(sku="GIZMO-3", quantity=1, unit_price=999, line_total=999)],
        )  # fmt: skip
        session.add(order)

    first = _start_worker(settings, slow_gateway, queue, tmp_path / "worker-1.log")
    try:
        await start_fulfillment(temporal, queue, order, RetryProfile.DEMO)
        deadline = time.monotonic() + 30
        while await _status(sessions, order.id) is not OrderStatus.RESERVED:
            assert time.monotonic() < deadline, "the first worker never reserved stock"
            await asyncio.sleep(0.05)
        # The charge request is now on its way to the slow gateway: kill the worker outright.
        await asyncio.sleep(0.5)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        killed_at = datetime.now(UTC)
    finally:
        if first.poll() is None:
            first.kill()

    second = _start_worker(settings, slow_gateway, queue, tmp_path / "worker-2.log")
    try:
        handle = temporal.get_workflow_handle_for(OrderFulfillmentWorkflow.run, order.workflow_id)
        result = await asyncio.wait_for(handle.result(), timeout=90)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=20)

    assert result.status is OrderStatus.COMPLETED
    async with httpx.AsyncClient(base_url=slow_gateway, timeout=10) as gateway:
        charges = (await gateway.get("/charges", params={"reference": str(order.id)})).json()[
            "data"
        ]
    assert len(charges) == 1
    # The charge is from the killed worker's attempt; the retry got it back, not a new one.
    created = datetime.fromisoformat(charges[0]["created_at"])
    assert created < killed_at + timedelta(seconds=GATEWAY_LATENCY_MS / 1000 + 2)
    history = await handle.fetch_history()
    charge_attempts = [
        e.activity_task_started_event_attributes.attempt
        for e in history.events
        if e.HasField("activity_task_started_event_attributes")
        and e.activity_task_started_event_attributes.attempt > 1
    ]
    assert charge_attempts, "the charge was never retried, so the kill proved nothing"
