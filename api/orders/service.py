"""Placing and reading orders. A new order is accepted in one transaction; the relay starts it."""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import (
    Client,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
    WorkflowUpdateStage,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from api.idempotency.header import request_fingerprint
from api.idempotency.repository import (
    Claimed,
    IdempotencyRepository,
    InFlight,
    Mismatch,
    Replay,
)
from api.idempotency.stored_answers import StoredAnswers
from api.metrics import (
    IDEMPOTENT_REPLAYS,
    KEY_REJECTIONS,
    ORDERS_ACCEPTED,
    KeyRejection,
)
from api.orders.cursor import PagePosition
from api.orders.repository import Acceptance, OrderFilter, OrderRepository
from api.orders.schemas import (
    OrderCreate,
    OrderItemOut,
    OrderOut,
    OrderSummary,
    StatusChangeOut,
)
from api.orders.start_backlog import StartBacklog, intake_overloaded
from api.problems import FieldError, ProblemError
from api.temporal_availability import temporal_unavailable
from foundation.domain import CANCELLABLE_STATUSES, OrderStatus
from foundation.models import Order
from foundation.settings import Settings
from foundation.telemetry import LogField, bind_log_context, current_trace_carrier
from foundation.temporal_client import temporal_unreachable
from foundation.workflow_ids import order_workflow_id
from workflows.contracts import CancelRequest, ErrorType
from workflows.order_fulfillment import OrderFulfillmentWorkflow
from workflows.starter import enqueue_start

logger = logging.getLogger(__name__)
CANCEL_NOT_DELIVERED = "The cancellation did not reach the order's workflow."


ACCEPTED_REASON = "order accepted"

# How soon a client told "compensation still running" should look at the order again.
CANCEL_RETRY_AFTER_SECONDS = 5


@dataclass(frozen=True)
class CancelOutcome:
    order: Order
    finished: bool  # False: accepted, compensation still running


@dataclass(frozen=True)
class PlacedOrder:
    status_code: int
    body: dict[str, Any]
    location: str | None
    replayed: bool


def order_out(order: Order) -> OrderOut:
    return OrderOut(
        id=order.id,
        status=order.status,
        items=[
            OrderItemOut(
                sku=i.sku, quantity=i.quantity, unit_price=i.unit_price, line_total=i.line_total
            )
            for i in order.items
        ],
        total=order.total_amount,
        currency=order.currency,
        workflow_id=order.workflow_id,
        created_at=order.created_at,
        charge_id=order.charge_id,
        tracking_number=order.tracking_number,
        history=[
            StatusChangeOut(
                at=change.occurred_at,
                from_status=change.from_status,
                to_status=change.to_status,
                reason=change.reason,
            )
            for change in order.history
        ],
    )


def _answer_used_key(outcome: Replay | Mismatch) -> PlacedOrder:
    if isinstance(outcome, Mismatch):
        KEY_REJECTIONS.labels(KeyRejection.REUSED.value).inc()
        raise ProblemError(
            422,
            "idempotency-key-reused",
            "This Idempotency-Key was already used with a different request body.",
        )
    IDEMPOTENT_REPLAYS.inc()
    return PlacedOrder(outcome.status, outcome.body, outcome.location, replayed=True)


class OrderService:
    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        temporal: Client,
        backlog: StartBacklog,
        *,
        reads: async_sessionmaker[AsyncSession] | None = None,
        stored: StoredAnswers | None = None,
    ) -> None:
        self._settings = settings
        self._sessions = sessions
        # Single-statement reads need no transaction (see foundation.db); transactional by default.
        self._reads = reads or sessions
        # Without it every request goes to the claim, which answers a used key as well.
        self._stored = stored
        self._temporal = temporal
        self._backlog = backlog

    def _keys(self, session: AsyncSession) -> IdempotencyRepository:
        return IdempotencyRepository.from_settings(session, self._settings)

    async def place(self, customer: str, key: str, request: OrderCreate, path: str) -> PlacedOrder:
        """Accept a new order in one transaction, or answer from the key's stored response.

        The claim of a new key inserts its row, so a concurrent request with the same key waits
        on the unique index until this transaction ends, then finds the stored response and
        replays it (or, after a rollback, claims the key itself). Raising inside the transaction
        rolls it back: a refusal stores nothing, not even the claim. A key whose answer is
        stored is settled before all that, by one read (api/idempotency/stored_answers.py).
        """
        fingerprint = request_fingerprint("POST", path, request.model_dump(mode="json"))
        if self._stored is not None:
            settled = await self._stored.settle(customer, key, fingerprint)
            if settled is not None:
                return _answer_used_key(settled)
        async with self._sessions.begin() as session:
            outcome = await self._keys(session).claim(customer, key, fingerprint)
            match outcome:
                case Replay() | Mismatch():
                    return _answer_used_key(outcome)
                case InFlight(retry_after):
                    # Only a claim left by an attempt that wrote in several transactions holds
                    # a lease now; a claim of this path is never seen uncommitted.
                    KEY_REJECTIONS.labels(KeyRejection.IN_FLIGHT.value).inc()
                    raise ProblemError(
                        409,
                        "idempotency-key-in-flight",
                        "A request with this Idempotency-Key is still being processed; "
                        "retry later.",
                        headers={"Retry-After": str(retry_after)},
                    )
                case Claimed():
                    claim = outcome
            if self._backlog.overloaded:
                raise intake_overloaded(self._backlog.retry_after_seconds)
            if claim.order_id is not None:
                body = await self._finish_earlier_attempt(session, claim)
            else:
                body = await self._accept(session, customer, key, request, claim)
        bind_log_context({LogField.ORDER_ID: body["id"], LogField.WORKFLOW_ID: body["workflow_id"]})
        ORDERS_ACCEPTED.inc()
        return PlacedOrder(201, body, _location(body), replayed=False)

    async def _accept(
        self,
        session: AsyncSession,
        customer: str,
        key: str,
        request: OrderCreate,
        claim: Claimed,
    ) -> dict[str, Any]:
        orders = OrderRepository(session)
        catalog = await orders.catalog_prices([i.sku for i in request.items])
        unknown = [
            FieldError(pointer=f"/body/items/{n}/sku", detail=f"unknown sku '{i.sku}'")
            for n, i in enumerate(request.items)
            if i.sku not in catalog
        ]
        if unknown:
            raise ProblemError(
                422, "unknown-sku", "Some items are not in the catalog.", errors=unknown
            )
        wrong_currency = {p.currency for p in catalog.values()} - {request.currency.value}
        if wrong_currency:
            raise ProblemError(
                422,
                "currency-mismatch",
                f"The catalog prices these items in {', '.join(sorted(wrong_currency))}.",
            )
        order_id = uuid.uuid4()
        items = [
            OrderItemOut(
                sku=i.sku,
                quantity=i.quantity,
                unit_price=catalog[i.sku].unit_price,
                line_total=catalog[i.sku].unit_price * i.quantity,
            )
            for i in request.items
        ]
        # The workflow id comes from the key, so it is known (and answered) before any start.
        out = OrderOut(
            id=order_id,
            status=OrderStatus.RECEIVED,
            items=items,
            total=sum(i.line_total for i in items),
            currency=request.currency.value,
            workflow_id=order_workflow_id(customer, key, claim.generation),
            created_at=claim.accepted_at,
            history=[
                StatusChangeOut(
                    at=claim.accepted_at,
                    from_status=None,
                    to_status=OrderStatus.RECEIVED,
                    reason=ACCEPTED_REASON,
                )
            ],
        )
        body = out.model_dump(mode="json")
        await orders.accept(
            Acceptance(
                order={
                    "id": order_id,
                    "customer_id": customer,
                    "idempotency_key": key,
                    "key_generation": claim.generation,
                    "status": OrderStatus.RECEIVED,
                    "currency": out.currency,
                    "total_amount": out.total,
                    "payment_method": request.payment_method,
                    "shipping_address": request.shipping_address.model_dump(mode="json"),
                    "workflow_id": out.workflow_id,
                    "created_at": claim.accepted_at,
                    "updated_at": claim.accepted_at,
                },
                items=[{"order_id": order_id, **item.model_dump()} for item in items],
                history={
                    "order_id": order_id,
                    "from_status": None,
                    "to_status": OrderStatus.RECEIVED,
                    "reason": ACCEPTED_REASON,
                    "transition_id": f"api/{order_id}/{OrderStatus.RECEIVED.value}/accepted",
                    "occurred_at": claim.accepted_at,
                },
                key_id=claim.key_id,
                response_body=body,
                response_location=_location(body),
                trace_context=current_trace_carrier(),
            )
        )
        return body

    async def _finish_earlier_attempt(
        self, session: AsyncSession, claim: Claimed
    ) -> dict[str, Any]:
        """A claim taken over from an attempt that wrote its order but never stored the answer
        (the intake before the outbox did that in separate transactions): answer that order, and
        make sure the relay starts it."""
        assert claim.order_id is not None
        order = await OrderRepository(session).get(claim.order_id)
        assert order is not None  # the key's foreign key
        body = order_out(order).model_dump(mode="json")
        if order.workflow_started_at is None:
            await enqueue_start(session, order.id)
        await self._keys(session).complete(claim.key_id, 201, body, _location(body))
        return body

    async def get(self, order_id: uuid.UUID, customer: str, *, is_admin: bool) -> Order | None:
        async with self._reads() as session:
            orders = OrderRepository(session)
            if is_admin:
                return await orders.get(order_id)
            return await orders.get_for_customer(order_id, customer)

    async def page(
        self, where: OrderFilter, after: PagePosition | None, limit: int
    ) -> tuple[list[OrderSummary], PagePosition | None]:
        """One page of a customer's orders, and where the next starts (None on the last)."""
        async with self._reads() as session:
            rows = await OrderRepository(session).customer_page(where, after, limit + 1)
        items = [
            OrderSummary(
                id=row.id,
                status=row.status,
                total=row.total_amount,
                currency=row.currency,
                created_at=row.created_at,
            )
            for row in rows[:limit]
        ]
        if len(rows) <= limit:
            return items, None
        last = items[-1]
        return items, PagePosition(last.created_at, last.id)

    async def cancel(self, order: Order, *, reason: str) -> CancelOutcome:
        """Cancel through the workflow, which compensates; the caller has checked visibility."""
        if order.status is OrderStatus.CANCELLED:
            return CancelOutcome(order, finished=True)
        if order.status not in CANCELLABLE_STATUSES:
            raise _not_cancellable(
                f"The order is {order.status.value}; it can no longer be cancelled."
            )
        handle = self._temporal.get_workflow_handle(order.workflow_id)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._settings.cancel_wait_seconds
        try:
            # Accepted first: only then is the cancel the workflow's, whatever happens next.
            async with asyncio.timeout_at(deadline):
                update = await handle.start_update(
                    OrderFulfillmentWorkflow.cancel,
                    CancelRequest(reason=reason),
                    wait_for_stage=WorkflowUpdateStage.ACCEPTED,
                )
        except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
            # Not accepted within the wait (no worker took it, or the server kept failing): an
            # update is the workflow's only once accepted, so nothing was cancelled yet.
            raise _order_busy() from None
        except WorkflowUpdateFailedError as exc:
            raise self._refused(exc) from None
        except RPCError as exc:
            if temporal_unreachable(exc):
                raise temporal_unavailable(CANCEL_NOT_DELIVERED) from exc
            # Not started yet (the relay will), or already closed: ask again shortly.
            raise _order_busy() from None
        except RuntimeError as exc:
            if temporal_unreachable(exc):
                raise temporal_unavailable(CANCEL_NOT_DELIVERED) from exc
            raise
        try:
            # The update answers when compensation is done; past the wait it goes on alone.
            async with asyncio.timeout_at(deadline):
                await update.result()
        except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError, RPCError):
            # Accepted, so the workflow compensates and ends CANCELLED without this request; the
            # SDK turns a cancelled wait (or its own RPC deadline) into its own error type.
            return CancelOutcome(await self._reload(order), finished=False)
        except WorkflowUpdateFailedError as exc:
            raise self._refused(exc) from None
        return CancelOutcome(await self._reload(order), finished=True)

    @staticmethod
    def _refused(failure: WorkflowUpdateFailedError) -> ProblemError:
        if _too_late_to_cancel(failure):
            return _not_cancellable(f"The order can no longer be cancelled: {failure.cause}.")
        # Otherwise the run closed before it could answer: past cancelling all the same.
        return _not_cancellable("The order's workflow ended before it could cancel.")

    async def _reload(self, order: Order) -> Order:
        async with self._sessions() as session:
            fresh = await session.get(Order, order.id, populate_existing=True)
            assert fresh is not None
            return fresh


def _location(body: dict[str, Any]) -> str:
    return f"/orders/{body['id']}"


def _too_late_to_cancel(failure: WorkflowUpdateFailedError) -> bool:
    cause = failure.cause
    return isinstance(cause, ApplicationError) and cause.type == ErrorType.TOO_LATE_TO_CANCEL


def _order_busy() -> ProblemError:
    return ProblemError(
        409,
        "order-busy",
        "The order's workflow cannot take a cancellation right now; retry shortly.",
        headers={"Retry-After": "5"},
    )


def _not_cancellable(detail: str) -> ProblemError:
    return ProblemError(409, "order-not-cancellable", detail)
