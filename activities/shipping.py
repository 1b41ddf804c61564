"""Shipments with the carrier, over HTTP. Slow, so it heartbeats and can be cancelled."""

from __future__ import annotations

import asyncio

import httpx
from temporalio import activity

from activities.errors import step_failed
from activities.provider_errors import CARRIER
from activities.status_writes import StatusWriter
from workflows.contracts import CreateShipment, ErrorType, Shipment

HEARTBEAT_EVERY_SECONDS = 1.0


class ShippingActivities:
    def __init__(self, carrier: httpx.AsyncClient, statuses: StatusWriter) -> None:
        self._carrier = carrier
        self._statuses = statuses

    @activity.defn(name="create_shipment")
    async def create_shipment(self, request: CreateShipment) -> Shipment:
        body = {
            "reference": str(request.order_id),
            "address": request.address.model_dump(mode="json"),
            "items": [{"sku": line.sku, "quantity": line.quantity} for line in request.lines],
        }
        call = asyncio.ensure_future(
            self._carrier.post(
                "/shipments", json=body, headers={"Idempotency-Key": request.idempotency_key}
            )
        )
        try:
            response = await self._heartbeat_until_done(call)
        except asyncio.CancelledError:
            # Cancelled while the carrier holds the request. Walking away could leave a parcel
            # nobody knows about, so wait for the answer: a shipment that exists means it is
            # too late to cancel, and the workflow is told so by this step succeeding.
            outcome = await self._outcome(call)
            if outcome is None or not outcome.is_success:
                raise
            response = outcome
        except httpx.HTTPError as exc:
            raise CARRIER.unreachable(exc) from exc
        if response.is_success:
            answer = response.json()
            shipment = Shipment(shipment_id=answer["id"], tracking_number=answer["tracking_number"])
            if request.status_change is not None:
                # As with a charge: a retry finds the same shipment by its key.
                await self._statuses.write(
                    request.status_change.model_copy(
                        update={"tracking_number": shipment.tracking_number}
                    )
                )
            return shipment
        if (
            response.status_code == httpx.codes.UNPROCESSABLE_ENTITY
            and response.json().get("error") == "address_rejected"
        ):
            raise step_failed(
                "carrier rejected the shipping address",
                ErrorType.ADDRESS_REJECTED,
                retryable=False,
                business_outcome=True,
            )
        raise CARRIER.not_accepted(response)

    @staticmethod
    async def _heartbeat_until_done(call: asyncio.Future[httpx.Response]) -> httpx.Response:
        # Heartbeats let the server notice a dead worker in seconds and deliver a cancel.
        while not call.done():
            activity.heartbeat()
            await asyncio.wait({call}, timeout=HEARTBEAT_EVERY_SECONDS)
        return call.result()

    @staticmethod
    async def _outcome(call: asyncio.Future[httpx.Response]) -> httpx.Response | None:
        try:
            return await call
        except httpx.HTTPError:
            return None
