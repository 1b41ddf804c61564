"""How long `order-api run` waits before restarting a dead child, and when it gives up."""

from __future__ import annotations

from processes.devstack.restarts import (
    MAX_DELAY_SECONDS,
    MAX_FAILURES,
    STABLE_SECONDS,
    RestartBudget,
)


def test_first_restart_comes_within_a_second() -> None:
    budget = RestartBudget()

    assert budget.record_failure(now=100.0) < 1.0


def _fail_soon_after_each_restart(budget: RestartBudget, times: int) -> list[float]:
    delays = []
    now = 100.0
    for _ in range(times):
        delays.append(budget.record_failure(now))
        now += delays[-1]
        budget.restarted(now)
        now += 1.0
    return delays


def test_delay_doubles_with_each_failure_soon_after_a_restart_up_to_the_cap() -> None:
    delays = _fail_soon_after_each_restart(RestartBudget(), MAX_FAILURES + 3)

    assert delays[1] == 2 * delays[0]
    assert delays[2] == 2 * delays[1]
    assert max(delays) == MAX_DELAY_SECONDS


def test_a_child_that_ran_for_a_while_is_restarted_without_delay_growth() -> None:
    budget = RestartBudget()
    first = budget.record_failure(now=100.0)
    budget.restarted(now=100.0 + first)

    second = budget.record_failure(now=100.0 + first + STABLE_SECONDS)

    assert second == first


def test_gives_up_at_five_failures_within_a_minute() -> None:
    budget = RestartBudget()

    for i in range(MAX_FAILURES - 1):
        budget.record_failure(now=100.0 + i)
    assert not budget.exhausted()
    budget.record_failure(now=110.0)

    assert budget.exhausted()


def test_failures_older_than_a_minute_are_forgiven() -> None:
    budget = RestartBudget()
    for i in range(MAX_FAILURES - 1):
        budget.record_failure(now=100.0 + i)

    budget.record_failure(now=200.0)

    assert budget.recent_failures == 1
    assert not budget.exhausted()


def test_restart_is_due_only_after_its_delay() -> None:
    budget = RestartBudget()
    delay = budget.record_failure(now=100.0)

    assert budget.waiting() and not budget.due(now=100.0 + delay / 2)
    assert budget.due(now=100.0 + delay)
    budget.restarted(now=100.0 + delay)
    assert not budget.waiting()
