"""A refused configuration is one line naming the setting and the rule, never its value."""

from __future__ import annotations

import base64
import os
import subprocess
import sys

import pytest

from tests.support import PRODUCTION_PAYLOAD_KEYS

# Short enough to be refused in production, distinctive enough to spot anywhere in the output.
SHORT_SECRET = "hunter2-short-secret"
PRODUCTION_WITH_A_SHORT_SECRET = {
    "ORDER_API_ENVIRONMENT": "production",
    "ORDER_API_JWT_SECRET": SHORT_SECRET,
    "ORDER_API_PAYLOAD_KEYS": PRODUCTION_PAYLOAD_KEYS.get_secret_value(),
}
PRODUCTION_WITHOUT_PAYLOAD_KEYS = {
    "ORDER_API_ENVIRONMENT": "production",
    "ORDER_API_JWT_SECRET": "a-production-secret-" + "x" * 32,
}
ENTRY_POINTS = {
    "cli token": ["-m", "processes.cli", "token", "--sub", "alice"],
    "cli migrate": ["-m", "processes.cli", "migrate"],
    "worker": ["-m", "processes.cli", "worker"],
    "api under uvicorn": ["-m", "uvicorn", "api.main:app", "--port", "0"],
}
# The simulators read no JWT settings of ours; their own settings are refused the same way.
SIMULATORS = {
    "payment simulator": ["-m", "uvicorn", "simulators.payment_gateway.app:app", "--port", "0"],
    "carrier simulator": ["-m", "uvicorn", "simulators.carrier.app:app", "--port", "0"],
}


def _start(arguments: list[str], environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ORDER_API_")}
    return subprocess.run(
        [sys.executable, *arguments],
        env={**clean, **environment},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("entry", ENTRY_POINTS.values(), ids=ENTRY_POINTS.keys())
def test_a_short_production_secret_is_refused_in_one_line_without_the_secret(
    entry: list[str],
) -> None:
    result = _start(entry, PRODUCTION_WITH_A_SHORT_SECRET)

    assert result.returncode == 2
    assert SHORT_SECRET not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert "ORDER_API_JWT_SECRET" in line and "at least 32 bytes" in line


@pytest.mark.parametrize("entry", ENTRY_POINTS.values(), ids=ENTRY_POINTS.keys())
def test_production_without_payload_keys_is_refused_in_one_line(entry: list[str]) -> None:
    result = _start(entry, PRODUCTION_WITHOUT_PAYLOAD_KEYS)

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert "ORDER_API_PAYLOAD_KEYS is required in production" in line


def test_a_malformed_payload_key_is_refused_without_its_value() -> None:
    key = "k1:" + base64.b64encode(b"s3cr3t-but-only-20-b").decode()
    result = _start(ENTRY_POINTS["cli token"], {"ORDER_API_PAYLOAD_KEYS": key})

    assert result.returncode == 2
    assert key.split(":")[1] not in result.stderr + result.stdout
    [line] = result.stderr.strip().splitlines()
    assert "ORDER_API_PAYLOAD_KEYS" in line and "32 bytes" in line


def test_a_malformed_setting_is_named_with_its_rule_but_not_its_value() -> None:
    result = _start(ENTRY_POINTS["cli token"], {"ORDER_API_API_PORT": "s3cr3t-not-a-port"})

    assert result.returncode == 2
    assert "s3cr3t-not-a-port" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert "ORDER_API_API_PORT" in line and "integer" in line


@pytest.mark.parametrize("entry", SIMULATORS.values(), ids=SIMULATORS.keys())
def test_a_simulator_refuses_a_malformed_setting_in_one_line_without_its_value(
    entry: list[str],
) -> None:
    result = _start(entry, {"ORDER_API_PAYMENT_SIM_LATENCY_MS": "s3cr3t-not-a-number"})

    assert result.returncode == 2
    assert "s3cr3t-not-a-number" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert "ORDER_API_PAYMENT_SIM_LATENCY_MS" in line and "integer" in line
