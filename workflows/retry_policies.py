"""Every retry policy and timeout the order workflow declares, on one screen.

Two tables of the same shape: DEMO makes a hopeless order dead-letter within a minute so it can be
shown live; PRODUCTION rides out real outages (hours for payments, about two days for the
carrier). `ORDER_API_RETRY_PROFILE` picks one; the choice travels in the workflow input, so a
running workflow keeps the policies it started with. adrs/0004-retry-policies.md justifies them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio.common import RetryPolicy

from workflows.contracts import RetryProfile, Step

# Errors that retrying cannot fix; the activity raises them as non-retryable too.
PAYMENT_DECLINED = "PaymentDeclined"
OUT_OF_STOCK = "OutOfStock"
ADDRESS_REJECTED = "AddressRejected"
FOREVER = 0  # maximum_attempts=0: until it succeeds (compensation and our own bookkeeping)


@dataclass(frozen=True)
class StepPolicy:
    retry: RetryPolicy
    start_to_close: timedelta
    heartbeat: timedelta | None = None


def _policy(
    first: timedelta,
    cap: timedelta,
    attempts: int,
    timeout: timedelta,
    *,
    non_retryable: tuple[str, ...] = (),
    heartbeat: timedelta | None = None,
) -> StepPolicy:
    retry = RetryPolicy(
        initial_interval=first,
        backoff_coefficient=2.0,
        maximum_interval=cap,
        maximum_attempts=attempts,
        non_retryable_error_types=list(non_retryable),
    )
    return StepPolicy(retry=retry, start_to_close=timeout, heartbeat=heartbeat)


SECOND, MINUTE, HOUR = timedelta(seconds=1), timedelta(minutes=1), timedelta(hours=1)

POLICIES: dict[RetryProfile, dict[Step, StepPolicy]] = {
    RetryProfile.DEMO: {
        Step.RESERVE_STOCK: _policy(
            1 * SECOND, 4 * SECOND, 5, 10 * SECOND, non_retryable=(OUT_OF_STOCK,)
        ),
        Step.CHARGE_PAYMENT: _policy(
            1 * SECOND, 4 * SECOND, 5, 10 * SECOND, non_retryable=(PAYMENT_DECLINED,)
        ),
        Step.CREATE_SHIPMENT: _policy(
            1 * SECOND,
            4 * SECOND,
            6,
            30 * SECOND,
            non_retryable=(ADDRESS_REJECTED,),
            heartbeat=5 * SECOND,
        ),
        Step.REFUND_PAYMENT: _policy(1 * SECOND, 30 * SECOND, FOREVER, 10 * SECOND),
        Step.RELEASE_STOCK: _policy(1 * SECOND, 30 * SECOND, FOREVER, 10 * SECOND),
        Step.RECORD: _policy(1 * SECOND, 30 * SECOND, FOREVER, 10 * SECOND),
    },
    RetryProfile.PRODUCTION: {
        # 10 attempts over about 20 minutes: stock is our own database.
        Step.RESERVE_STOCK: _policy(
            5 * SECOND, 5 * MINUTE, 10, 30 * SECOND, non_retryable=(OUT_OF_STOCK,)
        ),
        # 12 attempts over about 5 hours: a gateway outage rarely lasts longer.
        Step.CHARGE_PAYMENT: _policy(
            30 * SECOND, 1 * HOUR, 12, 30 * SECOND, non_retryable=(PAYMENT_DECLINED,)
        ),
        # 20 attempts over about 2 days: the carrier's pickup windows are daily.
        Step.CREATE_SHIPMENT: _policy(
            1 * MINUTE,
            4 * HOUR,
            20,
            2 * MINUTE,
            non_retryable=(ADDRESS_REJECTED,),
            heartbeat=30 * SECOND,
        ),
        Step.REFUND_PAYMENT: _policy(10 * SECOND, 10 * MINUTE, FOREVER, 30 * SECOND),
        Step.RELEASE_STOCK: _policy(10 * SECOND, 10 * MINUTE, FOREVER, 30 * SECOND),
        Step.RECORD: _policy(1 * SECOND, 1 * MINUTE, FOREVER, 10 * SECOND),
    },
}


def policy_for(profile: RetryProfile, step: Step) -> StepPolicy:
    return POLICIES[profile][step]
