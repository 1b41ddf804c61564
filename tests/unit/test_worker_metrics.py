"""How the worker labels failures and what a completed activity counts."""

from __future__ import annotations

import uuid

from prometheus_client import REGISTRY
from temporalio.exceptions import ApplicationError, CancelledError

from foundation.domain import OrderStatus
from processes.worker_metrics import count_completion, failure_label
from workflows.contracts import ErrorType, Transition


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def transition(to_status: OrderStatus) -> Transition:
    return Transition(order_id=uuid.uuid4(), to_status=to_status, reason="r", transition_id="t")


def test_a_step_failure_is_labelled_with_its_error_type() -> None:
    error = ApplicationError("declined", type=ErrorType.PAYMENT_DECLINED.value)
    assert failure_label(error) == ErrorType.PAYMENT_DECLINED.value


def test_a_cancelled_attempt_is_labelled_cancelled() -> None:
    assert failure_label(CancelledError("cancelled")) == "cancelled"


def test_an_unexpected_exception_is_labelled_unexpected() -> None:
    assert failure_label(LookupError("no such order")) == "unexpected"


def test_a_completed_refund_counts_as_a_compensation() -> None:
    before = sample("order_worker_compensations_total", activity="refund_payment")
    count_completion("refund_payment", [])
    assert sample("order_worker_compensations_total", activity="refund_payment") == before + 1


def test_a_written_dead_letter_is_counted() -> None:
    before = sample("order_worker_dead_letters_written_total")
    count_completion("record_dead_letter", [])
    assert sample("order_worker_dead_letters_written_total") == before + 1


def test_only_a_transition_to_a_final_status_counts_a_finished_order() -> None:
    before = sample("order_worker_orders_finished_total", status="FAILED")
    count_completion("record_transition", [transition(OrderStatus.FAILED)])
    count_completion("record_transition", [transition(OrderStatus.PAID)])
    assert sample("order_worker_orders_finished_total", status="FAILED") == before + 1
    assert sample("order_worker_orders_finished_total", status="PAID") == 0
