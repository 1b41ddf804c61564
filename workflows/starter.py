"""Starting an order's workflow, and the outbox of pending starts: used by the relay and redrive.

An order is accepted with a row in `workflow_starts` (the outbox) in the same transaction; the
start is recorded by deleting that row and setting `orders.workflow_started_at` together, so an
order is "accepted but not started" exactly while its row exists.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError

from foundation import search_attributes as sa
from foundation.domain import OrderStatus
from foundation.models import Order, WorkflowStart
from workflows.contracts import (
    WORKFLOW_NAME,
    Address,
    OrderLine,
    OrderWorkflowInput,
    RetryProfile,
)
from workflows.retry_policies import TAKEOVER

START_RPC_TIMEOUT = timedelta(seconds=5)


def workflow_input(order: Order, retry_profile: RetryProfile) -> OrderWorkflowInput:
    return OrderWorkflowInput(
        order_id=order.id,
        customer_id=order.customer_id,
        currency=order.currency,
        total=order.total_amount,
        payment_method=order.payment_method,
        lines=[
            OrderLine(sku=i.sku, quantity=i.quantity, unit_price=i.unit_price) for i in order.items
        ],
        shipping_address=Address.model_validate(order.shipping_address),
        retry_profile=retry_profile,
    )


async def start_fulfillment(
    client: Client, task_queue: str, order: Order, retry_profile: RetryProfile
) -> str:
    """Start (or find already running) the order's workflow; returns the run id.

    USE_EXISTING makes a concurrent or repeated start a no-op while the run is open, and
    ALLOW_DUPLICATE_FAILED_ONLY means a finished run is never started again unless it failed.
    """
    try:
        handle = await client.start_workflow(
            WORKFLOW_NAME,
            workflow_input(order, retry_profile),
            id=order.workflow_id,
            task_queue=task_queue,
            task_timeout=TAKEOVER[retry_profile].workflow_task,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(sa.ORDER_ID, str(order.id)),
                    SearchAttributePair(sa.CUSTOMER_ID, order.customer_id),
                    SearchAttributePair(sa.ORDER_STATUS, OrderStatus.RECEIVED.value),
                ]
            ),
            rpc_timeout=START_RPC_TIMEOUT,
        )
    except WorkflowAlreadyStartedError as exc:
        # The run already finished (the start was confirmed but not recorded): nothing to do.
        return exc.run_id or ""
    return handle.result_run_id or ""


async def enqueue_start(session: AsyncSession, order_id: uuid.UUID) -> None:
    """Ask the relay to start the order's workflow once this transaction commits."""
    await session.execute(insert(WorkflowStart).values(order_id=order_id).on_conflict_do_nothing())


async def record_started(session: AsyncSession, started: Mapping[uuid.UUID, datetime]) -> None:
    """The workflows of these orders are started, each at the time given (when its start call
    returned, so start lag counts the start itself and not the rest of its batch): they leave the
    outbox, in one transaction."""
    if not started:
        return
    await session.execute(delete(WorkflowStart).where(WorkflowStart.order_id.in_(started)))
    await session.execute(
        update(Order),
        [{"id": order_id, "workflow_started_at": at} for order_id, at in started.items()],
    )
