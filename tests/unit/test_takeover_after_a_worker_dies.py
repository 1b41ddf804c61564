"""With the demo profile, work held by a killed worker is handed out again within seconds."""

from __future__ import annotations

from datetime import timedelta

import pytest

from workflows.contracts import RetryProfile, Step
from workflows.retry_policies import TAKEOVER, policy_for

DEMO_TAKEOVER_LIMIT = timedelta(seconds=5)


@pytest.mark.parametrize("step", list(Step))
def test_demo_attempt_on_a_dead_worker_times_out_within_five_seconds(step: Step) -> None:
    policy = policy_for(RetryProfile.DEMO, step)

    # A heartbeating step is noticed by its heartbeat; any other only by its attempt timeout.
    noticed_after = policy.heartbeat or policy.start_to_close

    assert noticed_after <= DEMO_TAKEOVER_LIMIT


def test_demo_workflow_tasks_leave_a_dead_worker_within_five_seconds() -> None:
    takeover = TAKEOVER[RetryProfile.DEMO]

    assert takeover.workflow_task <= DEMO_TAKEOVER_LIMIT
    assert takeover.sticky_queue <= DEMO_TAKEOVER_LIMIT


def test_production_keeps_temporals_patient_defaults() -> None:
    takeover = TAKEOVER[RetryProfile.PRODUCTION]

    assert takeover.workflow_task == timedelta(seconds=10)
    assert takeover.sticky_queue == timedelta(seconds=10)
