"""RS256 tokens verified with keys from a JWKS URL: cached, chosen by kid, rotated live."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from foundation.settings import Settings

pytestmark = pytest.mark.integration
Serve = Callable[[Settings], AsyncIterator[httpx.AsyncClient]]

KEY_A = rsa.generate_private_key(public_exponent=65537, key_size=2048)
KEY_B = rsa.generate_private_key(public_exponent=65537, key_size=2048)
# Authenticated requests for an order nobody has answer 404; refused ones 401.
PROBE = f"/orders/{uuid.uuid4()}"


class JwksServer:
    """Serves the key set it currently holds, from a thread, on a free loopback port."""

    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.fetches = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.fetches += 1
                body = json.dumps({"keys": outer.keys}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/.well-known/jwks.json"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def publish(self, *keys: tuple[rsa.RSAPrivateKey, str]) -> None:
        self.keys = [
            {**jwt.algorithms.RSAAlgorithm.to_jwk(k.public_key(), as_dict=True),
             "kid": kid, "alg": "RS256", "use": "sig"}
            for k, kid in keys
        ]  # fmt: skip

    def __enter__(self) -> JwksServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


@pytest.fixture
def jwks() -> Iterator[JwksServer]:
    with JwksServer() as server:
        yield server


def _rs256(settings: Settings, jwks: JwksServer) -> Settings:
    return settings.model_copy(
        update={
            "jwt_algorithms": ["RS256"],
            "jwt_jwks_url": jwks.url,
            # The cooldown guards the issuer in production; here rotation must show at once.
            "jwt_jwks_refresh_cooldown_seconds": 0,
        }
    )


def _bearer(settings: Settings, key: rsa.RSAPrivateKey, kid: str) -> dict[str, str]:
    now = int(time.time())
    claims = {
        "sub": "alice", "scope": "orders:read", "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience, "iat": now, "exp": now + 300,
    }  # fmt: skip
    token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})
    return {"Authorization": f"Bearer {token}"}


async def test_token_signed_with_the_published_key_is_accepted(
    settings: Settings, serve_app: Serve, jwks: JwksServer
) -> None:
    jwks.publish((KEY_A, "a"))
    async for api in serve_app(_rs256(settings, jwks)):
        response = await api.get(PROBE, headers=_bearer(settings, KEY_A, "a"))
    assert response.status_code == 404


async def test_key_set_is_fetched_once_and_then_served_from_cache(
    settings: Settings, serve_app: Serve, jwks: JwksServer
) -> None:
    jwks.publish((KEY_A, "a"))
    async for api in serve_app(_rs256(settings, jwks)):
        for _ in range(3):
            assert (await api.get(PROBE, headers=_bearer(settings, KEY_A, "a"))).status_code == 404
    assert jwks.fetches == 1


async def test_rotated_key_is_accepted_without_a_restart_and_the_retired_one_is_refused(
    settings: Settings, serve_app: Serve, jwks: JwksServer
) -> None:
    jwks.publish((KEY_A, "a"))
    async for api in serve_app(_rs256(settings, jwks)):
        assert (await api.get(PROBE, headers=_bearer(settings, KEY_A, "a"))).status_code == 404

        jwks.publish((KEY_B, "b"))
        rotated = await api.get(PROBE, headers=_bearer(settings, KEY_B, "b"))
        retired = await api.get(PROBE, headers=_bearer(settings, KEY_A, "a"))
    assert rotated.status_code == 404
    assert retired.status_code == 401
    assert retired.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert retired.headers["content-type"] == "application/problem+json"


async def test_token_naming_a_published_kid_but_signed_by_another_key_is_refused(
    settings: Settings, serve_app: Serve, jwks: JwksServer
) -> None:
    jwks.publish((KEY_A, "a"))
    async for api in serve_app(_rs256(settings, jwks)):
        response = await api.get(PROBE, headers=_bearer(settings, KEY_B, "a"))
    assert response.status_code == 401


async def test_unknown_kid_refetches_the_set_once_then_is_refused(
    settings: Settings, serve_app: Serve, jwks: JwksServer
) -> None:
    jwks.publish((KEY_A, "a"))
    async for api in serve_app(_rs256(settings, jwks)):
        await api.get(PROBE, headers=_bearer(settings, KEY_A, "a"))
        response = await api.get(PROBE, headers=_bearer(settings, KEY_B, "unknown"))
    assert response.status_code == 401
    assert jwks.fetches == 2
