"""The simulators read the Order API's environment names, and keep their ledgers in files."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulators.settings import SimulatorSettings


def test_fault_settings_come_from_the_order_api_environment_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ORDER_API_PAYMENT_SIM_ERROR_RATE", "0.25")
    monkeypatch.setenv("ORDER_API_PAYMENT_SIM_LATENCY_MS", "40")
    monkeypatch.setenv("ORDER_API_CARRIER_SIM_ERROR_RATE", "0.5")
    monkeypatch.setenv("ORDER_API_CARRIER_SIM_LATENCY_MS", "70")

    settings = SimulatorSettings()

    assert (settings.payment_sim_error_rate, settings.payment_sim_latency_ms) == (0.25, 40)
    assert (settings.carrier_sim_error_rate, settings.carrier_sim_latency_ms) == (0.5, 70)


def test_each_simulator_has_a_ledger_file_of_its_own_under_the_data_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ORDER_API_DATA_DIR", str(tmp_path))

    settings = SimulatorSettings()

    assert settings.payment_gateway_ledger == tmp_path / "simulators" / "payment-gateway.sqlite3"
    assert settings.carrier_ledger == tmp_path / "simulators" / "carrier.sqlite3"


def test_an_error_rate_above_one_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDER_API_CARRIER_SIM_ERROR_RATE", "1.5")

    with pytest.raises(ValueError, match="carrier_sim_error_rate"):
        SimulatorSettings()
