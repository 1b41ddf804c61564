"""Fault injection and the magic inputs of the simulators, without any server."""

from __future__ import annotations

import random
import time

import pytest

from simulators.carrier import scenarios as carrier
from simulators.errors import SimulatorError
from simulators.faults import SUCCEED, FaultInjector, Plan
from simulators.payment_gateway import scenarios as payments


def injector(error_rate: float = 0.0, latency_ms: int = 0, seed: int = 7) -> FaultInjector:
    return FaultInjector(error_rate=error_rate, latency_ms=latency_ms, rng=random.Random(seed))


def test_error_rate_1_always_fails() -> None:
    faults = injector(error_rate=1.0)

    assert all(faults.should_fail() for _ in range(1000))


def test_error_rate_0_never_fails() -> None:
    faults = injector(error_rate=0.0)

    assert not any(faults.should_fail() for _ in range(1000))


def test_the_same_seed_fails_the_same_requests() -> None:
    first, second = injector(error_rate=0.5, seed=42), injector(error_rate=0.5, seed=42)

    rolls = [first.should_fail() for _ in range(200)]

    assert rolls == [second.should_fail() for _ in range(200)]
    assert 50 < sum(rolls) < 150


@pytest.mark.parametrize(("error_rate", "latency_ms"), [(-0.1, 0), (1.5, 0), (0.0, -1)])
def test_out_of_range_settings_are_refused(error_rate: float, latency_ms: int) -> None:
    with pytest.raises(ValueError):
        injector(error_rate=error_rate, latency_ms=latency_ms)


async def test_an_injected_fault_is_a_503_injected_fault() -> None:
    with pytest.raises(SimulatorError) as raised:
        await injector(error_rate=1.0).before_request()

    assert (raised.value.status, raised.value.code) == (503, "injected_fault")


async def test_latency_is_waited_before_the_request_goes_on() -> None:
    started = time.monotonic()

    await injector(latency_ms=100).before_request()

    assert time.monotonic() - started >= 0.1


@pytest.mark.parametrize(
    ("payment_method", "plan"),
    [
        ("tok_visa", SUCCEED),
        ("tok_anything_else", SUCCEED),
        ("tok_declined", Plan(failure_code="card_declined")),
        ("tok_flaky", Plan(unavailable_attempts=2)),
        ("tok_gateway_down", Plan(always_unavailable=True)),
    ],
)
def test_payment_methods_choose_the_plan(payment_method: str, plan: Plan) -> None:
    assert payments.plan_for(payment_method) == plan


@pytest.mark.parametrize(
    ("postal_code", "plan"),
    [
        ("12345", SUCCEED),
        ("00000", Plan(always_unavailable=True)),
        ("99999", Plan(failure_code="address_rejected")),
        ("00001", Plan(unavailable_attempts=1)),
        ("00009", Plan(unavailable_attempts=9)),
        ("00010", SUCCEED),
        ("000012", SUCCEED),
    ],
)
def test_postal_codes_choose_the_plan(postal_code: str, plan: Plan) -> None:
    assert carrier.plan_for(postal_code) == plan
