"""The order's workflow: reserve stock, charge, ship, complete; compensate when a step can't.

Deterministic: it only decides. Every side effect, including writing the order's status and
the dead-letter row, is an activity, so a worker that dies mid-run changes nothing about how
the run ends. The status a step's success leads to is written by that step, with its own work;
the others are local activities: they run in the workflow task that decided them, on the same
worker, so a status costs the server a marker in the history rather than a task of its own (a
retried write appends nothing twice: the transition id is the run's own).
It calls the activities by reference (their classes' methods), so it sits above activities/ in
the layers; both speak workflows/contracts.py, which sits below both.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, TypeVar

from pydantic import BaseModel
from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, FailureError
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from activities.order_records import OrderRecordActivities
    from activities.payments import PaymentActivities
    from activities.shipping import ShippingActivities
    from activities.stock import StockActivities
    from foundation import search_attributes as sa
    from foundation.domain import CANCELLABLE_STATUSES, OrderStatus
    from workflows.contracts import (
        WORKFLOW_NAME,
        CancelRequest,
        ChargePayment,
        CreateShipment,
        DeadLetterRecord,
        ErrorType,
        OrderWorkflowInput,
        OrderWorkflowResult,
        ReserveStock,
        Step,
        Transition,
    )
    from workflows.retry_policies import policy_for

# Runs begun before status writes became local activities wrote each status with an activity
# task; they replay, and go on, that way (tests/histories holds both shapes).
LOCAL_STATUS_WRITES = "status-writes-as-local-activities"
# Runs begun since the steps write the status their success leads to (RESERVED, PAID, SHIPPED)
# themselves, in the step's own transaction where it has one: three fewer local activities per
# order, each of which cost the worker an activation and the server a marker. The statuses a
# step does not end in (COMPLETED, CANCELLED, FAILED) stay local activities.
STATUS_WRITES_IN_STEPS = "status-writes-in-steps"

RequestT = TypeVar("RequestT", bound=BaseModel)
ResultT = TypeVar("ResultT")
# An activity as its class declares it, e.g. StockActivities.reserve_stock.
Activity = Callable[[Any, RequestT], Awaitable[ResultT]]


class _CancelRequested(Exception):
    """Raised inside the workflow to unwind to compensation when a cancel arrives."""


class _StepFailed(Exception):
    """A step that failed for good, with what its dead letter records."""

    def __init__(self, step: Step, request: BaseModel, error: ActivityError) -> None:
        super().__init__(step)
        self.step = step
        self.request = request
        self.error = error


@workflow.defn(name=WORKFLOW_NAME)
class OrderFulfillmentWorkflow:
    def __init__(self) -> None:
        self._status = OrderStatus.RECEIVED
        self._cancel: CancelRequest | None = None
        self._step_in_flight: workflow.ActivityHandle[Any] | None = None
        self._steps_begun: set[Step] = set()
        self._transitions = 0
        self._local_status_writes = False
        self._status_writes_in_steps = False

    # --- the run -------------------------------------------------------------------------

    @workflow.run
    async def run(self, order: OrderWorkflowInput) -> OrderWorkflowResult:
        self._order = order
        # The later patch implies the earlier, so a new run records (and upserts the change
        # version of) one patch only.
        self._status_writes_in_steps = workflow.patched(STATUS_WRITES_IN_STEPS)
        self._local_status_writes = self._status_writes_in_steps or workflow.patched(
            LOCAL_STATUS_WRITES
        )
        result = OrderWorkflowResult(order_id=order.order_id, status=self._status)
        try:
            await self._reserve_stock()
            result.charge_id = await self._charge_payment()
            result.tracking_number = await self._ship()
            await self._move_to(OrderStatus.COMPLETED, "fulfilled")
        except (_CancelRequested, _StepFailed) as stopped:
            # Undo in reverse order. A charge may have gone through even when the workflow never
            # saw its answer, so reaching the step is enough to refund; releasing is a no-op
            # without a reservation, so it always runs.
            if Step.CHARGE_PAYMENT in self._steps_begun:
                await self._compensate(Step.REFUND_PAYMENT, PaymentActivities.refund_payment)
            await self._compensate(Step.RELEASE_STOCK, StockActivities.release_stock)
            # A step that ends after a cancel was asked for, however it ends, ends in CANCELLED:
            # the customer's request, not the step's own failure, is what the order records.
            if self._cancel is None:
                assert isinstance(stopped, _StepFailed)
                await self._fail(stopped)
            else:
                await self._move_to(OrderStatus.CANCELLED, self._cancel.reason)
        result.status = self._status
        return result

    async def _reserve_stock(self) -> None:
        written = self._written_by_step(OrderStatus.RESERVED, "stock reserved")
        request = ReserveStock(
            order_id=self._order.order_id, lines=self._order.lines, status_change=written
        )
        await self._step(Step.RESERVE_STOCK, StockActivities.reserve_stock, request)
        await self._move_to(OrderStatus.RESERVED, "stock reserved", written=written)

    async def _charge_payment(self) -> str:
        written = self._written_by_step(OrderStatus.PAID, "payment captured")
        request = ChargePayment(
            order_id=self._order.order_id,
            amount=self._order.total,
            currency=self._order.currency,
            payment_method=self._order.payment_method,
            idempotency_key=self._key("charge"),
            status_change=written,
        )
        charge = await self._step(Step.CHARGE_PAYMENT, PaymentActivities.charge_payment, request)
        await self._move_to(
            OrderStatus.PAID, "payment captured", written=written, charge_id=charge.charge_id
        )
        return charge.charge_id

    async def _ship(self) -> str:
        written = self._written_by_step(OrderStatus.SHIPPED, "handed to carrier")
        request = CreateShipment(
            order_id=self._order.order_id,
            address=self._order.shipping_address,
            lines=self._order.lines,
            idempotency_key=self._key("shipment"),
            status_change=written,
        )
        shipment = await self._step(
            Step.CREATE_SHIPMENT, ShippingActivities.create_shipment, request
        )
        await self._move_to(
            OrderStatus.SHIPPED,
            "handed to carrier",
            written=written,
            tracking_number=shipment.tracking_number,
        )
        return shipment.tracking_number

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
        await workflow.wait_condition(lambda: self._status not in CANCELLABLE_STATUSES)
        if self._status is not OrderStatus.CANCELLED:
            raise ApplicationError(
                f"order is {self._status}", type=ErrorType.TOO_LATE_TO_CANCEL.value
            )
        return self._status

    @cancel.validator
    def _cancel_allowed(self, request: CancelRequest) -> None:
        if self._status not in CANCELLABLE_STATUSES and self._status is not OrderStatus.CANCELLED:
            raise ApplicationError(
                f"order is already {self._status}", type=ErrorType.TOO_LATE_TO_CANCEL.value
            )

    # --- helpers ------------------------------------------------------------------------

    def _key(self, purpose: str) -> str:
        # Stable across retries and worker restarts; a redrive (new run) gets fresh keys.
        info = workflow.info()
        return f"{info.workflow_id}/{info.run_id}/{purpose}"

    async def _step(
        self, step: Step, activity: Activity[RequestT, ResultT], request: RequestT
    ) -> ResultT:
        """Run a step the customer can cancel: a cancel stops it before it starts or mid-flight."""
        self._steps_begun.add(step)
        if self._cancel is not None:
            raise _CancelRequested()
        policy = policy_for(self._order.retry_profile, step)
        handle = workflow.start_activity_method(
            activity,
            request,
            start_to_close_timeout=policy.start_to_close,
            heartbeat_timeout=policy.heartbeat,
            retry_policy=policy.retry,
            # A cancelled attempt reports back first, so compensation sees what really happened.
            cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )
        self._step_in_flight = handle
        try:
            return await handle
        except ActivityError as error:
            raise _StepFailed(step, request, error) from error
        finally:
            self._step_in_flight = None

    async def _compensate(self, step: Step, activity: Activity[Any, Any]) -> None:
        # Compensation retries until it succeeds: it must not fail.
        policy = policy_for(self._order.retry_profile, step)
        await workflow.execute_activity_method(
            activity,
            self._order.order_id,
            start_to_close_timeout=policy.start_to_close,
            retry_policy=policy.retry,
        )

    async def _record(self, activity: Activity[RequestT, None], record: RequestT) -> None:
        policy = policy_for(self._order.retry_profile, Step.RECORD)
        await workflow.execute_activity_method(
            activity,
            record,
            start_to_close_timeout=policy.start_to_close,
            retry_policy=policy.retry,
        )

    def _transition(self, status: OrderStatus, reason: str, **extra: str) -> Transition:
        self._transitions += 1
        return Transition(
            order_id=self._order.order_id,
            to_status=status,
            reason=reason,
            transition_id=f"{workflow.info().run_id}/{self._transitions}",
            **extra,
        )

    def _written_by_step(self, status: OrderStatus, reason: str) -> Transition | None:
        """The change for the step to write on success, or None where the workflow writes it."""
        return self._transition(status, reason) if self._status_writes_in_steps else None

    async def _move_to(
        self, status: OrderStatus, reason: str, *, written: Transition | None = None, **extra: str
    ) -> None:
        """Record the order's new status, unless the step that led to it (`written`) did."""
        if written is None:
            transition = self._transition(status, reason, **extra)
            if self._local_status_writes:
                policy = policy_for(self._order.retry_profile, Step.RECORD)
                await workflow.execute_local_activity_method(
                    OrderRecordActivities.record_transition,
                    transition,
                    start_to_close_timeout=policy.start_to_close,
                    retry_policy=policy.retry,
                )
            else:
                await self._record(OrderRecordActivities.record_transition, transition)
        self._status = status
        workflow.upsert_search_attributes([sa.ORDER_STATUS.value_set(status.value)])

    async def _fail(self, failure: _StepFailed) -> NoReturn:
        error, step = failure.error, failure.step
        cause = error.cause
        if isinstance(cause, ApplicationError) and cause.type:
            error_type = cause.type
        else:  # e.g. a TimeoutError when every attempt ran out of time
            error_type = type(cause).__name__ if cause is not None else "ActivityError"
        message = cause.message if isinstance(cause, FailureError) else error.message
        details = cause.details if isinstance(cause, ApplicationError) else ()
        attempts = details[0].get("attempt", 1) if details and isinstance(details[0], dict) else 1
        info = workflow.info()
        await self._record(
            OrderRecordActivities.record_dead_letter,
            DeadLetterRecord(
                order_id=self._order.order_id,
                workflow_id=info.workflow_id,
                run_id=info.run_id,
                failed_step=step,
                error_type=error_type,
                error_message=message,
                attempts=attempts,
                step_input=failure.request.model_dump(mode="json"),
            ),
        )
        await self._move_to(OrderStatus.FAILED, f"{step} failed: {error_type}: {message}")
        # Failing the run makes it show as Failed, with this cause, in Temporal's UI.
        raise ApplicationError(
            f"{step} failed after {attempts} attempt(s): {error_type}: {message}",
            type=ErrorType.ORDER_FULFILLMENT_FAILED.value,
            non_retryable=True,
        ) from error
