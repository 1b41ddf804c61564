"""The codec server: what the Temporal UI calls to show payloads decoded, and who may call it."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter

from api.main import create_app
from foundation.domain import Scope
from foundation.payload_codec import EncryptionCodec
from foundation.payload_keys import PayloadKeyring, generate_keyring
from foundation.settings import Environment, Settings
from tests.support import in_process_client

pytestmark = pytest.mark.integration
Token = Callable[..., str]
ADDRESS = {"line1": "1 Secret Lane", "city": "Springfield"}
UI = "https://temporal-ui.example"
ELSEWHERE = "https://attacker.example"
REMOTE = "203.0.113.7"


def _json(payload: Payload) -> dict[str, Any]:
    return {
        "metadata": {k: base64.b64encode(v).decode() for k, v in payload.metadata.items()},
        "data": base64.b64encode(payload.data).decode(),
    }


def _proto(body: dict[str, Any]) -> Payload:
    return Payload(
        metadata={k: base64.b64decode(v) for k, v in body["metadata"].items()},
        data=base64.b64decode(body["data"]),
    )


def _clear() -> Payload:
    [payload] = pydantic_data_converter.payload_converter.to_payloads([ADDRESS])
    return payload


def _with_keys(settings: Settings, keyring: PayloadKeyring, **update: Any) -> Settings:
    return settings.model_copy(update={"payload_keys": SecretStr(keyring.to_text()), **update})


def _production(settings: Settings) -> Settings:
    # The session's signing secret is kept, so the suite's token fixture mints valid tokens.
    return settings.model_copy(
        update={"environment": Environment.PRODUCTION, "codec_ui_origin": UI}
    )


@pytest.fixture
def codec_api() -> Callable[..., AsyncIterator[httpx.AsyncClient]]:
    def serve(settings: Settings, client_host: str = "127.0.0.1") -> Any:
        return in_process_client(create_app(settings), client_host=client_host)

    return serve


async def _decode(client: httpx.AsyncClient, *payloads: Payload, **kw: Any) -> httpx.Response:
    body = {"payloads": [_json(p) for p in payloads]}
    return await client.post("/codec/decode", json=body, **kw)


async def test_encode_then_decode_gives_back_the_payloads(
    settings: Settings, codec_api: Any
) -> None:
    async with codec_api(settings) as client:
        encoded = await client.post("/codec/encode", json={"payloads": [_json(_clear())]})
        assert encoded.status_code == 200
        [sealed] = encoded.json()["payloads"]
        assert b"Secret Lane" not in base64.b64decode(sealed["data"])

        decoded = await client.post("/codec/decode", json=encoded.json())
    assert decoded.status_code == 200
    assert [_proto(p) for p in decoded.json()["payloads"]] == [_clear()]


async def test_decode_reads_what_the_workers_codec_encrypted(
    settings: Settings, codec_api: Any
) -> None:
    [sealed] = await EncryptionCodec(settings.payload_keyring()).encode([_clear()])
    async with codec_api(settings) as client:
        response = await _decode(client, sealed, headers={"X-Namespace": "default"})
    assert [_proto(p) for p in response.json()["payloads"]] == [_clear()]


async def test_a_clear_payload_is_decoded_to_itself(settings: Settings, codec_api: Any) -> None:
    async with codec_api(settings) as client:
        response = await _decode(client, _clear())
    assert [_proto(p) for p in response.json()["payloads"]] == [_clear()]


async def test_after_rotation_runs_encrypted_with_the_old_key_still_decode(
    settings: Settings, codec_api: Any
) -> None:
    old, new = generate_keyring("a"), generate_keyring("b")
    [sealed_with_a] = await EncryptionCodec(old).encode([_clear()])
    rotated = PayloadKeyring(current_id="b", keys={**new.keys, **old.keys})

    async with codec_api(_with_keys(settings, rotated)) as client:
        response = await _decode(client, sealed_with_a)
        encoded = await client.post("/codec/encode", json={"payloads": [_json(_clear())]})
    assert [_proto(p) for p in response.json()["payloads"]] == [_clear()]
    [sealed_now] = encoded.json()["payloads"]
    assert base64.b64decode(sealed_now["metadata"]["encryption-key-id"]) == b"b"


async def test_without_the_old_key_decode_fails_naming_the_key(
    settings: Settings, codec_api: Any
) -> None:
    [sealed_with_a] = await EncryptionCodec(generate_keyring("a")).encode([_clear()])

    async with codec_api(_with_keys(settings, generate_keyring("b"))) as client:
        response = await _decode(client, sealed_with_a)
    assert response.status_code == 422
    assert response.json()["type"].endswith("/payload-undecryptable")
    assert "key 'a'" in response.json()["detail"]


async def test_bytes_that_are_not_base64_are_a_422(settings: Settings, codec_api: Any) -> None:
    async with codec_api(settings) as client:
        response = await client.post(
            "/codec/decode", json={"payloads": [{"metadata": {}, "data": "not base64!"}]}
        )
    assert response.status_code == 422


async def test_dev_refuses_a_caller_off_loopback(settings: Settings, codec_api: Any) -> None:
    async with codec_api(settings, client_host=REMOTE) as client:
        response = await _decode(client, _clear())
    assert response.status_code == 403
    assert response.json()["type"].endswith("/loopback-only")


async def test_dev_answers_the_dev_ui_with_cors_headers(settings: Settings, codec_api: Any) -> None:
    ui = f"http://localhost:{settings.temporal_ui_port}"
    async with codec_api(settings) as client:
        response = await _decode(client, _clear(), headers={"Origin": ui})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == ui


async def test_dev_refuses_a_page_of_another_origin(settings: Settings, codec_api: Any) -> None:
    async with codec_api(settings) as client:
        response = await _decode(client, _clear(), headers={"Origin": ELSEWHERE})
    assert response.status_code == 403
    assert response.json()["type"].endswith("/origin-not-allowed")
    assert "Access-Control-Allow-Origin" not in response.headers


async def test_the_preflight_allows_the_uis_post(settings: Settings, codec_api: Any) -> None:
    ui = f"http://127.0.0.1:{settings.temporal_ui_port}"
    headers = {
        "Origin": ui,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-namespace",
    }
    async with codec_api(settings) as client:
        response = await client.options("/codec/decode", headers=headers)
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == ui
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    allowed = response.headers["Access-Control-Allow-Headers"].lower()
    assert "content-type" in allowed and "x-namespace" in allowed


async def test_the_preflight_refuses_another_origin(settings: Settings, codec_api: Any) -> None:
    async with codec_api(settings) as client:
        response = await client.options("/codec/encode", headers={"Origin": ELSEWHERE})
    assert response.status_code == 403
    assert "Access-Control-Allow-Origin" not in response.headers


async def test_production_needs_a_token(settings: Settings, codec_api: Any) -> None:
    async with codec_api(_production(settings), client_host=REMOTE) as client:
        response = await _decode(client, _clear(), headers={"Origin": UI})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_production_needs_the_admin_scope(
    settings: Settings, codec_api: Any, token: Token
) -> None:
    customer = {"Authorization": f"Bearer {token('alice')}", "Origin": UI}
    async with codec_api(_production(settings), client_host=REMOTE) as client:
        response = await _decode(client, _clear(), headers=customer)
    assert response.status_code == 403
    assert response.json()["type"].endswith("/insufficient-scope")


async def test_production_answers_an_admin_from_the_uis_origin_anywhere(
    settings: Settings, codec_api: Any, token: Token
) -> None:
    admin = {"Authorization": f"Bearer {token('ops', (Scope.ADMIN.value,))}", "Origin": UI}
    async with codec_api(_production(settings), client_host=REMOTE) as client:
        response = await _decode(client, _clear(), headers=admin)
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == UI


async def test_production_refuses_an_admin_from_another_origin(
    settings: Settings, codec_api: Any, token: Token
) -> None:
    admin = {"Authorization": f"Bearer {token('ops', (Scope.ADMIN.value,))}", "Origin": ELSEWHERE}
    async with codec_api(_production(settings), client_host=REMOTE) as client:
        response = await _decode(client, _clear(), headers=admin)
    assert response.status_code == 403
    assert response.json()["type"].endswith("/origin-not-allowed")


async def test_production_without_a_configured_origin_answers_no_browser(
    settings: Settings, codec_api: Any, token: Token
) -> None:
    unset = _production(settings).model_copy(update={"codec_ui_origin": None})
    admin = {"Authorization": f"Bearer {token('ops', (Scope.ADMIN.value,))}", "Origin": UI}
    async with codec_api(unset, client_host=REMOTE) as client:
        response = await _decode(client, _clear(), headers=admin)
    assert response.status_code == 403


async def test_production_answers_the_uis_preflight_without_a_token(
    settings: Settings, codec_api: Any
) -> None:
    async with codec_api(_production(settings), client_host=REMOTE) as client:
        response = await client.options("/codec/decode", headers={"Origin": UI})
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == UI
