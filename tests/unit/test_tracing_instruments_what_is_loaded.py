"""Tracing instruments the client and database libraries a process uses, and loads no other."""

from __future__ import annotations

import subprocess
import sys

CONFIGURE = (
    "import sys\n"
    "{before}"
    "from foundation.telemetry import configure_tracing\n"
    "configure_tracing('probe', export_to_console=False)\n"
    "print('sqlalchemy' in sys.modules, 'httpx' in sys.modules)\n"
)
SQL_SPANS = (
    "from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor\n"
    "print(SQLAlchemyInstrumentor().is_instrumented_by_opentelemetry)\n"
)


def run(before: str, after: str = "") -> list[str]:
    script = CONFIGURE.format(before=before) + after
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    return result.stdout.split()


def test_a_process_without_sqlalchemy_or_httpx_does_not_load_them_for_tracing() -> None:
    assert run(before="") == ["False", "False"]


def test_a_process_that_uses_sqlalchemy_gets_statement_spans() -> None:
    assert run(before="import sqlalchemy\n", after=SQL_SPANS) == ["True", "False", "True"]


def test_a_process_that_only_logs_loads_no_tracing_sdk_or_exporter() -> None:
    # The simulators log through foundation.telemetry and make no spans.
    script = (
        "import sys\n"
        "from foundation.telemetry import configure_logging\n"
        "configure_logging('info')\n"
        "print(any(m.startswith(('opentelemetry.sdk', 'opentelemetry.exporter')) "
        "for m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.split() == ["False"]
