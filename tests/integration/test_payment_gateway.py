"""The payment gateway simulator on its own ledger file: outcomes, idempotency, faults."""

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

from processes.devstack.ports import free_port, port_is_open
from simulators.payment_gateway import ledger
from simulators.payment_gateway.app import create_app
from simulators.payment_gateway.models import Attempt, Charge, Refund
from simulators.settings import SimulatorSettings
from simulators.storage import make_session_factory, open_ledger
from tests.support import in_process_client, serve_over_http

pytestmark = pytest.mark.integration

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
def gateway_settings(tmp_path: Path) -> SimulatorSettings:
    """A ledger file of this test's own, so every test starts from an empty gateway."""
    return SimulatorSettings(data_dir=tmp_path)


@pytest.fixture
async def gateway(gateway_settings: SimulatorSettings) -> AsyncIterator[httpx.AsyncClient]:
    async with in_process_client(create_app(gateway_settings)) as client:
        yield client


@pytest.fixture
async def ledger_sessions(gateway_settings: SimulatorSettings) -> AsyncIterator[Sessions]:
    """Sessions on the gateway's ledger file, opened apart from the app, as an operator would."""
    engine = open_ledger(gateway_settings.payment_gateway_ledger)
    yield make_session_factory(engine)
    await engine.dispose()


def charge_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "amount": 2599,
        "currency": "USD",
        "payment_method": "tok_visa",
        "reference": str(uuid.uuid4()),
    }
    return body | overrides


def key() -> dict[str, str]:
    return {"Idempotency-Key": f"test-{uuid.uuid4()}"}


async def charge_count(sessions: Sessions, reference: str) -> int:
    async with sessions() as session:
        statement = select(func.count()).where(Charge.reference == reference)
        return (await session.scalar(statement)) or 0


async def a_charge(gateway: httpx.AsyncClient, amount: int = 2599) -> dict[str, Any]:
    response = await gateway.post("/charges", json=charge_body(amount=amount), headers=key())
    assert response.status_code == 201
    return response.json()  # type: ignore[no-any-return]


async def test_charge_with_tok_visa_succeeds(gateway: httpx.AsyncClient) -> None:
    body = charge_body()

    response = await gateway.post("/charges", json=body, headers=key())

    assert response.status_code == 201
    charge = response.json()
    assert charge["id"].startswith("ch_")
    assert charge["status"] == "succeeded"
    assert {k: charge[k] for k in body} == body
    assert "created_at" in charge
    assert "Idempotent-Replayed" not in response.headers


async def test_any_other_token_succeeds_like_tok_visa(gateway: httpx.AsyncClient) -> None:
    response = await gateway.post(
        "/charges", json=charge_body(payment_method="tok_mastercard"), headers=key()
    )

    assert response.status_code == 201
    assert response.json()["status"] == "succeeded"


async def test_replay_returns_the_same_charge_marked_replayed(
    gateway: httpx.AsyncClient, ledger_sessions: Sessions
) -> None:
    body, headers = charge_body(), key()
    first = await gateway.post("/charges", json=body, headers=headers)

    again = await gateway.post("/charges", json=body, headers=headers)

    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert await charge_count(ledger_sessions, body["reference"]) == 1


async def test_same_key_with_a_different_body_is_422(gateway: httpx.AsyncClient) -> None:
    body, headers = charge_body(), key()
    await gateway.post("/charges", json=body, headers=headers)

    response = await gateway.post("/charges", json=body | {"amount": 1}, headers=headers)

    assert response.status_code == 422
    assert response.json()["error"] == "idempotency_key_reused"


async def test_missing_idempotency_key_is_400(
    gateway: httpx.AsyncClient, ledger_sessions: Sessions
) -> None:
    body = charge_body()

    response = await gateway.post("/charges", json=body)

    assert response.status_code == 400
    assert response.json()["error"] == "idempotency_key_missing"
    assert await charge_count(ledger_sessions, body["reference"]) == 0


@pytest.mark.parametrize("bad_key", ["", "   ", "k" * 256])
async def test_empty_or_overlong_idempotency_key_is_400(
    gateway: httpx.AsyncClient, bad_key: str
) -> None:
    response = await gateway.post(
        "/charges", json=charge_body(), headers={"Idempotency-Key": bad_key}
    )

    assert response.status_code == 400
    assert response.json()["error"] == "idempotency_key_invalid"


async def test_invalid_body_is_400_naming_the_field(gateway: httpx.AsyncClient) -> None:
    response = await gateway.post("/charges", json=charge_body(amount=0), headers=key())

    assert response.status_code == 400
    error = response.json()
    assert error["error"] == "invalid_request"
    assert "amount" in error["message"]


async def test_declined_card_is_402_and_its_replay_is_the_same_402(
    gateway: httpx.AsyncClient, ledger_sessions: Sessions
) -> None:
    body, headers = charge_body(payment_method="tok_declined"), key()

    first = await gateway.post("/charges", json=body, headers=headers)
    again = await gateway.post("/charges", json=body, headers=headers)

    assert first.status_code == 402
    assert first.json()["error"] == "card_declined"
    assert first.json()["message"]
    assert again.status_code == 402
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    listed = (await gateway.get("/charges", params={"reference": body["reference"]})).json()
    assert [(c["status"], c["failure_code"]) for c in listed["data"]] == [
        ("failed", "card_declined")
    ]


async def test_flaky_token_fails_twice_then_succeeds_with_the_same_key(
    gateway: httpx.AsyncClient, ledger_sessions: Sessions
) -> None:
    body, headers = charge_body(payment_method="tok_flaky"), key()

    answers = [await gateway.post("/charges", json=body, headers=headers) for _ in range(3)]

    assert [a.status_code for a in answers] == [503, 503, 201]
    assert answers[0].json()["error"] == "gateway_unavailable"
    assert await charge_count(ledger_sessions, body["reference"]) == 1


async def test_flaky_count_starts_again_for_a_fresh_key(gateway: httpx.AsyncClient) -> None:
    body, used = charge_body(payment_method="tok_flaky"), key()
    for _ in range(3):
        await gateway.post("/charges", json=body, headers=used)

    fresh = key()
    answers = [await gateway.post("/charges", json=body, headers=fresh) for _ in range(3)]

    assert [a.status_code for a in answers] == [503, 503, 201]


async def test_gateway_down_is_always_503_and_stores_no_charge(
    gateway: httpx.AsyncClient, ledger_sessions: Sessions
) -> None:
    body, headers = charge_body(payment_method="tok_gateway_down"), key()

    answers = [await gateway.post("/charges", json=body, headers=headers) for _ in range(4)]

    assert {a.status_code for a in answers} == {503}
    assert {a.json()["error"] for a in answers} == {"gateway_unavailable"}
    assert await charge_count(ledger_sessions, body["reference"]) == 0


async def test_twenty_concurrent_posts_with_one_key_make_exactly_one_charge(
    gateway: httpx.AsyncClient, ledger_sessions: Sessions
) -> None:
    body, headers = charge_body(), key()

    answers = await asyncio.gather(
        *(gateway.post("/charges", json=body, headers=headers) for _ in range(20))
    )

    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] * 19 + [201]
    assert len({a.json()["id"] for a in answers}) == 1
    assert await charge_count(ledger_sessions, body["reference"]) == 1


async def test_requests_racing_past_the_key_lookup_still_make_one_charge(
    gateway: httpx.AsyncClient, ledger_sessions: Sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def nothing_stored_yet(_session: AsyncSession, _key: str) -> None:
        return None

    # Every request now reaches the insert, as they would if all looked up the key at once.
    monkeypatch.setattr(ledger, "charge_for_key", nothing_stored_yet)
    body, headers = charge_body(), key()

    answers = await asyncio.gather(
        *(gateway.post("/charges", json=body, headers=headers) for _ in range(10))
    )

    assert sorted(a.status_code for a in answers) == [200] * 9 + [201]
    assert len({a.json()["id"] for a in answers}) == 1
    assert await charge_count(ledger_sessions, body["reference"]) == 1


async def test_charges_are_listed_by_reference_with_their_refunded_amount(
    gateway: httpx.AsyncClient,
) -> None:
    reference = str(uuid.uuid4())
    first = await gateway.post("/charges", json=charge_body(reference=reference), headers=key())
    second = await gateway.post("/charges", json=charge_body(reference=reference), headers=key())
    await gateway.post(f"/charges/{first.json()['id']}/refunds", json={}, headers=key())
    await gateway.post("/charges", json=charge_body(), headers=key())  # another order's

    listed = await gateway.get("/charges", params={"reference": reference})

    assert listed.status_code == 200
    assert [(c["id"], c["refunded_amount"]) for c in listed.json()["data"]] == [
        (first.json()["id"], 2599),
        (second.json()["id"], 0),
    ]


async def test_a_charge_is_read_by_id_and_an_unknown_one_is_404(
    gateway: httpx.AsyncClient,
) -> None:
    charge = await a_charge(gateway)

    found = await gateway.get(f"/charges/{charge['id']}")
    missing = await gateway.get("/charges/ch_nonexistent")

    assert found.status_code == 200
    assert found.json()["id"] == charge["id"]
    assert found.json()["refunded_amount"] == 0
    assert missing.status_code == 404
    assert missing.json()["error"] == "no_such_charge"


async def test_refund_without_amount_refunds_the_whole_charge(gateway: httpx.AsyncClient) -> None:
    charge = await a_charge(gateway, amount=1250)

    response = await gateway.post(
        f"/charges/{charge['id']}/refunds", json={"amount": None}, headers=key()
    )

    assert response.status_code == 201
    refund = response.json()
    assert refund["id"].startswith("re_")
    assert (refund["charge_id"], refund["amount"], refund["status"]) == (
        charge["id"],
        1250,
        "succeeded",
    )
    assert (await gateway.get(f"/charges/{charge['id']}")).json()["refunded_amount"] == 1250


async def test_refund_replay_returns_the_same_refund(
    gateway: httpx.AsyncClient, ledger_sessions: Sessions
) -> None:
    charge, headers = await a_charge(gateway), key()
    first = await gateway.post(f"/charges/{charge['id']}/refunds", json={}, headers=headers)

    again = await gateway.post(f"/charges/{charge['id']}/refunds", json={}, headers=headers)

    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    async with ledger_sessions() as session:
        refunds = await session.scalar(select(func.count()).where(Refund.charge_id == charge["id"]))
    assert refunds == 1


async def test_second_refund_of_a_fully_refunded_charge_is_409(
    gateway: httpx.AsyncClient,
) -> None:
    charge = await a_charge(gateway)
    await gateway.post(f"/charges/{charge['id']}/refunds", json={}, headers=key())

    response = await gateway.post(f"/charges/{charge['id']}/refunds", json={}, headers=key())

    assert response.status_code == 409
    assert response.json()["error"] == "charge_already_refunded"


async def test_partial_refunds_never_add_up_to_more_than_the_charge(
    gateway: httpx.AsyncClient,
) -> None:
    charge = await a_charge(gateway, amount=1000)
    refund = f"/charges/{charge['id']}/refunds"
    first = await gateway.post(refund, json={"amount": 600}, headers=key())

    too_much = await gateway.post(refund, json={"amount": 500}, headers=key())
    rest = await gateway.post(refund, json={}, headers=key())

    assert first.status_code == 201
    assert too_much.status_code == 400
    assert too_much.json()["error"] == "amount_too_large"
    assert (rest.status_code, rest.json()["amount"]) == (201, 400)


async def test_concurrent_full_refunds_with_different_keys_refund_once(
    gateway: httpx.AsyncClient,
) -> None:
    charge = await a_charge(gateway)

    answers = await asyncio.gather(
        *(
            gateway.post(f"/charges/{charge['id']}/refunds", json={}, headers=key())
            for _ in range(10)
        )
    )

    assert sorted(a.status_code for a in answers) == [201] + [409] * 9
    assert (await gateway.get(f"/charges/{charge['id']}")).json()["refunded_amount"] == 2599


async def test_refund_of_an_unknown_charge_is_404(gateway: httpx.AsyncClient) -> None:
    response = await gateway.post("/charges/ch_nonexistent/refunds", json={}, headers=key())

    assert response.status_code == 404
    assert response.json()["error"] == "no_such_charge"


async def test_refund_of_a_declined_charge_is_409(gateway: httpx.AsyncClient) -> None:
    body = charge_body(payment_method="tok_declined")
    await gateway.post("/charges", json=body, headers=key())
    listed = await gateway.get("/charges", params={"reference": body["reference"]})
    declined = listed.json()["data"][0]

    response = await gateway.post(f"/charges/{declined['id']}/refunds", json={}, headers=key())

    assert response.status_code == 409
    assert response.json()["error"] == "charge_not_refundable"


async def test_injected_error_rate_1_fails_before_anything_is_stored(
    gateway_settings: SimulatorSettings, ledger_sessions: Sessions
) -> None:
    failing = gateway_settings.model_copy(update={"payment_sim_error_rate": 1.0})
    body = charge_body(payment_method="tok_flaky")
    headers = key()

    async with in_process_client(create_app(failing)) as gateway:
        answers = [await gateway.post("/charges", json=body, headers=headers) for _ in range(3)]

    assert {a.status_code for a in answers} == {503}
    assert {a.json()["error"] for a in answers} == {"injected_fault"}
    assert await charge_count(ledger_sessions, body["reference"]) == 0
    async with ledger_sessions() as session:
        # Not even the flaky token's attempt counter moved: the fault struck first.
        assert await session.get(Attempt, headers["Idempotency-Key"]) is None


async def test_configured_latency_delays_every_answer(gateway_settings: SimulatorSettings) -> None:
    slow = gateway_settings.model_copy(update={"payment_sim_latency_ms": 300})

    async with in_process_client(create_app(slow)) as gateway:
        started = time.monotonic()
        response = await gateway.post("/charges", json=charge_body(), headers=key())
        elapsed = time.monotonic() - started

    assert response.status_code == 201
    assert elapsed >= 0.3


async def test_health_answers_ok_when_the_ledger_does(gateway: httpx.AsyncClient) -> None:
    response = await gateway.get("/health")

    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_charges_succeed_while_the_order_api_database_is_unreachable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Every way the product finds its PostgreSQL points at a port nothing listens on.
    closed = free_port()
    monkeypatch.setenv("DATABASE_URL", f"postgresql+psycopg://postgres@127.0.0.1:{closed}/orders")
    monkeypatch.setenv("ORDER_API_POSTGRES_PORT", str(closed))
    monkeypatch.setenv("ORDER_API_DATA_DIR", str(tmp_path))

    async with in_process_client(create_app(SimulatorSettings())) as gateway:
        health = await gateway.get("/health")
        charge = await gateway.post("/charges", json=charge_body(), headers=key())

    assert health.status_code == 200
    assert charge.status_code == 201
    assert (tmp_path / "simulators" / "payment-gateway.sqlite3").is_file()


async def test_attempt_counts_survive_a_restart(gateway_settings: SimulatorSettings) -> None:
    body, headers = charge_body(payment_method="tok_flaky"), key()
    async with in_process_client(create_app(gateway_settings)) as gateway:
        first = await gateway.post("/charges", json=body, headers=headers)

    async with in_process_client(create_app(gateway_settings)) as restarted:
        after = [await restarted.post("/charges", json=body, headers=headers) for _ in range(2)]

    assert [a.status_code for a in (first, *after)] == [503, 503, 201]


async def test_two_gateways_on_one_ledger_file_make_one_charge_per_key(
    gateway_settings: SimulatorSettings, ledger_sessions: Sessions
) -> None:
    body, headers = charge_body(), key()

    async with (
        in_process_client(create_app(gateway_settings)) as one,
        in_process_client(create_app(gateway_settings)) as other,
    ):
        answers = await asyncio.gather(
            *(client.post("/charges", json=body, headers=headers) for client in [one, other] * 10)
        )

    assert sorted(a.status_code for a in answers) == [200] * 19 + [201]
    assert len({a.json()["id"] for a in answers}) == 1
    assert await charge_count(ledger_sessions, body["reference"]) == 1


async def test_gateway_served_over_http_answers_on_a_real_port_until_the_block_ends(
    gateway_settings: SimulatorSettings,
) -> None:
    with serve_over_http(create_app(gateway_settings)) as url:
        async with httpx.AsyncClient(base_url=url) as client:
            charge = await client.post("/charges", json=charge_body(), headers=key())
            health = await client.get("/health")

    assert charge.status_code == 201
    assert health.json() == {"status": "ok"}
    assert not port_is_open(int(url.rsplit(":", 1)[1]))


async def test_faults_can_take_the_gateway_down_and_bring_it_back(
    gateway: httpx.AsyncClient, ledger_sessions: Sessions
) -> None:
    down = await gateway.put("/faults", json={"error_rate": 1.0, "latency_ms": 0})
    failed = await gateway.post("/charges", json=charge_body(), headers=key())
    back = await gateway.put("/faults", json={"error_rate": 0.0, "latency_ms": 0})
    charged = await gateway.post("/charges", json=charge_body(), headers=key())

    assert down.status_code == back.status_code == 200
    assert failed.status_code == 503 and failed.json()["error"] == "injected_fault"
    assert charged.status_code == 201
    assert (await gateway.get("/faults")).json() == {"error_rate": 0.0, "latency_ms": 0}


async def test_fault_settings_out_of_range_are_refused(gateway: httpx.AsyncClient) -> None:
    response = await gateway.put("/faults", json={"error_rate": 1.5, "latency_ms": 0})
    assert response.status_code == 400
