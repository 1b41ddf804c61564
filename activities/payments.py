"""Charges and refunds at the payment gateway, over HTTP, never twice for one order run."""

from __future__ import annotations

import uuid

import httpx
from temporalio import activity

from activities.errors import step_failed
from activities.provider_errors import PAYMENT_GATEWAY
from activities.status_writes import StatusWriter
from workflows.contracts import Charge, ChargePayment, ErrorType


class PaymentActivities:
    def __init__(self, gateway: httpx.AsyncClient, statuses: StatusWriter) -> None:
        self._gateway = gateway
        self._statuses = statuses

    @activity.defn(name="charge_payment")
    async def charge_payment(self, request: ChargePayment) -> Charge:
        body = {
            "amount": request.amount,
            "currency": request.currency,
            "payment_method": request.payment_method,
            "reference": str(request.order_id),
        }
        try:
            response = await self._gateway.post(
                "/charges", json=body, headers={"Idempotency-Key": request.idempotency_key}
            )
        except httpx.HTTPError as exc:
            raise PAYMENT_GATEWAY.unreachable(exc) from exc
        if response.is_success:
            charge = Charge(charge_id=response.json()["id"])
            if request.status_change is not None:
                # A failed write retries the step: the gateway answers a repeated key with the
                # same charge, and the write appends the transition once.
                await self._statuses.write(
                    request.status_change.model_copy(update={"charge_id": charge.charge_id})
                )
            return charge
        if response.status_code == httpx.codes.PAYMENT_REQUIRED:  # a declined card
            raise step_failed(
                f"payment declined: {response.json().get('error', 'declined')}",
                ErrorType.PAYMENT_DECLINED,
                retryable=False,
                business_outcome=True,
            )
        raise PAYMENT_GATEWAY.not_accepted(response)

    @activity.defn(name="refund_payment")
    async def refund_payment(self, order_id: uuid.UUID) -> int:
        """Refund every charge the gateway holds for this order; returns how many were refunded.

        Asking the gateway, rather than trusting the workflow's memory, also covers a charge
        whose response was lost when a worker died or the step was cancelled mid-flight.
        """
        listed = await self._gateway.get("/charges", params={"reference": str(order_id)})
        listed.raise_for_status()
        refunded = 0
        for charge in listed.json()["data"]:
            if charge["status"] != "succeeded" or charge["refunded_amount"] >= charge["amount"]:
                continue
            response = await self._gateway.post(
                f"/charges/{charge['id']}/refunds",
                json={"amount": None},
                headers={"Idempotency-Key": f"refund-{charge['id']}"},
            )
            if response.status_code not in (200, 201, 409):  # 409: already refunded
                response.raise_for_status()
            refunded += 1
        return refunded
