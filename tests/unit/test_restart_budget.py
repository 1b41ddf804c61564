"""How long `order-api run` waits before restarting a dead child, and when it gives up."""

from __future__ import annotations

from processes.devstack.restarts import MAX_DELAY_SECONDS, MAX_FAILURES, RestartBudget


def test_first_restart_comes_within_a_second() -> None:
    budget = RestartBudget()

    assert budget.record_failure(now=100.0) < 1.0


def test_delay_doubles_with_each_failure_up_to_the_cap() -> None:
    budget = RestartBudget()

    delays = [budget.record_failure(now=100.0 + i) for i in range(MAX_FAILURES + 3)]

    assert delays[1] == 2 * delays[0]
    assert delays[2] == 2 * delays[1]
    assert max(delays) == MAX_DELAY_SECONDS


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
    budget.restarted()
    assert not budget.waiting()
