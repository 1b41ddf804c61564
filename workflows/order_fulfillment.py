"""The order's workflow: reserve stock, charge, ship, complete; compensate when a step can't.

Deterministic: it only decides. Every side effect, including writing the order's status and
the dead-letter row, is an activity, so a worker that dies mid-run changes nothing about how
the run ends.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel
from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, FailureError
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from foundation import search_attributes as sa
    from foundation.domain import OrderStatus
    from workflows.contracts import (
        CancelRequest,
        Charge,
        ChargePayment,
        CreateShipment,
        DeadLetterRecord,
        ErrorType,
        OrderWorkflowInput,
        OrderWorkflowResult,
        ReserveStock,
        Shipment,
        Step,
        Transition,
    )
    from workflows.retry_policies import policy_for

WORKFLOW_NAME = "OrderFulfillment"
# Cancelling is possible until the parcel is with the carrier.
CANCELLABLE = frozenset({OrderStatus.RECEIVED, OrderStatus.RESERVED, OrderStatus.PAID})

T = TypeVar("T")


class _CancelRequested(Exception):
    """Raised inside the workflow to unwind to compensation when a cancel arrives."""


@workflow.defn(name=WORKFLOW_NAME)
class OrderFulfillmentWorkflow:
    def __init__(self) -> None:
        self._status = OrderStatus.RECEIVED
        self._cancel: CancelRequest | None = None
        self._step_in_flight: workflow.ActivityHandle[Any] | None = None
        self._transitions = 0

    # --- the run -------------------------------------------------------------------------

    @workflow.run
    async def run(self, order: OrderWorkflowInput) -> OrderWorkflowResult:
        self._order = order
        result = OrderWorkflowResult(order_id=order.order_id, status=self._status)
        charge_attempted = False
        step = Step.RESERVE_STOCK
        step_input: BaseModel = ReserveStock(order_id=order.order_id, lines=order.lines)
        try:
            await self._call(step, "reserve_stock", step_input, None)
            await self._move_to(OrderStatus.RESERVED, "stock reserved")

            step = Step.CHARGE_PAYMENT
            step_input = ChargePayment(
                order_id=order.order_id,
                amount=order.total,
                currency=order.currency,
                payment_method=order.payment_method,
                idempotency_key=self._key("charge"),
            )
            charge_attempted = True
            charge = await self._call(step, "charge_payment", step_input, Charge)
            result.charge_id = charge.charge_id
            await self._move_to(OrderStatus.PAID, "payment captured", charge_id=charge.charge_id)

            step = Step.CREATE_SHIPMENT
            step_input = CreateShipment(
                order_id=order.order_id,
                address=order.shipping_address,
                lines=order.lines,
                idempotency_key=self._key("shipment"),
            )
            shipment = await self._call(step, "create_shipment", step_input, Shipment)
            result.tracking_number = shipment.tracking_number
            await self._move_to(
                OrderStatus.SHIPPED, "handed to carrier", tracking_number=shipment.tracking_number
            )
            await self._move_to(OrderStatus.COMPLETED, "fulfilled")
        except (_CancelRequested, ActivityError) as error:
            await self._compensate(refund=charge_attempted)
            # A step that ends after a cancel was asked for, however it ends, ends in CANCELLED:
            # the customer's request, not the step's own failure, is what the order records.
            if self._cancel is not None:
                await self._move_to(OrderStatus.CANCELLED, self._cancel.reason)
                result.status = self._status
                return result
            assert isinstance(error, ActivityError)
            await self._fail(step, step_input, error)
        result.status = self._status
        return result

    # --- signals, updates and queries ---------------------------------------------------

    @workflow.query
    def status(self) -> OrderStatus:
        return self._status

    @workflow.update
    async def cancel(self, request: CancelRequest) -> OrderStatus:
        if self._cancel is None:
            self._cancel = request
            if self._step_in_flight is not None:
                self._step_in_flight.cancel()
        # Answer once the outcome is known: cancelled, or shipped after all.
        await workflow.wait_condition(lambda: self._status not in CANCELLABLE)
        if self._status is not OrderStatus.CANCELLED:
            raise ApplicationError(
                f"order is {self._status}", type=ErrorType.TOO_LATE_TO_CANCEL.value
            )
        return self._status

    @cancel.validator
    def _cancel_allowed(self, request: CancelRequest) -> None:
        if self._status not in CANCELLABLE and self._status is not OrderStatus.CANCELLED:
            raise ApplicationError(
                f"order is already {self._status}", type=ErrorType.TOO_LATE_TO_CANCEL.value
            )

    # --- helpers ------------------------------------------------------------------------

    def _key(self, purpose: str) -> str:
        # Stable across retries and worker restarts; a redrive (new run) gets fresh keys.
        info = workflow.info()
        return f"{info.workflow_id}/{info.run_id}/{purpose}"

    async def _call(
        self, step: Step, activity: str, argument: BaseModel, returns: type[T] | None
    ) -> T:
        if self._cancel is not None:
            raise _CancelRequested()
        policy = policy_for(self._order.retry_profile, step)
        handle = workflow.start_activity(
            activity,
            argument,
            result_type=returns,
            start_to_close_timeout=policy.start_to_close,
            heartbeat_timeout=policy.heartbeat,
            retry_policy=policy.retry,
            # A cancelled attempt reports back first, so compensation sees what really happened.
            cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )
        self._step_in_flight = handle
        try:
            return await handle  # type: ignore[no-any-return]
        finally:
            self._step_in_flight = None

    async def _bookkeeping(self, activity: str, argument: Any) -> None:
        policy = policy_for(self._order.retry_profile, Step.RECORD)
        await workflow.execute_activity(
            activity,
            argument,
            start_to_close_timeout=policy.start_to_close,
            retry_policy=policy.retry,
        )

    async def _move_to(self, status: OrderStatus, reason: str, **extra: str) -> None:
        self._transitions += 1
        await self._bookkeeping(
            "record_transition",
            Transition(
                order_id=self._order.order_id,
                to_status=status,
                reason=reason,
                transition_id=f"{workflow.info().run_id}/{self._transitions}",
                **extra,
            ),
        )
        self._status = status
        workflow.upsert_search_attributes([sa.ORDER_STATUS.value_set(status.value)])

    async def _compensate(self, *, refund: bool) -> None:
        """Undo in reverse order. Compensation retries until it succeeds: it must not fail.

        Releasing is idempotent and a no-op without a reservation, so it always runs: an
        attempt may have reserved even when the workflow never saw its result.
        """
        if refund:
            policy = policy_for(self._order.retry_profile, Step.REFUND_PAYMENT)
            await workflow.execute_activity(
                "refund_payment",
                self._order.order_id,
                start_to_close_timeout=policy.start_to_close,
                retry_policy=policy.retry,
            )
        policy = policy_for(self._order.retry_profile, Step.RELEASE_STOCK)
        await workflow.execute_activity(
            "release_stock",
            self._order.order_id,
            start_to_close_timeout=policy.start_to_close,
            retry_policy=policy.retry,
        )

    async def _fail(self, step: Step, step_input: BaseModel, error: ActivityError) -> None:
        cause = error.cause
        if isinstance(cause, ApplicationError) and cause.type:
            error_type = cause.type
        else:  # e.g. a TimeoutError when every attempt ran out of time
            error_type = type(cause).__name__ if cause is not None else "ActivityError"
        message = cause.message if isinstance(cause, FailureError) else error.message
        details = cause.details if isinstance(cause, ApplicationError) else ()
        attempts = details[0].get("attempt", 1) if details and isinstance(details[0], dict) else 1
        info = workflow.info()
        await self._bookkeeping(
            "record_dead_letter",
            DeadLetterRecord(
                order_id=self._order.order_id,
                workflow_id=info.workflow_id,
                run_id=info.run_id,
                failed_step=step,
                error_type=error_type,
                error_message=message,
                attempts=attempts,
                step_input=step_input.model_dump(mode="json"),
            ),
        )
        await self._move_to(OrderStatus.FAILED, f"{step} failed: {error_type}: {message}")
        # Failing the run makes it show as Failed, with this cause, in Temporal's UI.
        raise ApplicationError(
            f"{step} failed after {attempts} attempt(s): {error_type}: {message}",
            type=ErrorType.ORDER_FULFILLMENT_FAILED.value,
            non_retryable=True,
        ) from error
