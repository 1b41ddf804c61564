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

from workflows.contracts import ErrorType, RetryProfile, Step

FOREVER = 0  # maximum_attempts=0: until it succeeds (compensation and our own bookkeeping)


@dataclass(frozen=True)
class StepPolicy:
    retry: RetryPolicy
    start_to_close: timedelta
    heartbeat: timedelta | None = None


def _policy(
    *,
    first_retry: timedelta,
    max_interval: timedelta,
    attempts: int,
    timeout: timedelta,
    non_retryable: tuple[ErrorType, ...] = (),
    heartbeat: timedelta | None = None,
) -> StepPolicy:
    """`timeout` bounds one attempt; the interval doubles from `first_retry` up to the cap."""
    retry = RetryPolicy(
        initial_interval=first_retry,
        backoff_coefficient=2.0,
        maximum_interval=max_interval,
        maximum_attempts=attempts,
        non_retryable_error_types=[error.value for error in non_retryable],
    )
    return StepPolicy(retry=retry, start_to_close=timeout, heartbeat=heartbeat)


SECOND, MINUTE, HOUR = timedelta(seconds=1), timedelta(minutes=1), timedelta(hours=1)

# One policy per row, its arguments always in the same order: laid out by hand, as a table.
# Errors that retrying cannot fix are non-retryable; the activities raise them as such too.
# fmt: off
POLICIES: dict[RetryProfile, dict[Step, StepPolicy]] = {
    # Short attempt timeouts: an attempt on a worker that was killed is only noticed when its
    # timeout runs out, and the demo kills workers (adrs/0004-retry-policies.md).
    RetryProfile.DEMO: {
        Step.RESERVE_STOCK: _policy(
            first_retry=1 * SECOND, max_interval=4 * SECOND, attempts=5, timeout=3 * SECOND,
            non_retryable=(ErrorType.OUT_OF_STOCK,),
        ),
        Step.CHARGE_PAYMENT: _policy(
            first_retry=1 * SECOND, max_interval=4 * SECOND, attempts=5, timeout=5 * SECOND,
            non_retryable=(ErrorType.PAYMENT_DECLINED,),
        ),
        Step.CREATE_SHIPMENT: _policy(
            first_retry=1 * SECOND, max_interval=4 * SECOND, attempts=6, timeout=30 * SECOND,
            non_retryable=(ErrorType.ADDRESS_REJECTED,), heartbeat=3 * SECOND,
        ),
        Step.REFUND_PAYMENT: _policy(
            first_retry=1 * SECOND, max_interval=30 * SECOND, attempts=FOREVER, timeout=5 * SECOND
        ),
        Step.RELEASE_STOCK: _policy(
            first_retry=1 * SECOND, max_interval=30 * SECOND, attempts=FOREVER, timeout=3 * SECOND
        ),
        Step.RECORD: _policy(
            first_retry=1 * SECOND, max_interval=30 * SECOND, attempts=FOREVER, timeout=3 * SECOND
        ),
    },
    RetryProfile.PRODUCTION: {
        # 10 attempts over about 20 minutes: stock is our own database.
        Step.RESERVE_STOCK: _policy(
            first_retry=5 * SECOND, max_interval=5 * MINUTE, attempts=10, timeout=30 * SECOND,
            non_retryable=(ErrorType.OUT_OF_STOCK,),
        ),
        # 12 attempts over about 5 hours: a gateway outage rarely lasts longer.
        Step.CHARGE_PAYMENT: _policy(
            first_retry=30 * SECOND, max_interval=1 * HOUR, attempts=12, timeout=30 * SECOND,
            non_retryable=(ErrorType.PAYMENT_DECLINED,),
        ),
        # 20 attempts over about 2 days: the carrier's pickup windows are daily.
        Step.CREATE_SHIPMENT: _policy(
            first_retry=1 * MINUTE, max_interval=4 * HOUR, attempts=20, timeout=2 * MINUTE,
            non_retryable=(ErrorType.ADDRESS_REJECTED,), heartbeat=30 * SECOND,
        ),
        Step.REFUND_PAYMENT: _policy(
            first_retry=10 * SECOND, max_interval=10 * MINUTE, attempts=FOREVER, timeout=30 * SECOND
        ),
        Step.RELEASE_STOCK: _policy(
            first_retry=10 * SECOND, max_interval=10 * MINUTE, attempts=FOREVER, timeout=30 * SECOND
        ),
        Step.RECORD: _policy(
            first_retry=1 * SECOND, max_interval=1 * MINUTE, attempts=FOREVER, timeout=10 * SECOND
        ),
    },
}
# fmt: on


def policy_for(profile: RetryProfile, step: Step) -> StepPolicy:
    return POLICIES[profile][step]


@dataclass(frozen=True)
class TakeoverTimeouts:
    """How soon another worker takes over the workflow tasks of one that died.

    `workflow_task`: a task a dead worker had started is handed out again after this.
    `sticky_queue`: a task waiting on a dead worker's own queue moves to the shared one after this.
    """

    workflow_task: timedelta
    sticky_queue: timedelta


TAKEOVER: dict[RetryProfile, TakeoverTimeouts] = {
    RetryProfile.DEMO: TakeoverTimeouts(workflow_task=3 * SECOND, sticky_queue=1 * SECOND),
    # Temporal's defaults: a busy worker is not mistaken for a dead one.
    RetryProfile.PRODUCTION: TakeoverTimeouts(workflow_task=10 * SECOND, sticky_queue=10 * SECOND),
}
