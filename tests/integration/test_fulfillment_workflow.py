"""The order workflow under real retry policies, on a time-skipping Temporal server.

Activities are the real ones: stock in PostgreSQL, payment and carrier simulators over HTTP on
loopback. Only time is compressed: hours of backoff pass in seconds of wall time.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.client import (
    Client,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.payments import PaymentActivities
from activities.status_writes import StatusWriter
from api.dead_letters.service import DeadLetterService
from foundation import search_attributes as sa
from foundation.domain import OrderStatus
from foundation.models import DeadLetter, Order, OrderItem, Product, StockReservation
from foundation.settings import Settings
from foundation.temporal_client import data_converter
from foundation.workflow_ids import order_workflow_id
from processes.devstack.temporal import temporal_cli
from processes.worker import fulfillment_worker
from simulators.carrier.app import create_app as create_carrier
from simulators.settings import SimulatorSettings
from tests.support import keep_history, serve_over_http
from workflows.contracts import (
    CancelRequest,
    ChargePayment,
    ErrorType,
    OrderWorkflowResult,
    RetryProfile,
    Transition,
)
from workflows.order_fulfillment import OrderFulfillmentWorkflow
from workflows.starter import start_fulfillment

pytestmark = pytest.mark.integration
Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture(scope="module")
def providers(settings: Settings) -> Settings:
    """The session's settings (simulators on real loopback ports) with a queue of our own."""
    return settings.model_copy(update={"task_queue": f"orders-ts-{uuid.uuid4().hex[:8]}"})


@pytest.fixture(scope="module")
async def skipping_env(settings: Settings) -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping_v2(
        dev_server_existing_path=temporal_cli(),
        dev_server_extra_args=[
            "--dynamic-config-value",
            "frontend.WorkflowTimeSkippingEnabled=true",
        ],
        data_converter=data_converter(settings),
        search_attributes=sa.ALL_KEYS,
    )
    async with env:
        yield env


@pytest.fixture(scope="module")
async def skipping_client(
    skipping_env: WorkflowEnvironment, providers: Settings, sessions: Sessions
) -> AsyncIterator[Client]:
    async with fulfillment_worker(skipping_env.client, providers, sessions):
        yield skipping_env.client


async def _new_order(
    sessions: Sessions,
    *,
    payment_method: str = "tok_visa",
    postal_code: str = "12345",
    sku: str = "GIZMO-3",
    quantity: int = 1,
) -> Order:
    customer, key = "ts-customer", f"ts-{uuid.uuid4().hex}"
    async with sessions.begin() as session:
        product = await session.get(Product, sku)
        assert product is not None
        order = Order(
            id=uuid.uuid4(),
            customer_id=customer,
            idempotency_key=key,
            status=OrderStatus.RECEIVED,
            currency="USD",
            total_amount=product.unit_price * quantity,
            payment_method=payment_method,
            shipping_address={
                "name": "Test Customer",
                "line1": "1 Main St",
                "city": "Springfield",
                "postal_code": postal_code,
                "country": "US",
            },
            workflow_id=order_workflow_id(customer, key),
            items=[
                OrderItem(
                    sku=sku,
                    quantity=quantity,
                    unit_price=product.unit_price,
                    line_total=product.unit_price * quantity,
                )
            ],
        )
        session.add(order)
    return order


async def _start(
    client: Client, settings: Settings, order: Order
) -> WorkflowHandle[Any, OrderWorkflowResult]:
    await start_fulfillment(client, settings.task_queue, order, RetryProfile.PRODUCTION)
    return client.get_workflow_handle_for(OrderFulfillmentWorkflow.run, order.workflow_id)


async def _simulated(handle: WorkflowHandle[Any, Any]) -> timedelta:
    history = await handle.fetch_history()
    first, last = history.events[0].event_time, history.events[-1].event_time
    return last.ToDatetime() - first.ToDatetime()


def _report(name: str, simulated: timedelta, wall_started: float) -> None:
    print(
        f"\n[{name}] simulated {simulated} in {time.monotonic() - wall_started:.1f}s of wall time"
    )


async def _order(sessions: Sessions, order_id: uuid.UUID) -> Order:
    async with sessions() as session:
        order = await session.get(Order, order_id, populate_existing=True)
        assert order is not None
        return order


async def _charges(settings: Settings, order_id: uuid.UUID) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=settings.effective_payment_gateway_url) as gateway:
        response = await gateway.get("/charges", params={"reference": str(order_id)})
        return list(response.json()["data"])


async def _stock(sessions: Sessions, sku: str) -> int:
    async with sessions() as session:
        product = await session.get(Product, sku, populate_existing=True)
        assert product is not None
        return product.stock


async def _dead_letters(sessions: Sessions, order_id: uuid.UUID) -> list[DeadLetter]:
    async with sessions() as session:
        rows = await session.scalars(select(DeadLetter).where(DeadLetter.order_id == order_id))
        return list(rows)


async def test_happy_path_reserves_charges_ships_and_completes(
    skipping_client: Client, providers: Settings, sessions: Sessions
) -> None:
    before = await _stock(sessions, "GIZMO-3")
    order = await _new_order(sessions, quantity=2)
    handle = await _start(skipping_client, providers, order)
    result = await handle.result()
    await keep_history(handle, "completed")

    assert result.status is OrderStatus.COMPLETED
    stored = await _order(sessions, order.id)
    assert stored.status is OrderStatus.COMPLETED
    assert [c.to_status for c in stored.history] == [
        "RESERVED", "PAID", "SHIPPED", "COMPLETED",
    ]  # fmt: skip
    assert stored.charge_id == result.charge_id
    assert stored.tracking_number == result.tracking_number
    assert len(await _charges(providers, order.id)) == 1
    assert await _stock(sessions, "GIZMO-3") == before - 2


async def test_a_charge_retried_after_its_status_committed_charges_and_records_paid_once(
    providers: Settings, sessions: Sessions
) -> None:
    order = await _new_order(sessions)
    paid = Transition(
        order_id=order.id,
        to_status=OrderStatus.PAID,
        reason="payment captured",
        transition_id=f"run-{uuid.uuid4().hex}/2",
    )
    request = ChargePayment(
        order_id=order.id,
        amount=order.total_amount,
        currency="USD",
        payment_method="tok_visa",
        idempotency_key=f"{paid.transition_id}/charge",
        status_change=paid,
    )
    async with httpx.AsyncClient(base_url=providers.effective_payment_gateway_url) as gateway:
        step = PaymentActivities(gateway, StatusWriter(sessions)).charge_payment
        first = await ActivityEnvironment().run(step, request)
        again = await ActivityEnvironment().run(step, request)  # the answer was lost: a retry

    assert again == first
    stored = await _order(sessions, order.id)
    assert stored.status is OrderStatus.PAID and stored.charge_id == first.charge_id
    assert [(c.from_status, c.to_status) for c in stored.history] == [("RECEIVED", "PAID")]
    assert len(await _charges(providers, order.id)) == 1


async def test_carrier_outage_backs_off_for_hours_then_ships(
    skipping_client: Client, providers: Settings, sessions: Sessions
) -> None:
    # Postal code 00008: the carrier fails the first 8 attempts, then accepts.
    order = await _new_order(sessions, postal_code="00008")
    started = time.monotonic()
    handle = await _start(skipping_client, providers, order)
    result = await handle.result()
    simulated = await _simulated(handle)
    _report("carrier outage", simulated, started)
    await keep_history(handle, "completed-after-hours-of-backoff")

    assert result.status is OrderStatus.COMPLETED
    assert simulated >= timedelta(hours=4)
    assert time.monotonic() - started < 60


async def test_exhausted_retries_compensate_dead_letter_and_fail_the_run(
    skipping_client: Client, providers: Settings, sessions: Sessions
) -> None:
    before = await _stock(sessions, "GIZMO-3")
    order = await _new_order(sessions, postal_code="00000")  # the carrier is always down
    started = time.monotonic()
    handle = await _start(skipping_client, providers, order)
    with pytest.raises(WorkflowFailureError) as failed:
        await handle.result()
    simulated = await _simulated(handle)
    _report("carrier never recovers", simulated, started)
    await keep_history(handle, "failed-after-exhausted-retries")

    assert simulated >= timedelta(days=1)
    cause = failed.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == ErrorType.ORDER_FULFILLMENT_FAILED
    assert "create_shipment" in cause.message and ErrorType.CARRIER_UNAVAILABLE in cause.message
    [letter] = await _dead_letters(sessions, order.id)
    assert letter.failed_step == "create_shipment"
    assert letter.error_type == ErrorType.CARRIER_UNAVAILABLE
    assert letter.attempts == 20
    assert letter.step_input["address"]["postal_code"] == "00000"
    assert letter.run_id == (await handle.describe()).run_id
    [charge] = await _charges(providers, order.id)
    assert charge["refunded_amount"] == charge["amount"]
    assert await _stock(sessions, "GIZMO-3") == before
    stored = await _order(sessions, order.id)
    assert stored.status is OrderStatus.FAILED
    assert ErrorType.CARRIER_UNAVAILABLE in stored.history[-1].reason


async def test_hard_decline_is_not_retried(
    skipping_client: Client, providers: Settings, sessions: Sessions
) -> None:
    order = await _new_order(sessions, payment_method="tok_declined")
    handle = await _start(skipping_client, providers, order)
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    await keep_history(handle, "failed-hard-decline")

    [letter] = await _dead_letters(sessions, order.id)
    assert letter.error_type == ErrorType.PAYMENT_DECLINED
    assert letter.attempts == 1
    assert [c for c in await _charges(providers, order.id) if c["status"] == "succeeded"] == []
    async with sessions() as session:
        held = await session.scalars(
            select(StockReservation).where(StockReservation.order_id == order.id)
        )
        assert all(r.released_at is not None for r in held)


async def test_out_of_stock_fails_without_charging(
    skipping_client: Client, providers: Settings, sessions: Sessions
) -> None:
    order = await _new_order(sessions, sku="SOLD-OUT")
    handle = await _start(skipping_client, providers, order)
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    [letter] = await _dead_letters(sessions, order.id)
    assert (letter.failed_step, letter.error_type, letter.attempts) == (
        "reserve_stock", ErrorType.OUT_OF_STOCK, 1,
    )  # fmt: skip
    assert await _charges(providers, order.id) == []


@pytest.fixture(scope="module")
async def slow_carrier_client(
    skipping_env: WorkflowEnvironment,
    providers: Settings,
    simulator_settings: SimulatorSettings,
    sessions: Sessions,
) -> AsyncIterator[tuple[Client, Settings]]:
    """A worker whose carrier takes 3 s to answer: a shipment attempt is reliably in flight
    (and time does not skip) while a test cancels."""
    slow = simulator_settings.model_copy(update={"carrier_sim_latency_ms": 3000})
    with serve_over_http(create_carrier(slow)) as carrier_url:
        settings = providers.model_copy(
            update={
                "carrier_url": carrier_url,
                "task_queue": f"orders-slow-{uuid.uuid4().hex[:8]}",
            }
        )
        async with fulfillment_worker(skipping_env.client, settings, sessions):
            yield skipping_env.client, settings


async def test_cancel_before_shipping_refunds_and_releases(
    slow_carrier_client: tuple[Client, Settings], sessions: Sessions
) -> None:
    client, settings = slow_carrier_client
    before = await _stock(sessions, "GIZMO-3")
    order = await _new_order(sessions, postal_code="00000")  # the carrier will say no, slowly

    handle = await _start(client, settings, order)
    await _until_status(sessions, order.id, OrderStatus.PAID)
    outcome = await handle.execute_update(
        OrderFulfillmentWorkflow.cancel, CancelRequest(reason="changed my mind")
    )
    result = await handle.result()
    await keep_history(handle, "cancelled")

    assert outcome is OrderStatus.CANCELLED and result.status is OrderStatus.CANCELLED
    stored = await _order(sessions, order.id)
    assert stored.status is OrderStatus.CANCELLED
    assert stored.history[-1].reason == "changed my mind"
    [charge] = await _charges(settings, order.id)
    assert charge["refunded_amount"] == charge["amount"]
    assert await _stock(sessions, "GIZMO-3") == before
    assert await _dead_letters(sessions, order.id) == []


async def test_cancel_while_the_carrier_is_creating_the_shipment_is_too_late(
    slow_carrier_client: tuple[Client, Settings], sessions: Sessions
) -> None:
    client, settings = slow_carrier_client
    order = await _new_order(sessions)  # the carrier will say yes, slowly

    handle = await _start(client, settings, order)
    # PAID alone is not enough: on a busy machine the cancel could land before the shipment
    # step is scheduled, and the order would simply be cancelled.
    await _until_activity_running(handle, "create_shipment")
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(OrderFulfillmentWorkflow.cancel, CancelRequest())
    result = await handle.result()
    await keep_history(handle, "cancel-refused-while-shipping")

    assert isinstance(refused.value.cause, ApplicationError)
    assert refused.value.cause.type == ErrorType.TOO_LATE_TO_CANCEL
    assert result.status is OrderStatus.COMPLETED and result.tracking_number
    [charge] = await _charges(settings, order.id)
    assert charge["refunded_amount"] == 0


async def test_redrive_after_restock_completes_and_resolves_the_dead_letter(
    skipping_client: Client, providers: Settings, sessions: Sessions
) -> None:
    order = await _new_order(sessions, sku="SOLD-OUT")
    handle = await _start(skipping_client, providers, order)
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    [letter] = await _dead_letters(sessions, order.id)
    async with sessions.begin() as session:
        await session.execute(update(Product).where(Product.sku == "SOLD-OUT").values(stock=1))

    redriven = await DeadLetterService(providers, sessions, skipping_client).redrive(letter.id)
    assert redriven.run_id != letter.run_id
    redriven_run = skipping_client.get_workflow_handle_for(
        OrderFulfillmentWorkflow.run, order.workflow_id
    )
    result = await redriven_run.result()
    await keep_history(redriven_run, "completed-after-redrive")

    assert result.status is OrderStatus.COMPLETED
    [resolved] = await _dead_letters(sessions, order.id)
    assert resolved.redriven_at is not None and resolved.resolved_at is not None
    stored = await _order(sessions, order.id)
    assert [c.to_status for c in stored.history][-5:] == [
        "RECEIVED", "RESERVED", "PAID", "SHIPPED", "COMPLETED",
    ]  # fmt: skip


async def _until_activity_running(
    handle: WorkflowHandle[Any, Any], activity: str, timeout: float = 30
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        pending = (await handle.describe()).raw_description.pending_activities
        if any(
            a.activity_type.name == activity
            and a.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
            for a in pending
        ):
            return
        assert time.monotonic() < deadline, f"{activity} never started"
        await asyncio.sleep(0.1)


async def _until_status(
    sessions: Sessions, order_id: uuid.UUID, status: OrderStatus, timeout: float = 30
) -> None:
    deadline = time.monotonic() + timeout
    while (await _order(sessions, order_id)).status is not status:
        assert time.monotonic() < deadline, f"order never reached {status}"
        await asyncio.sleep(0.1)
