"""Starting an order's workflow: used by the API request, the redrive and the reconciler."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
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
from foundation.models import Order
from foundation.settings import Settings
from workflows.contracts import Address, OrderLine, OrderWorkflowInput, RetryProfile
from workflows.order_fulfillment import WORKFLOW_NAME
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


async def start_and_record_fulfillment(
    client: Client, settings: Settings, sessions: async_sessionmaker[AsyncSession], order: Order
) -> str:
    """Start the order's workflow with the configured queue and retry profile, then record that
    it started; returns the run id.

    An order whose start is not recorded (Temporal unreachable, or a crash in between) is started
    again by the reconciler; starting twice is harmless (see `start_fulfillment`).
    """
    run_id = await start_fulfillment(
        client, settings.task_queue, order, RetryProfile(settings.effective_retry_profile)
    )
    async with sessions.begin() as session:
        await session.execute(
            update(Order).where(Order.id == order.id).values(workflow_started_at=datetime.now(UTC))
        )
    return run_id
