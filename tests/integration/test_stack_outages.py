"""`order-api run` under outages: each dependency SIGKILLed, restarted by the supervisor, and no
order lost. One stack for the module, broken in turn; each test leaves it healthy again."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from foundation.domain import OrderStatus
from tests.running_stack import RunningStack, running_stack
from tests.support import order_body

pytestmark = pytest.mark.integration
RECOVERY_SECONDS = 30.0
COMPLETION_SECONDS = 90.0


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    data_dir: Path = tmp_path_factory.mktemp("outages")
    # Retries of a start Temporal missed soon after it is back, not the production 10 s.
    with running_stack(data_dir, relay_retry_max_seconds="2") as running:
        yield running


def _wait_until_ready(stack: RunningStack) -> None:
    deadline = time.monotonic() + RECOVERY_SECONDS
    while not stack.ready():
        assert stack.running(), stack.output()
        assert time.monotonic() < deadline, f"not ready again:\n{stack.output()}"
        time.sleep(0.2)


def _place(stack: RunningStack, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        response = stack.place_order(order_body())
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


def _assert_all_completed(stack: RunningStack, order_ids: list[str]) -> None:
    outcomes = stack.wait_until_terminal(order_ids, timeout=COMPLETION_SECONDS)
    assert {o.status for o in outcomes.values()} == {OrderStatus.COMPLETED}


def test_worker_killed_twice_in_a_row_is_restarted_and_the_stack_stays_up(
    stack: RunningStack,
) -> None:
    in_flight = _place(stack, 3)
    first = stack.kill("worker-1")
    replacement = stack.wait_for_new("worker-1", first)
    stack.kill("worker-1")  # before the replacement has even connected
    stack.wait_for_new("worker-1", replacement)

    _assert_all_completed(stack, in_flight + _place(stack, 2))
    assert stack.running()
    assert stack.output().count("worker-1 was killed by SIGKILL; restarting it") == 2


def test_orders_placed_while_temporal_is_down_are_all_accepted_and_complete(
    stack: RunningStack,
) -> None:
    killed = stack.kill("Temporal")
    placed = _place(stack, 1)  # straight into the outage
    stack.wait_for_new("Temporal", killed)
    placed += _place(stack, 4)

    _assert_all_completed(stack, placed)
    assert "Temporal was killed by SIGKILL; restarting it" in stack.output()
    _wait_until_ready(stack)


def test_postgres_outage_answers_503_problems_and_loses_no_order(stack: RunningStack) -> None:
    in_flight = _place(stack, 3)
    dead_letters_before = stack.dead_letters()
    stack.kill("PostgreSQL")

    answers: list[httpx.Response] = []
    deadline = time.monotonic() + RECOVERY_SECONDS
    while not answers or answers[-1].status_code != 201:
        assert time.monotonic() < deadline, stack.output()
        answers.append(stack.place_order(order_body()))
    in_flight.append(answers[-1].json()["id"])

    refused = [answer for answer in answers if answer.status_code != 201]
    assert refused, "no request reached the API while PostgreSQL was down"
    assert {answer.status_code for answer in refused} == {503}
    assert {answer.headers["content-type"] for answer in refused} == {"application/problem+json"}
    _assert_all_completed(stack, in_flight)
    assert stack.dead_letters() == dead_letters_before
    assert "PostgreSQL is not running; restarting it" in stack.output()


def test_ctrl_c_stops_the_whole_stack_within_three_seconds(stack: RunningStack) -> None:
    _wait_until_ready(stack)

    seconds = stack.stop()

    assert seconds < 3.0, stack.output()
    assert stack.postmaster_pid() is None
    assert not stack.running()
