"""The order's workflow. Deterministic: it only decides; activities do the I/O."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.order_records import OrderRecordActivities
    from orderapi.domain import OrderStatus
    from workflows.contracts import OrderWorkflowInput, OrderWorkflowResult, StatusChange
    from workflows.retry_policies import RECORD_KEEPING, RECORD_KEEPING_TIMEOUT


@workflow.defn(name="OrderFulfillment")
class OrderFulfillmentWorkflow:
    def __init__(self) -> None:
        self._status = OrderStatus.RECEIVED

    @workflow.run
    async def run(self, order: OrderWorkflowInput) -> OrderWorkflowResult:
        await self._move_to(order, OrderStatus.COMPLETED, "order accepted")
        return OrderWorkflowResult(order_id=order.order_id, status=self._status)

    @workflow.query
    def status(self) -> OrderStatus:
        return self._status

    async def _move_to(self, order: OrderWorkflowInput, status: OrderStatus, reason: str) -> None:
        await workflow.execute_activity_method(
            OrderRecordActivities.set_order_status,
            StatusChange(order_id=order.order_id, to_status=status, reason=reason),
            start_to_close_timeout=RECORD_KEEPING_TIMEOUT,
            retry_policy=RECORD_KEEPING,
        )
        self._status = status
