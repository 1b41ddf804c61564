"""Every line an activity logs names its order and workflow."""

from __future__ import annotations

from typing import Any

from temporalio import activity
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from foundation.telemetry import LogField, bind_log_context


class _BindingActivityInbound(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        fields = {LogField.WORKFLOW_ID: activity.info().workflow_id or "-"}
        # Every activity's request model carries the order it acts for.
        for arg in input.args:
            order_id = getattr(arg, "order_id", None)
            if order_id is not None:
                fields[LogField.ORDER_ID] = str(order_id)
        bind_log_context(fields)
        return await super().execute_activity(input)


class ActivityLogContextInterceptor(Interceptor):
    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _BindingActivityInbound(super().intercept_activity(next))
