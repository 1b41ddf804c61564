"""Bearer tokens: what is accepted, and each way a token is refused with 401."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from api.auth import Principal, TokenVerifier
from api.problems import ProblemError
from foundation.settings import Environment, Settings
from foundation.tokens import mint_dev_token
from processes.devstack.ports import free_port
from tests.support import PRODUCTION_PAYLOAD_KEYS, public_pem

SETTINGS = Settings()
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
RS256_ONLY = Settings(jwt_algorithms=["RS256"], jwt_public_key=public_pem(RSA_KEY))
ES256_ONLY = Settings(jwt_algorithms=["ES256"], jwt_public_key=public_pem(EC_KEY))
HS256_AND_RS256 = Settings(jwt_algorithms=["HS256", "RS256"], jwt_public_key=public_pem(RSA_KEY))


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": "alice", "scope": "orders:read", "iss": SETTINGS.jwt_issuer,
        "aud": SETTINGS.jwt_audience, "iat": now, "exp": now + 300,
    }  # fmt: skip
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _token(**overrides: Any) -> str:
    return jwt.encode(_claims(**overrides), SETTINGS.jwt_secret.get_secret_value(), "HS256")


def _b64(data: dict[str, Any]) -> str:
    return jwt.utils.base64url_encode(json.dumps(data).encode()).decode()


def _forge_hs256(claims: dict[str, Any], secret: bytes) -> str:
    """Sign by hand: PyJWT itself refuses to use a PEM public key as an HMAC secret."""
    signing_input = f"{_b64({'alg': 'HS256', 'typ': 'JWT'})}.{_b64(claims)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{jwt.utils.base64url_encode(mac).decode()}"


async def _verify(token: str, settings: Settings = SETTINGS) -> Principal:
    return await TokenVerifier(settings).verify(token)


async def _refused(token: str, settings: Settings = SETTINGS) -> ProblemError:
    with pytest.raises(ProblemError) as caught:
        await _verify(token, settings)
    assert caught.value.status == 401
    assert caught.value.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    return caught.value


async def test_dev_token_carries_subject_and_default_scopes() -> None:
    principal = await _verify(mint_dev_token(SETTINGS, "alice"))
    assert principal.subject == "alice"
    assert principal.scopes == {"orders:write", "orders:read"}
    assert not principal.is_admin


async def test_admin_scope_can_be_asked_for() -> None:
    token = mint_dev_token(SETTINGS, "ops", ["orders:read", "admin"])
    assert (await _verify(token)).is_admin


async def test_rs256_token_signed_with_the_configured_public_keys_pair_is_accepted() -> None:
    token = jwt.encode(_claims(), RSA_KEY, algorithm="RS256")
    assert (await _verify(token, RS256_ONLY)).subject == "alice"


async def test_es256_token_signed_with_the_configured_public_keys_pair_is_accepted() -> None:
    token = jwt.encode(_claims(), EC_KEY, algorithm="ES256")
    assert (await _verify(token, ES256_ONLY)).subject == "alice"


async def test_expired_token_is_refused() -> None:
    await _refused(_token(exp=int(time.time()) - 3600))


async def test_token_expired_within_the_leeway_is_still_accepted() -> None:
    token = _token(exp=int(time.time()) - SETTINGS.jwt_leeway_seconds // 2)
    assert (await _verify(token)).subject == "alice"


async def test_token_expired_just_past_the_leeway_is_refused() -> None:
    await _refused(_token(exp=int(time.time()) - SETTINGS.jwt_leeway_seconds - 5))


async def test_token_not_yet_valid_is_refused() -> None:
    problem = await _refused(_token(nbf=int(time.time()) + 600))
    assert "not yet valid" in problem.detail


async def test_token_for_another_audience_is_refused() -> None:
    await _refused(_token(aud="someone-else"))


async def test_token_from_another_issuer_is_refused() -> None:
    await _refused(_token(iss="https://evil.example"))


@pytest.mark.parametrize("claim", ["sub", "exp", "iss", "aud"])
async def test_token_missing_a_required_claim_is_refused(claim: str) -> None:
    problem = await _refused(_token(**{claim: None}))
    assert claim in problem.detail


async def test_unsigned_alg_none_token_is_refused() -> None:
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims(scope='admin'))}."
    await _refused(unsigned)


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
async def test_unsigned_token_is_refused_however_none_is_spelled(alg: str) -> None:
    await _refused(f"{_b64({'alg': alg})}.{_b64(_claims(scope='admin'))}.")


async def test_token_signed_with_another_key_is_refused() -> None:
    forged = jwt.encode(_claims(), "not-the-server-secret-but-long-enough-0000", algorithm="HS256")
    await _refused(forged)


async def test_rs256_token_signed_with_another_rsa_key_is_refused() -> None:
    await _refused(jwt.encode(_claims(), OTHER_RSA_KEY, algorithm="RS256"), RS256_ONLY)


async def test_token_with_an_algorithm_outside_the_allow_list_is_refused() -> None:
    problem = await _refused(jwt.encode(_claims(), EC_KEY, algorithm="ES256"), RS256_ONLY)
    assert "algorithm" in problem.detail


async def test_hs256_token_keyed_with_the_public_key_is_refused_when_only_rs256_is_allowed() -> (
    None
):
    forged = _forge_hs256(_claims(scope="admin"), public_pem(RSA_KEY).encode())
    await _refused(forged, RS256_ONLY)


async def test_public_key_is_never_used_as_an_hmac_secret_even_when_hs256_is_allowed() -> None:
    forged = _forge_hs256(_claims(scope="admin"), public_pem(RSA_KEY).encode())
    await _refused(forged, HS256_AND_RS256)


@pytest.mark.parametrize(
    "garbage", ["not-a-jwt", "a.b.c", "....", "eyJ.eyJ.", "\u00e9.\u00e9.\u00e9"]
)
async def test_malformed_token_is_refused(garbage: str) -> None:
    await _refused(garbage)


async def test_scope_claim_that_is_not_a_string_is_refused() -> None:
    await _refused(_token(scope=["admin"]))


# Claims are made when each test runs, not at collection: the unit tests may run minutes after
# collection (after the integration tests), and a collection-time `exp` would have expired.
@pytest.mark.parametrize(
    "claims",
    [
        lambda now: {"exp": str(now + 300)},
        lambda now: {"nbf": str(now - 60)},
        lambda now: {"iat": str(now)},
        lambda now: {"iat": True},
        lambda now: {"nbf": False},
    ],
    ids=["exp-string", "nbf-string", "iat-string", "iat-boolean", "nbf-boolean"],
)
async def test_registered_time_claim_that_is_not_a_json_number_is_refused(
    claims: Callable[[int], dict[str, Any]],
) -> None:
    refusal = await _refused(_token(**claims(int(time.time()))))
    assert "NumericDate" in refusal.detail


async def test_registered_time_claims_may_be_fractional_numbers() -> None:
    now = int(time.time())
    principal = await _verify(_token(exp=now + 300.5, iat=now - 0.5, nbf=now - 1.5))
    assert principal.subject == "alice"


@pytest.mark.parametrize("subject", ["", " \t"], ids=["empty", "blank"])
async def test_token_whose_subject_is_blank_is_refused(subject: str) -> None:
    # The subject is the customer id: a blank one would make an anonymous customer.
    await _refused(_token(sub=subject))


async def test_refusal_detail_never_echoes_the_token() -> None:
    token = _token(exp=int(time.time()) - 3600)
    assert token not in (await _refused(token)).detail


async def test_refused_algorithm_is_refused_before_any_key_lookup() -> None:
    # Nothing listens at this JWKS URL: a lookup would answer 503, not 401.
    es256_via_unreachable_jwks = Settings(
        jwt_algorithms=["ES256"], jwt_jwks_url=f"http://127.0.0.1:{free_port()}/jwks.json"
    )
    token = jwt.encode(_claims(), RSA_KEY, algorithm="RS256", headers={"kid": "a"})
    await _refused(token, es256_via_unreachable_jwks)


async def test_jwks_token_without_a_kid_is_refused() -> None:
    settings = Settings(
        jwt_algorithms=["RS256"], jwt_jwks_url=f"http://127.0.0.1:{free_port()}/jwks.json"
    )
    await _refused(jwt.encode(_claims(), RSA_KEY, algorithm="RS256"), settings)


async def test_unreachable_jwks_is_503_with_retry_after_not_a_refusal() -> None:
    settings = Settings(
        jwt_algorithms=["RS256"],
        jwt_jwks_url=f"http://127.0.0.1:{free_port()}/jwks.json",
        jwt_jwks_timeout_seconds=2,
    )
    token = jwt.encode(_claims(), RSA_KEY, algorithm="RS256", headers={"kid": "a"})
    with pytest.raises(ProblemError) as caught:
        await _verify(token, settings)
    assert caught.value.status == 503
    assert int(caught.value.headers["Retry-After"]) > 0


def test_dev_tokens_cannot_be_minted_in_production() -> None:
    production = Settings(
        environment=Environment.PRODUCTION,
        jwt_secret="s" * 48,
        payload_keys=PRODUCTION_PAYLOAD_KEYS,
    )
    with pytest.raises(PermissionError):
        mint_dev_token(production, "alice")


async def test_a_token_that_passed_is_not_verified_again(monkeypatch: pytest.MonkeyPatch) -> None:
    verifier = TokenVerifier(SETTINGS)
    token = _token()
    first = await verifier.verify(token)
    monkeypatch.setattr(jwt, "decode", _never_called)
    assert await verifier.verify(token) == first


async def test_a_kept_token_is_refused_once_it_expires() -> None:
    verifier = TokenVerifier(SETTINGS.model_copy(update={"jwt_leeway_seconds": 0}))
    expires = int(time.time()) + 1
    token = _token(exp=expires)
    await verifier.verify(token)
    await asyncio.sleep(expires + 0.1 - time.time())
    with pytest.raises(ProblemError) as refused:
        await verifier.verify(token)
    assert refused.value.status == 401


async def test_a_kept_token_is_verified_again_after_the_cache_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    verifier = TokenVerifier(SETTINGS.model_copy(update={"jwt_verified_token_cache_seconds": 10}))
    token = _token()
    await verifier.verify(token)
    later = time.time() + 11
    monkeypatch.setattr(time, "time", lambda: later)
    monkeypatch.setattr(jwt, "decode", _never_called)
    with pytest.raises(AssertionError, match="verified again"):
        await verifier.verify(token)


async def test_a_refused_token_is_refused_every_time() -> None:
    verifier = TokenVerifier(SETTINGS)
    forged = _forge_hs256(_claims(), b"not-the-secret")
    for _ in range(2):
        with pytest.raises(ProblemError):
            await verifier.verify(forged)


def _never_called(*args: object, **kwargs: object) -> dict[str, Any]:
    raise AssertionError("the token was verified again")


async def test_a_token_signed_by_a_jwks_key_is_verified_every_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = Settings(jwt_algorithms=["RS256"], jwt_jwks_url="http://127.0.0.1:9/jwks.json")
    verifier = TokenVerifier(settings)
    monkeypatch.setattr(
        jwt.PyJWKClient, "get_signing_key", lambda _, kid: jwt.PyJWK.from_dict(_public_jwk(kid))
    )
    token = jwt.encode(_claims(), RSA_KEY, algorithm="RS256", headers={"kid": "a"})
    await verifier.verify(token)
    monkeypatch.setattr(jwt, "decode", _never_called)
    with pytest.raises(AssertionError, match="verified again"):
        await verifier.verify(token)


def _public_jwk(kid: str) -> dict[str, Any]:
    jwk: dict[str, Any] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(RSA_KEY.public_key()))
    return {**jwk, "kid": kid, "alg": "RS256", "use": "sig"}
