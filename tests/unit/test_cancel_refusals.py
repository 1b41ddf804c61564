"""When the workflow refuses a cancel, the API answers 409 order-not-cancellable."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from api.orders.service import OrderService
from api.problems import ProblemError
from foundation.domain import OrderStatus
from foundation.models import Order
from foundation.settings import Settings
from workflows.contracts import ErrorType


class RefusingWorkflow:
    """Stands in for the order's workflow handle: the cancel is accepted, then fails with
    `cause`."""

    def __init__(self, cause: BaseException) -> None:
        self._cause = cause

    def get_workflow_handle(self, workflow_id: str) -> RefusingWorkflow:
        return self

    async def start_update(self, *args: Any, **kwargs: Any) -> RefusingWorkflow:
        return self

    async def result(self) -> None:
        raise WorkflowUpdateFailedError(self._cause)


async def cancel_refused_with(cause: BaseException) -> ProblemError:
    # The session factory and the backlog are unused: a refused cancel reads nothing back.
    service = OrderService(Settings(), None, RefusingWorkflow(cause), None)  # type: ignore[arg-type]
    paid = Order(id=uuid.uuid4(), status=OrderStatus.PAID.value, workflow_id="order-1")
    with pytest.raises(ProblemError) as refused:
        await service.cancel(paid, reason="changed my mind")
    return refused.value


async def test_too_late_to_cancel_is_409_with_the_workflows_reason() -> None:
    problem = await cancel_refused_with(
        ApplicationError("order is SHIPPED", type=ErrorType.TOO_LATE_TO_CANCEL)
    )

    assert (problem.status, problem.slug) == (409, "order-not-cancellable")
    assert "order is SHIPPED" in problem.detail


async def test_a_run_that_closed_before_answering_is_409_as_well() -> None:
    problem = await cancel_refused_with(
        ApplicationError("the workflow completed first", type="AcceptedUpdateCompletedWorkflow")
    )

    assert (problem.status, problem.slug) == (409, "order-not-cancellable")
    assert "ended before it could cancel" in problem.detail
