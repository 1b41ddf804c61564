"""The carrier simulator on its own ledger file: outcomes, idempotency, faults."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from simulators.carrier.app import create_app
from simulators.carrier.models import Attempt, Shipment
from simulators.settings import SimulatorSettings
from simulators.storage import make_session_factory, open_ledger
from tests.support import in_process_client, serve_over_http

pytestmark = pytest.mark.integration

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
def carrier_settings(tmp_path: Path) -> SimulatorSettings:
    """A ledger file of this test's own, so every test starts from an empty carrier."""
    return SimulatorSettings(data_dir=tmp_path)


@pytest.fixture
async def carrier(carrier_settings: SimulatorSettings) -> AsyncIterator[httpx.AsyncClient]:
    async with in_process_client(create_app(carrier_settings)) as client:
        yield client


@pytest.fixture
async def ledger_sessions(carrier_settings: SimulatorSettings) -> AsyncIterator[Sessions]:
    """Sessions on the carrier's ledger file, opened apart from the app, as an operator would."""
    engine = open_ledger(carrier_settings.carrier_ledger)
    yield make_session_factory(engine)
    await engine.dispose()


def shipment_body(postal_code: str = "12345", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "reference": str(uuid.uuid4()),
        "address": {
            "name": "Alice Example",
            "line1": "1 Main St",
            "city": "Springfield",
            "postal_code": postal_code,
            "country": "US",
        },
        "items": [{"sku": "WIDGET-1", "quantity": 2}, {"sku": "GIZMO-3", "quantity": 1}],
    }
    return body | overrides


def key() -> dict[str, str]:
    return {"Idempotency-Key": f"test-{uuid.uuid4()}"}


async def shipment_count(sessions: Sessions, reference: str) -> int:
    async with sessions() as session:
        statement = select(func.count()).where(Shipment.reference == reference)
        return (await session.scalar(statement)) or 0


async def test_shipment_is_created_with_a_tracking_number(carrier: httpx.AsyncClient) -> None:
    body = shipment_body()

    response = await carrier.post("/shipments", json=body, headers=key())

    assert response.status_code == 201
    shipment = response.json()
    assert shipment["id"].startswith("shp_")
    assert shipment["tracking_number"].startswith("TRK")
    assert shipment["tracking_number"][3:].isdigit()
    assert (shipment["status"], shipment["reference"]) == ("created", body["reference"])
    assert "created_at" in shipment


async def test_replay_returns_the_same_shipment_marked_replayed(
    carrier: httpx.AsyncClient, ledger_sessions: Sessions
) -> None:
    body, headers = shipment_body(), key()
    first = await carrier.post("/shipments", json=body, headers=headers)

    again = await carrier.post("/shipments", json=body, headers=headers)

    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert await shipment_count(ledger_sessions, body["reference"]) == 1


async def test_same_key_with_a_different_body_is_422(carrier: httpx.AsyncClient) -> None:
    body, headers = shipment_body(), key()
    await carrier.post("/shipments", json=body, headers=headers)

    response = await carrier.post(
        "/shipments", json=body | {"items": [{"sku": "WIDGET-1", "quantity": 5}]}, headers=headers
    )

    assert response.status_code == 422
    assert response.json()["error"] == "idempotency_key_reused"


async def test_missing_idempotency_key_is_400(carrier: httpx.AsyncClient) -> None:
    response = await carrier.post("/shipments", json=shipment_body())

    assert response.status_code == 400
    assert response.json()["error"] == "idempotency_key_missing"


async def test_postal_code_00000_is_always_503_and_stores_nothing(
    carrier: httpx.AsyncClient, ledger_sessions: Sessions
) -> None:
    body, headers = shipment_body("00000"), key()

    answers = [await carrier.post("/shipments", json=body, headers=headers) for _ in range(4)]

    assert {a.status_code for a in answers} == {503}
    assert {a.json()["error"] for a in answers} == {"carrier_unavailable"}
    assert await shipment_count(ledger_sessions, body["reference"]) == 0


async def test_postal_code_99999_is_rejected_and_the_rejection_is_replayed(
    carrier: httpx.AsyncClient,
) -> None:
    body, headers = shipment_body("99999"), key()

    first = await carrier.post("/shipments", json=body, headers=headers)
    again = await carrier.post("/shipments", json=body, headers=headers)

    assert first.status_code == 422
    assert first.json()["error"] == "address_rejected"
    assert again.status_code == 422
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"


async def test_postal_code_00003_succeeds_on_the_fourth_try(
    carrier: httpx.AsyncClient, ledger_sessions: Sessions
) -> None:
    body, headers = shipment_body("00003"), key()

    answers = [await carrier.post("/shipments", json=body, headers=headers) for _ in range(4)]

    assert [a.status_code for a in answers] == [503, 503, 503, 201]
    assert await shipment_count(ledger_sessions, body["reference"]) == 1
    async with ledger_sessions() as session:
        attempts = await session.get(Attempt, headers["Idempotency-Key"])
    assert attempts is not None and attempts.count == 4


async def test_twenty_concurrent_posts_with_one_key_make_exactly_one_shipment(
    carrier: httpx.AsyncClient, ledger_sessions: Sessions
) -> None:
    body, headers = shipment_body(), key()

    answers = await asyncio.gather(
        *(carrier.post("/shipments", json=body, headers=headers) for _ in range(20))
    )

    assert sorted(a.status_code for a in answers) == [200] * 19 + [201]
    assert len({a.json()["tracking_number"] for a in answers}) == 1
    assert await shipment_count(ledger_sessions, body["reference"]) == 1


async def test_shipments_are_listed_by_reference_rejections_included(
    carrier: httpx.AsyncClient,
) -> None:
    reference = str(uuid.uuid4())
    rejected = shipment_body("99999", reference=reference)
    await carrier.post("/shipments", json=rejected, headers=key())
    created = await carrier.post(
        "/shipments", json=shipment_body(reference=reference), headers=key()
    )
    await carrier.post("/shipments", json=shipment_body(), headers=key())  # another order's

    listed = await carrier.get("/shipments", params={"reference": reference})

    assert listed.status_code == 200
    shipments = listed.json()["data"]
    assert [(s["status"], s["failure_code"]) for s in shipments] == [
        ("rejected", "address_rejected"),
        ("created", None),
    ]
    assert shipments[0]["tracking_number"] is None
    assert shipments[1]["tracking_number"] == created.json()["tracking_number"]
    assert shipments[1]["address"]["postal_code"] == "12345"
    assert shipments[1]["items"] == [
        {"sku": "WIDGET-1", "quantity": 2},
        {"sku": "GIZMO-3", "quantity": 1},
    ]


async def test_a_shipment_is_read_by_id_and_an_unknown_one_is_404(
    carrier: httpx.AsyncClient,
) -> None:
    created = (await carrier.post("/shipments", json=shipment_body(), headers=key())).json()

    found = await carrier.get(f"/shipments/{created['id']}")
    missing = await carrier.get("/shipments/shp_nonexistent")

    assert (found.status_code, found.json()["id"]) == (200, created["id"])
    assert missing.status_code == 404
    assert missing.json()["error"] == "no_such_shipment"


async def test_injected_error_rate_1_fails_before_anything_is_stored(
    carrier_settings: SimulatorSettings, ledger_sessions: Sessions
) -> None:
    failing = carrier_settings.model_copy(update={"carrier_sim_error_rate": 1.0})
    body, headers = shipment_body("00002"), key()

    async with in_process_client(create_app(failing)) as carrier:
        answers = [await carrier.post("/shipments", json=body, headers=headers) for _ in range(3)]

    assert {a.status_code for a in answers} == {503}
    assert {a.json()["error"] for a in answers} == {"injected_fault"}
    assert await shipment_count(ledger_sessions, body["reference"]) == 0
    async with ledger_sessions() as session:
        assert await session.get(Attempt, headers["Idempotency-Key"]) is None


async def test_configured_latency_delays_every_answer(carrier_settings: SimulatorSettings) -> None:
    slow = carrier_settings.model_copy(update={"carrier_sim_latency_ms": 300})

    async with in_process_client(create_app(slow)) as carrier:
        started = time.monotonic()
        response = await carrier.post("/shipments", json=shipment_body(), headers=key())
        elapsed = time.monotonic() - started

    assert response.status_code == 201
    assert elapsed >= 0.3


async def test_unknown_route_is_404_in_the_carrier_error_shape(
    carrier: httpx.AsyncClient,
) -> None:
    response = await carrier.get("/labels")

    assert response.status_code == 404
    assert set(response.json()) == {"error", "message"}


async def test_carrier_served_in_background_answers_on_a_real_port(
    carrier_settings: SimulatorSettings,
) -> None:
    with serve_over_http(create_app(carrier_settings)) as url:
        async with httpx.AsyncClient(base_url=url) as client:
            response = await client.post("/shipments", json=shipment_body(), headers=key())

    assert response.status_code == 201
