"""The carrier simulator's HTTP API: `uvicorn simulators.carrier.app:app`."""

from __future__ import annotations

import random

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from simulators.carrier import ledger, scenarios
from simulators.carrier.models import Attempt, Base, Shipment
from simulators.carrier.schemas import (
    ShipmentList,
    ShipmentOut,
    ShipmentRecord,
    ShipmentRequest,
    ShipmentStatus,
)
from simulators.errors import SimulatorError, error_response, error_responses
from simulators.faults import FaultInjector, inject_faults, unavailable_this_try
from simulators.idempotency import (
    IdempotencyKey,
    ensure_same_request,
    replay_headers,
    request_fingerprint,
)
from simulators.service import DbSession, build_app
from simulators.settings import (
    SimulatorSettings,
    get_simulator_settings,
    simulator_settings_or_exit,
)

# Faults first, so an injected 503 strikes before the key or the body is even looked at.
mutations = APIRouter(tags=["shipments"], dependencies=[Depends(inject_faults)])
reads = APIRouter(tags=["shipments"])


@mutations.post(
    "/shipments",
    status_code=201,
    response_model=ShipmentOut,
    summary="Create a shipment (a replay answers 200 with the original shipment)",
    responses=error_responses(400, 422, 503),
)
async def create_shipment(
    body: ShipmentRequest, request: Request, key: IdempotencyKey, session: DbSession
) -> JSONResponse:
    fingerprint = request_fingerprint(request, body)
    shipment = await ledger.shipment_for_key(session, key)
    replayed = shipment is not None
    if shipment is None:
        plan = scenarios.plan_for(body.address.postal_code)
        if await unavailable_this_try(plan, session, Attempt, key):
            raise SimulatorError(
                503, "carrier_unavailable", "The carrier is unavailable; retry later."
            )
        recorded = await ledger.record_shipment(
            session, key=key, fingerprint=fingerprint, request=body, failure_code=plan.failure_code
        )
        shipment, replayed = recorded.row, recorded.replayed
    ensure_same_request(shipment.fingerprint, fingerprint)
    return _shipment_answer(shipment, replayed)


def _shipment_answer(shipment: Shipment, replayed: bool) -> JSONResponse:
    headers = replay_headers(replayed)
    if shipment.tracking_number is None:  # only a created shipment has one
        code = shipment.failure_code or scenarios.ADDRESS_REJECTED
        message = scenarios.FAILURE_MESSAGES.get(code, "The shipment was rejected.")
        return error_response(422, code, message, headers=headers)
    body = ShipmentOut(
        id=shipment.id,
        tracking_number=shipment.tracking_number,
        status=ShipmentStatus.CREATED,
        reference=shipment.reference,
        created_at=shipment.created_at,
    )
    return JSONResponse(
        body.model_dump(mode="json"), status_code=200 if replayed else 201, headers=headers
    )


def _record(shipment: Shipment) -> ShipmentRecord:
    return ShipmentRecord.model_validate(
        {
            "id": shipment.id,
            "tracking_number": shipment.tracking_number,
            "status": shipment.status,
            "failure_code": shipment.failure_code,
            "reference": shipment.reference,
            "address": shipment.address,
            "items": shipment.items,
            "created_at": shipment.created_at,
        }
    )


@reads.get("/shipments", response_model=ShipmentList, summary="Every shipment for one reference")
async def list_shipments(reference: str, session: DbSession) -> ShipmentList:
    found = await ledger.shipments_for_reference(session, reference)
    return ShipmentList(data=[_record(shipment) for shipment in found])


@reads.get(
    "/shipments/{shipment_id}",
    response_model=ShipmentRecord,
    summary="One shipment",
    responses=error_responses(404),
)
async def get_shipment(shipment_id: str, session: DbSession) -> ShipmentRecord:
    shipment = await ledger.shipment_by_id(session, shipment_id)
    if shipment is None:
        raise SimulatorError(404, "no_such_shipment", f"No such shipment: {shipment_id!r}.")
    return _record(shipment)


def create_app(settings: SimulatorSettings | None = None, *, seed: int | None = None) -> FastAPI:
    """`seed` fixes the injected-fault dice, for a repeatable demo or test."""
    settings = settings or get_simulator_settings()
    faults = FaultInjector(
        error_rate=settings.carrier_sim_error_rate,
        latency_ms=settings.carrier_sim_latency_ms,
        rng=random.Random(seed),
    )
    return build_app(
        title="Carrier simulator",
        summary="A shipping sandbox: idempotent shipments; magic postal codes script faults.",
        settings=settings,
        ledger=settings.carrier_ledger,
        metadata=Base.metadata,
        faults=faults,
        routers=[mutations, reads],
    )


app = create_app(simulator_settings_or_exit())
