"""The payment gateway simulator's HTTP API: `uvicorn simulators.payment_gateway.app:app`."""

from __future__ import annotations

import random

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from simulators.errors import SimulatorError, error_response, error_responses
from simulators.faults import FaultInjector, inject_faults, unavailable_this_try
from simulators.idempotency import (
    IdempotencyKey,
    ensure_same_request,
    replay_headers,
    request_fingerprint,
)
from simulators.payment_gateway import ledger, scenarios
from simulators.payment_gateway.models import Attempt, Base, Charge
from simulators.payment_gateway.schemas import (
    ChargeList,
    ChargeOut,
    ChargeRecord,
    ChargeRequest,
    ChargeStatus,
    RefundOut,
    RefundRequest,
)
from simulators.service import DbSession, build_app
from simulators.settings import (
    SimulatorSettings,
    get_simulator_settings,
    simulator_settings_or_exit,
)

# Faults first, so an injected 503 strikes before the key or the body is even looked at.
mutations = APIRouter(tags=["payments"], dependencies=[Depends(inject_faults)])
reads = APIRouter(tags=["payments"])


@mutations.post(
    "/charges",
    status_code=201,
    response_model=ChargeOut,
    summary="Charge a payment method (a replay answers 200 with the original charge)",
    responses=error_responses(400, 402, 422, 503),
)
async def create_charge(
    body: ChargeRequest, request: Request, key: IdempotencyKey, session: DbSession
) -> JSONResponse:
    fingerprint = request_fingerprint(request, body)
    charge = await ledger.charge_for_key(session, key)
    replayed = charge is not None
    if charge is None:
        plan = scenarios.plan_for(body.payment_method)
        if await unavailable_this_try(plan, session, Attempt, key):
            raise SimulatorError(
                503, "gateway_unavailable", "The payment gateway is unavailable; retry later."
            )
        recorded = await ledger.record_charge(
            session, key=key, fingerprint=fingerprint, request=body, failure_code=plan.failure_code
        )
        charge, replayed = recorded.row, recorded.replayed
    ensure_same_request(charge.fingerprint, fingerprint)
    return _charge_answer(charge, replayed)


def _charge_answer(charge: Charge, replayed: bool) -> JSONResponse:
    headers = replay_headers(replayed)
    if charge.failure_code is not None:
        message = scenarios.FAILURE_MESSAGES.get(charge.failure_code, "The charge failed.")
        return error_response(402, charge.failure_code, message, headers=headers)
    body = ChargeOut(
        id=charge.id,
        status=ChargeStatus.SUCCEEDED,
        amount=charge.amount,
        currency=charge.currency,
        payment_method=charge.payment_method,
        reference=charge.reference,
        created_at=charge.created_at,
    )
    return JSONResponse(
        body.model_dump(mode="json"), status_code=200 if replayed else 201, headers=headers
    )


@mutations.post(
    "/charges/{charge_id}/refunds",
    status_code=201,
    response_model=RefundOut,
    summary="Refund a charge, in full unless an amount is given",
    responses=error_responses(400, 404, 409, 422, 503),
)
async def create_refund(
    charge_id: str,
    request: Request,
    key: IdempotencyKey,
    session: DbSession,
    body: RefundRequest | None = None,
) -> JSONResponse:
    # No body at all means a full refund, like `{}` and `{"amount": null}`.
    body = body or RefundRequest()
    recorded = await ledger.refund_charge(
        session,
        charge_id=charge_id,
        key=key,
        fingerprint=request_fingerprint(request, body),
        amount=body.amount,
    )
    refund = recorded.row
    out = RefundOut(
        id=refund.id, charge_id=refund.charge_id, amount=refund.amount, created_at=refund.created_at
    )
    return JSONResponse(
        out.model_dump(mode="json"),
        status_code=200 if recorded.replayed else 201,
        headers=replay_headers(recorded.replayed),
    )


def _record(found: ledger.ChargeWithRefunds) -> ChargeRecord:
    charge = found.charge
    return ChargeRecord(
        id=charge.id,
        status=ChargeStatus(charge.status),
        failure_code=charge.failure_code,
        amount=charge.amount,
        refunded_amount=found.refunded_amount,
        currency=charge.currency,
        payment_method=charge.payment_method,
        reference=charge.reference,
        created_at=charge.created_at,
    )


@reads.get("/charges", response_model=ChargeList, summary="Every charge for one reference")
async def list_charges(reference: str, session: DbSession) -> ChargeList:
    return ChargeList(
        data=[_record(found) for found in await ledger.charges_for_reference(session, reference)]
    )


@reads.get(
    "/charges/{charge_id}",
    response_model=ChargeRecord,
    summary="One charge, with how much of it is refunded",
    responses=error_responses(404),
)
async def get_charge(charge_id: str, session: DbSession) -> ChargeRecord:
    found = await ledger.charge_by_id(session, charge_id)
    if found is None:
        raise ledger.no_such_charge(charge_id)
    return _record(found)


def create_app(settings: SimulatorSettings | None = None, *, seed: int | None = None) -> FastAPI:
    """`seed` fixes the injected-fault dice, for a repeatable demo or test."""
    settings = settings or get_simulator_settings()
    faults = FaultInjector(
        error_rate=settings.payment_sim_error_rate,
        latency_ms=settings.payment_sim_latency_ms,
        rng=random.Random(seed),
    )
    return build_app(
        title="Payment gateway simulator",
        summary="A payment sandbox: idempotent charges and refunds; magic tokens script faults.",
        settings=settings,
        ledger=settings.payment_gateway_ledger,
        metadata=Base.metadata,
        faults=faults,
        routers=[mutations, reads],
    )


app = create_app(simulator_settings_or_exit())
