"""The alerting rules load, and fire (or stay quiet) as their tests on synthetic series say."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

OBSERVABILITY = Path(__file__).resolve().parents[2] / "observability"
PROMTOOL = shutil.which("promtool")

needs_promtool = pytest.mark.skipif(
    PROMTOOL is None,
    reason="promtool is not installed (Debian package 'prometheus'; .ci/run installs it)",
)


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run(
        [PROMTOOL, *args], cwd=OBSERVABILITY, capture_output=True, text=True, timeout=120
    )


@needs_promtool
def test_the_rules_file_is_valid() -> None:
    result = promtool("check", "rules", "alerts.yml")
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_every_alert_passes_its_rule_tests() -> None:
    result = promtool("test", "rules", "alerts.test.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_rule_test() -> None:
    rules = yaml.safe_load((OBSERVABILITY / "alerts.yml").read_text())
    tests = yaml.safe_load((OBSERVABILITY / "alerts.test.yml").read_text())
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    tested = {
        case["alertname"]
        for test in tests["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    assert alerts == tested
