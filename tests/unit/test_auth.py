"""Bearer tokens: what is accepted, and each way a token is refused with 401."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest

from api.auth import verify_token
from api.problems import ProblemError
from orderapi.settings import Environment, Settings
from orderapi.tokens import mint_dev_token

SETTINGS = Settings()


def _token(**overrides: Any) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": "alice", "scope": "orders:read", "iss": SETTINGS.jwt_issuer,
        "aud": SETTINGS.jwt_audience, "iat": now, "exp": now + 300,
    }  # fmt: skip
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, SETTINGS.jwt_secret.get_secret_value(), algorithm="HS256")


def _refused(token: str) -> ProblemError:
    with pytest.raises(ProblemError) as caught:
        verify_token(token, SETTINGS)
    assert caught.value.status == 401
    assert caught.value.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    return caught.value


def test_dev_token_carries_subject_and_default_scopes() -> None:
    principal = verify_token(mint_dev_token(SETTINGS, "alice"), SETTINGS)
    assert principal.subject == "alice"
    assert principal.scopes == {"orders:write", "orders:read"}
    assert not principal.is_admin


def test_admin_scope_can_be_asked_for() -> None:
    token = mint_dev_token(SETTINGS, "ops", ["orders:read", "admin"])
    assert verify_token(token, SETTINGS).is_admin


def test_expired_token_is_refused() -> None:
    _refused(_token(exp=int(time.time()) - 3600))


def test_token_for_another_audience_is_refused() -> None:
    _refused(_token(aud="someone-else"))


def test_token_from_another_issuer_is_refused() -> None:
    _refused(_token(iss="https://evil.example"))


@pytest.mark.parametrize("claim", ["sub", "exp", "iss", "aud"])
def test_token_missing_a_required_claim_is_refused(claim: str) -> None:
    _refused(_token(**{claim: None}))


def test_unsigned_alg_none_token_is_refused() -> None:
    header = jwt.utils.base64url_encode(b'{"alg":"none","typ":"JWT"}').decode()
    now = int(time.time())
    payload = jwt.utils.base64url_encode(
        (
            f'{{"sub":"alice","scope":"admin","iss":"{SETTINGS.jwt_issuer}",'
            f'"aud":"{SETTINGS.jwt_audience}","exp":{now + 300}}}'
        ).encode()
    ).decode()
    _refused(f"{header}.{payload}.")


def test_token_signed_with_another_key_is_refused() -> None:
    now = int(time.time())
    forged = jwt.encode(
        {"sub": "alice", "iss": SETTINGS.jwt_issuer, "aud": SETTINGS.jwt_audience, "exp": now + 60},
        "not-the-server-secret-but-long-enough-0000",
        algorithm="HS256",
    )
    _refused(forged)


def test_refusal_detail_never_echoes_the_token() -> None:
    token = _token(exp=int(time.time()) - 3600)
    assert token not in _refused(token).detail


def test_dev_tokens_cannot_be_minted_in_production() -> None:
    production = Settings(environment=Environment.PRODUCTION, jwt_secret="s" * 48)
    with pytest.raises(PermissionError):
        mint_dev_token(production, "alice")
