"""What the simulators read from the environment.

The names are the Order API's own (`ORDER_API_DATA_DIR`, `ORDER_API_PAYMENT_SIM_ERROR_RATE`, …),
so one environment configures the whole dev stack. There is deliberately no database URL: each
simulator keeps its ledger in a file under the data directory, not in the product's database.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from foundation.configuration import ConfigurationError, load_settings, refuse_to_start


class SimulatorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ORDER_API_", extra="ignore")

    data_dir: Path = Path(".data")
    log_level: str = "INFO"
    # How long GET /health waits for the ledger before answering 503.
    readiness_timeout_seconds: float = 2.0

    # Faults for a simulator as a whole (per-request faults use magic values).
    payment_sim_error_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    payment_sim_latency_ms: int = Field(default=0, ge=0)
    carrier_sim_error_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    carrier_sim_latency_ms: int = Field(default=0, ge=0)

    @property
    def ledgers_dir(self) -> Path:
        return self.data_dir / "simulators"

    @property
    def payment_gateway_ledger(self) -> Path:
        return self.ledgers_dir / "payment-gateway.sqlite3"

    @property
    def carrier_ledger(self) -> Path:
        return self.ledgers_dir / "carrier.sqlite3"


@lru_cache
def get_simulator_settings() -> SimulatorSettings:
    return load_settings(SimulatorSettings)


def simulator_settings_or_exit() -> SimulatorSettings:
    """get_simulator_settings() for the ASGI modules: a bad setting refuses in one line."""
    try:
        return get_simulator_settings()
    except ConfigurationError as exc:
        refuse_to_start(exc)
