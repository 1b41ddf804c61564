"""Settings come from the environment, and production refuses the dev signing secret."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from orderapi.settings import DEV_JWT_SECRET, Environment, Settings


def test_production_refuses_to_start_with_the_dev_secret() -> None:
    with pytest.raises(ValidationError, match="dev secret"):
        Settings(environment=Environment.PRODUCTION)


def test_production_starts_with_its_own_secret() -> None:
    settings = Settings(environment=Environment.PRODUCTION, jwt_secret="a-real-secret-" + "x" * 32)
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
