"""Input limits on POST /orders, and the order in which a request is checked."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable

import httpx
import jwt
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from foundation.models import IdempotencyKey, Order
from foundation.settings import Settings
from tests.support import order_body

pytestmark = pytest.mark.integration
Auth = Callable[..., dict[str, str]]
Serve = Callable[[Settings], AsyncIterator[httpx.AsyncClient]]
Sessions = async_sessionmaker[AsyncSession]


async def _stored(sessions: Sessions) -> tuple[int, int]:
    async with sessions() as session:
        keys = await session.scalar(select(func.count()).select_from(IdempotencyKey))
        orders = await session.scalar(select(func.count()).select_from(Order))
    return int(keys or 0), int(orders or 0)


def _key() -> str:
    return f"limits-{uuid.uuid4()}"


WINDOW_SECONDS = 60
MINUTE_LEFT_SECONDS = 5


@pytest.fixture
async def limited(
    settings: Settings, serve_app: Serve, clean_db: None
) -> AsyncIterator[httpx.AsyncClient]:
    """The app allowing two orders a minute per principal and 2 KiB bodies."""
    tight = settings.model_copy(
        update={"rate_limit_orders_per_minute": 2, "max_request_body_bytes": 2048}
    )
    # The limiter counts in clock-aligned minutes and weighs the previous one's hits rounded down
    # (a sliding window counter, ADR 0005), so hits straddling a minute's end free a slot early.
    # Each test here takes well under a second: it starts with at least 5 s of the minute left.
    left_in_minute = WINDOW_SECONDS - time.time() % WINDOW_SECONDS
    if left_in_minute < MINUTE_LEFT_SECONDS:
        await asyncio.sleep(left_in_minute + 0.05)
    async for client in serve_app(tight):
        yield client


# --- body size ---------------------------------------------------------------------------


async def test_body_declared_over_the_limit_is_413_and_stores_nothing(
    limited: httpx.AsyncClient, auth: Auth, sessions: Sessions
) -> None:
    padded = order_body(shipping_address={"name": "x" * 4000})
    response = await limited.post("/orders", json=padded, headers=auth(key=_key()))
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/payload-too-large")
    assert await _stored(sessions) == (0, 0)


async def test_chunked_body_without_length_is_counted_and_refused_with_413(
    limited: httpx.AsyncClient, auth: Auth, sessions: Sessions
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(8):
            yield b" " * 512

    headers = {**auth(key=_key()), "Content-Type": "application/json"}
    response = await limited.post("/orders", content=chunks(), headers=headers)
    assert "content-length" not in {k.lower() for k in response.request.headers}
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert await _stored(sessions) == (0, 0)


async def test_body_under_the_limit_is_not_refused_for_its_size(
    limited: httpx.AsyncClient, auth: Auth
) -> None:
    response = await limited.post("/orders", json=order_body(), headers=auth(key=_key()))
    assert response.status_code == 201


# --- body shape --------------------------------------------------------------------------


async def test_body_that_is_not_json_is_415(api: httpx.AsyncClient, auth: Auth) -> None:
    headers = {**auth(key=_key()), "Content-Type": "text/plain"}
    response = await api.post("/orders", content=json.dumps(order_body()), headers=headers)
    assert response.status_code == 415
    assert response.headers["content-type"] == "application/problem+json"


async def test_malformed_json_is_422_pointing_into_the_body(
    api: httpx.AsyncClient, auth: Auth
) -> None:
    headers = {**auth(key=_key()), "Content-Type": "application/json"}
    response = await api.post("/orders", content=b'{"items": [', headers=headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"].startswith("/body")


async def test_deeply_nested_json_is_422_not_a_crash(api: httpx.AsyncClient, auth: Auth) -> None:
    headers = {**auth(key=_key()), "Content-Type": "application/json"}
    nested = b"[" * 20000 + b"]" * 20000
    response = await api.post("/orders", content=nested, headers=headers)
    assert response.status_code == 422


async def test_empty_body_is_422_naming_the_missing_body(
    api: httpx.AsyncClient, auth: Auth
) -> None:
    headers = {**auth(key=_key()), "Content-Type": "application/json"}
    response = await api.post("/orders", content=b"", headers=headers)
    assert response.status_code == 422
    assert response.json()["errors"] == [{"pointer": "/body", "detail": "Field required"}]


@pytest.mark.parametrize(
    ("overrides", "pointer"),
    [
        ({"items": [{"sku": "WIDGET-1", "quantity": 1}] * 51}, "/body/items"),
        ({"items": []}, "/body/items"),
        ({"items": [{"sku": "WIDGET-1", "quantity": 101}]}, "/body/items/0/quantity"),
        ({"items": [{"sku": "WIDGET-1", "quantity": 0}]}, "/body/items/0/quantity"),
        ({"items": [{"sku": "W" * 65, "quantity": 1}]}, "/body/items/0/sku"),
        ({"currency": "EUR"}, "/body/currency"),
        ({"payment_method": "p" * 65}, "/body/payment_method"),
        ({"shipping_address": {"name": "n" * 201}}, "/body/shipping_address/name"),
        ({"shipping_address": {"country": "usa"}}, "/body/shipping_address/country"),
    ],
    ids=["51-items", "no-items", "quantity-101", "quantity-0", "long-sku", "currency",
         "long-payment-method", "long-name", "country-code"],
)  # fmt: skip
async def test_out_of_bounds_field_is_422_with_its_pointer(
    api: httpx.AsyncClient, auth: Auth, overrides: dict[str, object], pointer: str
) -> None:
    body = order_body(**overrides)
    if "shipping_address" in overrides:
        address = order_body()["shipping_address"]
        assert isinstance(address, dict)
        body["shipping_address"] = {**address, **overrides["shipping_address"]}  # type: ignore[dict-item]
    response = await api.post("/orders", json=body, headers=auth(key=_key()))
    assert response.status_code == 422
    assert pointer in {e["pointer"] for e in response.json()["errors"]}


@pytest.mark.parametrize(
    ("overrides", "pointer"),
    [
        ({"items": [{"sku": "WIDGET-1", "quantity": "1"}]}, "/body/items/0/quantity"),
        ({"items": [{"sku": "WIDGET-1", "quantity": True}]}, "/body/items/0/quantity"),
        ({"items": [{"sku": "WIDGET-1", "quantity": 1.5}]}, "/body/items/0/quantity"),
        ({"payment_method": 42}, "/body/payment_method"),
        ({"shipping_address": {"postal_code": 12345}}, "/body/shipping_address/postal_code"),
    ],
    ids=["quantity-string", "quantity-boolean", "quantity-fraction", "number-for-string",
         "number-for-postal-code"],
)  # fmt: skip
async def test_a_value_of_the_wrong_json_type_is_422_not_coerced(
    api: httpx.AsyncClient,
    auth: Auth,
    sessions: Sessions,
    overrides: dict[str, object],
    pointer: str,
) -> None:
    body = order_body(**overrides)
    if "shipping_address" in overrides:
        address = order_body()["shipping_address"]
        assert isinstance(address, dict)
        body["shipping_address"] = {**address, **overrides["shipping_address"]}  # type: ignore[dict-item]
    response = await api.post("/orders", json=body, headers=auth(key=_key()))
    assert response.status_code == 422, response.text
    assert pointer in {e["pointer"] for e in response.json()["errors"]}
    assert await _stored(sessions) == (0, 0)


async def test_a_quantity_written_with_a_zero_fraction_is_that_integer(
    api: httpx.AsyncClient, auth: Auth
) -> None:
    # JSON Schema, the contract's language, counts 2.0 as the integer 2.
    body = order_body(items=[{"sku": "WIDGET-1", "quantity": 2.0}])
    response = await api.post("/orders", json=body, headers=auth(key=_key()))
    assert response.status_code == 201, response.text
    assert response.json()["items"][0]["quantity"] == 2


@pytest.mark.parametrize("reason", [42, True, ["late"]], ids=["number", "boolean", "list"])
async def test_a_cancel_reason_that_is_not_a_string_is_422(
    api: httpx.AsyncClient, auth: Auth, reason: object
) -> None:
    response = await api.post(
        f"/orders/{uuid.uuid4()}/cancel", json={"reason": reason}, headers=auth()
    )
    assert response.status_code == 422
    assert "/body/reason" in {e["pointer"] for e in response.json()["errors"]}


# --- rate limit --------------------------------------------------------------------------


async def _place_two(client: httpx.AsyncClient, auth: Auth, subject: str = "alice") -> list[str]:
    keys = [_key(), _key()]
    for key in keys:
        placed = await client.post("/orders", json=order_body(), headers=auth(subject, key=key))
        assert placed.status_code == 201
    return keys


async def test_order_over_the_rate_limit_is_429_with_retry_after_and_stores_nothing(
    limited: httpx.AsyncClient, auth: Auth, sessions: Sessions
) -> None:
    await _place_two(limited, auth)
    response = await limited.post("/orders", json=order_body(), headers=auth(key=_key()))
    assert response.status_code == 429
    assert response.headers["content-type"] == "application/problem+json"
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert await _stored(sessions) == (2, 2)


async def test_rate_limit_is_per_principal(limited: httpx.AsyncClient, auth: Auth) -> None:
    await _place_two(limited, auth, "alice")
    response = await limited.post("/orders", json=order_body(), headers=auth("bob", key=_key()))
    assert response.status_code == 201


async def test_replay_of_a_placed_order_is_answered_even_over_the_limit(
    limited: httpx.AsyncClient, auth: Auth
) -> None:
    first_key, _ = await _place_two(limited, auth)
    replay = await limited.post("/orders", json=order_body(), headers=auth(key=first_key))
    assert replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"


async def test_reused_key_with_another_body_is_not_a_replay_and_is_limited(
    limited: httpx.AsyncClient, auth: Auth
) -> None:
    first_key, _ = await _place_two(limited, auth)
    other = order_body(payment_method="tok_other")
    response = await limited.post("/orders", json=other, headers=auth(key=first_key))
    # Over the limit the key's stored response still lets it through; the service then
    # refuses the different body as it always does.
    assert response.status_code == 422
    assert response.json()["type"].endswith("/idempotency-key-reused")


# --- the order of checks -------------------------------------------------------------------


async def test_missing_token_comes_before_a_missing_key_and_a_bad_body(
    api: httpx.AsyncClient,
) -> None:
    headers = {"Content-Type": "application/json"}
    response = await api.post("/orders", content=b"{not json", headers=headers)
    assert response.status_code == 401


async def test_missing_scope_comes_before_a_missing_key(api: httpx.AsyncClient, auth: Auth) -> None:
    response = await api.post("/orders", json={}, headers=auth(scopes=("orders:read",)))
    assert response.status_code == 403


async def test_missing_key_comes_before_a_bad_body(
    api: httpx.AsyncClient, auth: Auth, sessions: Sessions
) -> None:
    response = await api.post("/orders", json={"items": "nope"}, headers=auth())
    assert response.status_code == 400
    assert await _stored(sessions) == (0, 0)


async def test_malformed_key_comes_before_the_rate_limit(
    limited: httpx.AsyncClient, auth: Auth
) -> None:
    await _place_two(limited, auth)
    response = await limited.post("/orders", json=order_body(), headers=auth(key="x" * 256))
    assert response.status_code == 400


async def test_rate_limit_comes_before_the_body(limited: httpx.AsyncClient, auth: Auth) -> None:
    await _place_two(limited, auth)
    response = await limited.post("/orders", json={"items": "nope"}, headers=auth(key=_key()))
    assert response.status_code == 429


@pytest.mark.parametrize("field", ["name", "line1", "line2", "city", "postal_code"])
@pytest.mark.parametrize("control", ["\x00", "\x1f", "\x7f", "\n"], ids=["nul", "us", "del", "lf"])
async def test_control_character_in_address_text_is_422_not_a_crash(
    api: httpx.AsyncClient, auth: Auth, sessions: Sessions, field: str, control: str
) -> None:
    # Found by the contract fuzz: a NUL reached PostgreSQL's JSONB and answered 500.
    address = order_body()["shipping_address"]
    assert isinstance(address, dict)
    body = order_body(shipping_address={**address, field: f"a{control}b"})
    response = await api.post("/orders", json=body, headers=auth(key=_key()))
    assert response.status_code == 422
    assert f"/body/shipping_address/{field}" in {e["pointer"] for e in response.json()["errors"]}
    assert await _stored(sessions) == (0, 0)


@pytest.mark.parametrize(
    ("section", "field", "value"),
    [
        ("shipping_address", "country", " US"),
        ("shipping_address", "country", "US\n"),
        ("shipping_address", "name", "   "),
        ("shipping_address", "city", " "),
        ("items/0", "sku", "WIDGET-1 "),
    ],
    ids=["leading-space", "trailing-newline", "blank-name", "blank-city", "padded-sku"],
)
async def test_values_are_validated_as_sent_not_trimmed(
    api: httpx.AsyncClient, auth: Auth, section: str, field: str, value: str
) -> None:
    body = json.loads(json.dumps(order_body()))
    target = body["items"][0] if section == "items/0" else body[section]
    target[field] = value
    response = await api.post("/orders", json=body, headers=auth(key=_key()))
    assert response.status_code == 422
    pointers = {e["pointer"] for e in response.json()["errors"]}
    assert f"/body/{section}/{field}" in pointers


# --- header and token size ---------------------------------------------------------------


def _padded_token(settings: Settings, padding: int) -> str:
    """A correctly signed, unexpired token made long by one extra claim."""
    now = int(time.time())
    claims = {
        "sub": "alice",
        "scope": "orders:write orders:read",
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + 300,
        "padding": "x" * padding,
    }
    return jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm="HS256")


async def test_headers_over_the_total_limit_are_431_before_auth_or_storage(
    api: httpx.AsyncClient, auth: Auth, sessions: Sessions
) -> None:
    headers = {**auth(key=_key()), "X-Padding": "x" * (8 * 1024 * 1024)}
    response = await api.post("/orders", json=order_body(), headers=headers)
    assert response.status_code == 431
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/request-header-fields-too-large")
    assert await _stored(sessions) == (0, 0)


async def test_headers_under_the_total_limit_are_not_refused_for_their_size(
    api: httpx.AsyncClient, auth: Auth
) -> None:
    headers = {**auth(), "X-Padding": "x" * 4096}
    assert (await api.get("/products", headers=headers)).status_code == 200


async def test_validly_signed_token_over_the_length_limit_is_401_without_being_decoded(
    api: httpx.AsyncClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def never_decode(*_: object, **__: object) -> None:
        raise AssertionError("an oversized token reached the JWT library")

    monkeypatch.setattr(jwt, "get_unverified_header", never_decode)
    monkeypatch.setattr(jwt, "decode", never_decode)
    token = _padded_token(settings, settings.max_bearer_token_bytes)
    response = await api.get(
        f"/orders/{uuid.uuid4()}", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 401
    assert "longer than" in response.json()["detail"]
    assert response.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')


async def test_token_at_the_length_limit_is_verified_as_usual(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    token = _padded_token(settings, 0)
    token = _padded_token(settings, (settings.max_bearer_token_bytes - len(token)) * 3 // 4)
    assert len(token) <= settings.max_bearer_token_bytes
    response = await api.get("/dead-letters", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403  # verified, then refused for scope, not for size
