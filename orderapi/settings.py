"""Every setting the service reads, from the environment, in one place."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# A well-known value so a dev token can be minted with no setup; production refuses it.
DEV_JWT_SECRET = "dev-only-insecure-secret-change-me-0000000000"


class Environment(StrEnum):
    DEV = "dev"
    PRODUCTION = "production"


class RetryProfile(StrEnum):
    """Which table of retry policies the workflows use (see workflows/retry_policies.py)."""

    DEMO = "demo"
    PRODUCTION = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ORDER_API_", extra="ignore")

    environment: Environment = Environment.DEV
    data_dir: Path = Path(".data")
    log_level: str = "INFO"
    # Print finished spans to stdout (the logs); production would export to a collector instead.
    otel_console_export: bool = False

    # The two real dependencies. Unset in dev means "start the embedded one".
    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    temporal_address: str | None = Field(default=None, validation_alias="TEMPORAL_ADDRESS")
    temporal_namespace: str = "default"
    task_queue: str = "orders"

    # Ports used by `order-api run` for the embedded stack.
    postgres_port: int = 55432
    temporal_port: int = 7233
    temporal_ui_port: int = 8233
    api_host: str = "127.0.0.1"
    api_port: int = 8000

    # The external services fulfilment calls. Unset means the simulators `order-api run` starts.
    payment_gateway_url: str | None = None
    carrier_url: str | None = None
    payment_gateway_port: int = 8101
    carrier_port: int = 8102
    # Unset: demo policies in dev (a dead letter within a minute), production ones in production.
    retry_profile: RetryProfile | None = None

    # Fault injection for the simulators as a whole (per-order faults use magic values).
    payment_sim_error_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    payment_sim_latency_ms: int = Field(default=0, ge=0)
    carrier_sim_error_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    carrier_sim_latency_ms: int = Field(default=0, ge=0)

    jwt_secret: SecretStr = SecretStr(DEV_JWT_SECRET)
    jwt_algorithms: list[str] = ["HS256"]
    jwt_issuer: str = "order-api"
    jwt_audience: str = "order-api"
    jwt_leeway_seconds: int = 30

    idempotency_retention_seconds: int = 24 * 3600
    # How long an in-flight claim blocks its key before another request may take it over.
    idempotency_claim_lease_seconds: int = 30
    readiness_timeout_seconds: float = 2.0
    # How long POST /orders/{id}/cancel waits for compensation before answering 202.
    cancel_wait_seconds: float = 20.0
    # How often the worker sweeps for accepted orders whose workflow never started.
    reconcile_interval_seconds: float = 5.0
    # An order younger than this is left to the request that is starting it.
    reconcile_grace_seconds: float = 10.0

    @field_validator("jwt_algorithms")
    @classmethod
    def _never_unsigned(cls, algorithms: list[str]) -> list[str]:
        if not algorithms or any(alg.lower() == "none" for alg in algorithms):
            raise ValueError("jwt_algorithms must list real signing algorithms, never 'none'")
        return algorithms

    @model_validator(mode="after")
    def _refuse_dev_secret_in_production(self) -> Settings:
        if (
            self.environment is Environment.PRODUCTION
            and self.jwt_secret.get_secret_value() == DEV_JWT_SECRET
            and any(alg.startswith("HS") for alg in self.jwt_algorithms)
        ):
            raise ValueError(
                "ORDER_API_JWT_SECRET is the dev secret; production mode refuses to start with it"
            )
        return self

    @property
    def effective_database_url(self) -> str:
        return self.database_url or (
            f"postgresql+psycopg://postgres@127.0.0.1:{self.postgres_port}/orders"
        )

    @property
    def effective_temporal_address(self) -> str:
        return self.temporal_address or f"127.0.0.1:{self.temporal_port}"

    @property
    def effective_payment_gateway_url(self) -> str:
        return self.payment_gateway_url or f"http://127.0.0.1:{self.payment_gateway_port}"

    @property
    def effective_carrier_url(self) -> str:
        return self.carrier_url or f"http://127.0.0.1:{self.carrier_port}"

    @property
    def effective_retry_profile(self) -> RetryProfile:
        if self.retry_profile is not None:
            return self.retry_profile
        if self.environment is Environment.PRODUCTION:
            return RetryProfile.PRODUCTION
        return RetryProfile.DEMO


@lru_cache
def get_settings() -> Settings:
    return Settings()
