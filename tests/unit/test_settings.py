"""Settings come from the environment, and production refuses the dev signing secret."""

from __future__ import annotations

from typing import get_args

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pydantic import SecretStr, ValidationError

from foundation.settings import DEV_JWT_SECRET, Environment, RetryProfileName, Settings
from tests.support import PRODUCTION_PAYLOAD_KEYS, public_pem
from workflows.contracts import RetryProfile


def test_production_refuses_to_start_with_the_dev_secret() -> None:
    with pytest.raises(ValidationError, match="dev secret"):
        Settings(environment=Environment.PRODUCTION, payload_keys=PRODUCTION_PAYLOAD_KEYS)


def test_production_refuses_to_start_without_payload_keys() -> None:
    with pytest.raises(ValidationError, match="ORDER_API_PAYLOAD_KEYS is required in production"):
        Settings(environment=Environment.PRODUCTION, jwt_secret="a-real-secret-" + "x" * 32)


def test_production_starts_with_its_own_secret() -> None:
    settings = Settings(
        environment=Environment.PRODUCTION,
        jwt_secret="a-real-secret-" + "x" * 32,
        payload_keys=PRODUCTION_PAYLOAD_KEYS,
    )
    assert settings.jwt_secret.get_secret_value() != DEV_JWT_SECRET


def test_database_and_temporal_urls_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://u@db.internal:5432/orders")
    monkeypatch.setenv("TEMPORAL_ADDRESS", "temporal.internal:7233")
    settings = Settings()
    assert settings.effective_database_url == "postgresql+psycopg://u@db.internal:5432/orders"
    assert settings.effective_temporal_address == "temporal.internal:7233"


def test_without_urls_the_embedded_stack_is_addressed_on_loopback() -> None:
    settings = Settings(database_url=None, temporal_address=None, postgres_port=5999)
    assert settings.effective_database_url.endswith("@127.0.0.1:5999/orders")
    assert settings.effective_temporal_address == "127.0.0.1:7233"


def test_unsigned_algorithm_cannot_be_configured() -> None:
    with pytest.raises(ValidationError, match="never 'none'"):
        Settings(jwt_algorithms=["HS256", "none"])


def test_production_starts_with_rs256_and_an_https_jwks_url() -> None:
    settings = Settings(
        environment=Environment.PRODUCTION,
        jwt_algorithms=["RS256"],
        jwt_jwks_url="https://issuer.example/.well-known/jwks.json",
        payload_keys=PRODUCTION_PAYLOAD_KEYS,
    )
    assert settings.jwt_algorithms == ["RS256"]


def test_production_refuses_a_jwks_url_without_tls() -> None:
    with pytest.raises(ValidationError, match="https"):
        Settings(
            environment=Environment.PRODUCTION,
            jwt_algorithms=["RS256"],
            jwt_jwks_url="http://issuer.example/jwks.json",
        )


@pytest.mark.parametrize("algorithm", ["HS1", "ES256K", "EdDSA", "RS1"])
def test_unsupported_algorithm_cannot_be_configured(algorithm: str) -> None:
    with pytest.raises(ValidationError, match="unsupported"):
        Settings(jwt_algorithms=[algorithm])


def test_asymmetric_algorithm_needs_a_public_key_or_a_jwks_url() -> None:
    with pytest.raises(ValidationError, match="exactly one"):
        Settings(jwt_algorithms=["RS256"])


def test_public_key_and_jwks_url_together_are_refused_as_ambiguous() -> None:
    with pytest.raises(ValidationError, match="exactly one"):
        Settings(
            jwt_algorithms=["RS256"],
            jwt_public_key=public_pem(
                rsa.generate_private_key(public_exponent=65537, key_size=2048)
            ),
            jwt_jwks_url="https://issuer.example/jwks.json",
        )


def test_public_key_that_is_not_pem_is_refused_at_startup() -> None:
    with pytest.raises(ValidationError, match="not a PEM public key"):
        Settings(jwt_algorithms=["RS256"], jwt_public_key="-----BEGIN nonsense-----")


def test_ec_public_key_for_rs256_is_refused_at_startup() -> None:
    with pytest.raises(ValidationError, match="does not fit"):
        Settings(
            jwt_algorithms=["RS256"],
            jwt_public_key=public_pem(ec.generate_private_key(ec.SECP256R1())),
        )


def test_hmac_secret_shorter_than_the_hash_is_refused() -> None:
    with pytest.raises(ValidationError, match="at least 32 bytes"):
        Settings(jwt_secret="too-short")


def test_the_retry_profile_setting_names_exactly_the_workflow_profiles() -> None:
    assert set(get_args(RetryProfileName)) == {profile.value for profile in RetryProfile}


def test_the_retry_profile_defaults_to_production_in_production_and_demo_in_dev() -> None:
    production = Settings(
        environment=Environment.PRODUCTION,
        jwt_secret=SecretStr("s" * 32),
        payload_keys=PRODUCTION_PAYLOAD_KEYS,
    )

    assert RetryProfile(production.effective_retry_profile) is RetryProfile.PRODUCTION
    assert RetryProfile(Settings().effective_retry_profile) is RetryProfile.DEMO


@pytest.mark.parametrize("limit", ["160", "160MB", "lots", "-1MiB"])
def test_the_dev_temporal_memory_limit_must_be_in_go_syntax(limit: str) -> None:
    # Refused when the settings load, naming the setting, not left to the Go runtime to judge.
    with pytest.raises(ValidationError, match="temporal_dev_memory_limit"):
        Settings(temporal_dev_memory_limit=limit)


def test_the_dev_temporal_memory_limit_takes_go_units() -> None:
    assert Settings(temporal_dev_memory_limit="1GiB").temporal_dev_memory_limit == "1GiB"
