"""A provider's HTTP answer becomes a step's outcome by one set of rules, for gateway and carrier.

2xx succeeds; 5xx and 429 are retryable unavailability; any other status is a rejection that is
not retried; a transport error is retryable unavailability. Business answers (a declined card,
an undeliverable address) are recognised by the step before those rules apply.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.payments import PaymentActivities
from activities.provider_errors import CARRIER, PAYMENT_GATEWAY, Provider
from activities.shipping import ShippingActivities
from activities.status_writes import StatusWriter
from workflows.contracts import Address, ChargePayment, CreateShipment, ErrorType, OrderLine

PROVIDERS = [PAYMENT_GATEWAY, CARRIER]
BY_NAME = {"ids": [p.name for p in PROVIDERS]}


def in_activity(make: Callable[[], ApplicationError], attempt: int = 1) -> ApplicationError:
    """Build a failure inside an activity context: failures carry the attempt number."""
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, attempt=attempt)
    return env.run(make)


@pytest.mark.parametrize("provider", PROVIDERS, **BY_NAME)
@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
def test_server_errors_and_throttling_are_retryable_unavailability(
    provider: Provider, status: int
) -> None:
    failure = in_activity(lambda: provider.not_accepted(httpx.Response(status)))

    assert failure.type == provider.unavailable
    assert not failure.non_retryable


@pytest.mark.parametrize("provider", PROVIDERS, **BY_NAME)
@pytest.mark.parametrize("status", [400, 401, 404, 409, 422])
def test_other_refusals_are_rejections_that_are_not_retried(
    provider: Provider, status: int
) -> None:
    failure = in_activity(lambda: provider.not_accepted(httpx.Response(status, text="no")))

    assert failure.type == provider.rejected
    assert failure.non_retryable
    assert failure.message.endswith(f"{status} no")


@pytest.mark.parametrize("provider", PROVIDERS, **BY_NAME)
def test_a_transport_error_is_retryable_unavailability(provider: Provider) -> None:
    failure = in_activity(lambda: provider.unreachable(httpx.ConnectError("refused")))

    assert failure.type == provider.unavailable
    assert not failure.non_retryable


def test_the_failure_carries_the_attempt_for_the_dead_letter() -> None:
    failure = in_activity(lambda: CARRIER.not_accepted(httpx.Response(503)), attempt=7)

    assert failure.details == ({"attempt": 7},)


def test_each_provider_reports_failures_under_its_own_types() -> None:
    assert (PAYMENT_GATEWAY.unavailable, PAYMENT_GATEWAY.rejected) == (
        ErrorType.PAYMENT_GATEWAY_UNAVAILABLE,
        ErrorType.PAYMENT_REQUEST_REJECTED,
    )
    assert (CARRIER.unavailable, CARRIER.rejected) == (
        ErrorType.CARRIER_UNAVAILABLE,
        ErrorType.SHIPMENT_REQUEST_REJECTED,
    )


# --- the steps apply the rules after their own business answers ---------------------------

ADDRESS = Address(name="A", line1="1 Main St", city="X", postal_code="12345", country="US")
LINES = [OrderLine(sku="GIZMO-3", quantity=1, unit_price=999)]
# The requests here carry no status change, so the steps never write one (nor reach a database).
UNUSED_STATUSES = StatusWriter(async_sessionmaker())


def answering(status: int, body: dict[str, Any]) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url="http://provider.test",
        transport=httpx.MockTransport(lambda _: httpx.Response(status, json=body)),
    )


async def charge(status: int, body: dict[str, Any]) -> Any:
    request = ChargePayment(
        order_id=uuid.uuid4(), amount=999, currency="USD", payment_method="tok", idempotency_key="k"
    )
    async with answering(status, body) as gateway:
        return await ActivityEnvironment().run(
            PaymentActivities(gateway, UNUSED_STATUSES).charge_payment, request
        )


async def ship(status: int, body: dict[str, Any]) -> Any:
    request = CreateShipment(
        order_id=uuid.uuid4(), address=ADDRESS, lines=LINES, idempotency_key="k"
    )
    async with answering(status, body) as carrier:
        return await ActivityEnvironment().run(
            ShippingActivities(carrier, UNUSED_STATUSES).create_shipment, request
        )


@pytest.mark.parametrize("status", [200, 201, 202])
async def test_any_2xx_from_the_gateway_is_a_charge(status: int) -> None:
    assert (await charge(status, {"id": "ch_1"})).charge_id == "ch_1"


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (402, {"error": "card_declined"}, ErrorType.PAYMENT_DECLINED),
        (503, {}, ErrorType.PAYMENT_GATEWAY_UNAVAILABLE),
        (400, {}, ErrorType.PAYMENT_REQUEST_REJECTED),
    ],
)
async def test_the_charge_step_fails_with_the_type_for_the_gateways_answer(
    status: int, body: dict[str, Any], expected: ErrorType
) -> None:
    with pytest.raises(ApplicationError) as failed:
        await charge(status, body)
    assert failed.value.type == expected


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (422, {"error": "address_rejected"}, ErrorType.ADDRESS_REJECTED),
        (422, {"error": "bad_items"}, ErrorType.SHIPMENT_REQUEST_REJECTED),
        (429, {}, ErrorType.CARRIER_UNAVAILABLE),
    ],
)
async def test_the_shipment_step_fails_with_the_type_for_the_carriers_answer(
    status: int, body: dict[str, Any], expected: ErrorType
) -> None:
    with pytest.raises(ApplicationError) as failed:
        await ship(status, body)
    assert failed.value.type == expected
