"""What can be checked of the compose stack and the image without a container engine."""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from foundation.settings import Environment, Settings
from processes.cli import main as cli
from simulators.settings import SimulatorSettings
from tests.support import PRODUCTION_PAYLOAD_KEYS

ROOT = Path(__file__).resolve().parents[2]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
DEVSTACK = "\n".join(p.read_text() for p in (ROOT / "processes" / "devstack").glob("*.py"))

# The one list: each service `make run` starts, as compose names it, and what in the dev stack
# starts the same thing. Checked both ways below.
SHARED_SERVICES = {
    "postgres": "EmbeddedPostgres(",
    "temporal": "TemporalDevServer(",
    "migrate": '"processes.cli", "migrate"',
    "worker": '"processes.cli", "worker"',
    "api": '"api.main:app"',
    "payment-gateway": '"simulators.payment_gateway.app:app"',
    "carrier": '"simulators.carrier.app:app"',
}
# What production adds around them: Temporal's database, schema and UI, and the observability.
PRODUCTION_ONLY = {
    "temporal-postgres",
    "temporal-setup",
    "temporal-ui",
    "prometheus",
    "grafana",
    "jaeger",
}
APP_IMAGE = SERVICES["api"]["image"]
PLACEHOLDER = re.compile(r"\$\{(\w+):\?[^}]*\}")


def app_services() -> Iterator[tuple[str, dict[str, Any]]]:
    return ((name, s) for name, s in SERVICES.items() if s.get("image") == APP_IMAGE)


def environment_of(service: dict[str, Any]) -> dict[str, str]:
    """The service's environment as compose would pass it, secrets filled with stand-ins."""
    env = {key: str(value) for key, value in service.get("environment", {}).items()}
    return {key: PLACEHOLDER.sub(lambda m: _stand_in(m.group(1)), v) for key, v in env.items()}


def _stand_in(variable: str) -> str:
    # A value of the shape the setting demands; payload keys are `id:base64 of 32 bytes`.
    if variable == "ORDER_API_PAYLOAD_KEYS":
        return PRODUCTION_PAYLOAD_KEYS.get_secret_value()
    return f"{variable.lower()}-" + "s" * 32


def command_of(service: dict[str, Any]) -> list[str]:
    if "command" in service:
        return [str(part) for part in service["command"]]
    cmd = re.search(r"^CMD (\[.*?\])\s*$", DOCKERFILE.replace("\\\n", " "), re.M | re.S)
    assert cmd is not None, "the Dockerfile has no CMD in JSON form"
    return list(json.loads(cmd.group(1)))


def test_compose_has_every_service_the_topology_needs_and_no_other() -> None:
    assert set(SERVICES) == set(SHARED_SERVICES) | PRODUCTION_ONLY


def test_make_run_starts_every_shared_service() -> None:
    missing = [name for name, marker in SHARED_SERVICES.items() if marker not in DEVSTACK]
    assert missing == []


def test_every_process_make_run_starts_has_a_compose_service() -> None:
    started = set(re.findall(r'"processes\.cli", "(\w+)"', DEVSTACK))
    started |= {m.replace("_", "-") for m in re.findall(r'"simulators\.(\w+)\.app:app"', DEVSTACK)}
    started |= {"api"} if '"api.main:app"' in DEVSTACK else set()
    assert started <= set(SHARED_SERVICES)
    assert started == {"migrate", "worker", "api", "payment-gateway", "carrier"}


def test_workers_can_be_scaled() -> None:
    worker = SERVICES["worker"]
    assert "container_name" not in worker
    assert "ports" not in worker


def test_every_image_is_pinned_by_version() -> None:
    for name, service in SERVICES.items():
        image = service["image"]
        tag = image.rpartition(":")[2] if ":" in image else ""
        assert re.search(r"\d", tag) and tag != "latest", f"{name}: {image}"
    for base in re.findall(r"^FROM (\S+)", DOCKERFILE, re.M):
        assert re.fullmatch(r"python:\d+\.\d+\.\d+-\S+", base), base


def test_every_dependency_waits_for_a_condition() -> None:
    for name, service in SERVICES.items():
        for dependency, how in service.get("depends_on", {}).items():
            assert dependency in SERVICES, f"{name} depends on unknown {dependency}"
            assert how["condition"] in {
                "service_healthy",
                "service_completed_successfully",
                "service_started",
            }


def test_long_running_services_have_healthchecks() -> None:
    one_shot = {"migrate", "temporal-setup"}
    # Jaeger's image has no shell or HTTP client to probe itself with; the UI's likewise.
    unprobed = {"jaeger", "temporal-ui"}
    for name, service in SERVICES.items():
        if name in one_shot | unprobed:
            continue
        assert "test" in service.get("healthcheck", {}), name


@pytest.mark.parametrize("name", ["api", "worker", "migrate"])
def test_the_product_services_get_every_production_setting(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in [*Settings.model_fields, "DATABASE_URL", "TEMPORAL_ADDRESS"]:
        monkeypatch.delenv(f"ORDER_API_{key.upper()}", raising=False)
        monkeypatch.delenv(key, raising=False)
    for key, value in environment_of(SERVICES[name]).items():
        monkeypatch.setenv(key, value)

    settings = Settings()

    assert settings.environment is Environment.PRODUCTION
    assert settings.database_url is not None and "@postgres:" in settings.database_url
    assert settings.temporal_address == "temporal:7233"
    if name == "worker":
        assert settings.payment_gateway_url == "http://payment-gateway:8101"
        assert settings.carrier_url == "http://carrier:8102"
        assert settings.worker_metrics_host == "0.0.0.0"
        # No relay service: the workers start the accepted orders (adrs/0003).
        assert settings.worker_runs_relay
    if name == "api":
        assert settings.metrics_token is not None
    if name != "migrate":
        assert "OTEL_EXPORTER_OTLP_ENDPOINT" in environment_of(SERVICES[name])


@pytest.mark.parametrize("name", ["payment-gateway", "carrier"])
def test_the_simulators_keep_their_ledgers_on_their_volume(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in environment_of(SERVICES[name]).items():
        monkeypatch.setenv(key, value)
    assert SimulatorSettings().data_dir == Path("/data")
    assert any(volume.endswith(":/data") for volume in SERVICES[name]["volumes"])


@pytest.mark.parametrize("name", [name for name, _ in app_services()])
def test_each_command_names_an_entry_point_that_exists(name: str) -> None:
    program, *args = command_of(SERVICES[name])
    if program == "order-api":
        assert PYPROJECT["project"]["scripts"]["order-api"] == "processes.cli:main"
        with pytest.raises(SystemExit) as asked_for_help:
            cli([args[0], "--help"])
        assert asked_for_help.value.code == 0
    else:
        assert program == "uvicorn"
        module, attribute = args[0].split(":")
        spec = importlib.util.find_spec(module)
        assert spec is not None and spec.origin is not None, module
        tree = ast.parse(Path(spec.origin).read_text())
        assigned = {
            target.id
            for node in tree.body
            if isinstance(node, ast.Assign)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        assert attribute in assigned, args[0]


def _pins(lock: str) -> dict[str, str]:
    return {m[0].lower(): m[1] for m in re.findall(r"^([A-Za-z0-9._-]+)==(\S+)", lock, re.M)}


def test_the_image_runs_the_projects_python() -> None:
    wanted = re.fullmatch(r">=(\d+\.\d+),<\d+\.\d+", PYPROJECT["project"]["requires-python"])
    assert wanted is not None
    for base in re.findall(r"^FROM python:(\d+\.\d+)\.", DOCKERFILE, re.M):
        assert base == wanted.group(1)


def test_the_image_installs_the_runtime_lock_as_pinned_in_the_projects_lock() -> None:
    assert "requirements.runtime.lock" in DOCKERFILE
    assert "--require-hashes" in DOCKERFILE
    runtime = _pins((ROOT / "requirements.runtime.lock").read_text())
    full = _pins((ROOT / "requirements.lock").read_text())
    assert {name: full.get(name) for name in runtime} == runtime
    for requirement in PYPROJECT["project"]["dependencies"]:
        name, version = re.sub(r"\[.*\]", "", requirement).split("==")
        assert runtime[name.lower()] == version, requirement


def test_the_image_carries_no_dev_extras_and_installs_the_project_as_a_wheel() -> None:
    runtime = _pins((ROOT / "requirements.runtime.lock").read_text())
    dev = {r.split("==")[0].lower() for r in PYPROJECT["project"]["optional-dependencies"]["dev"]}
    # A few dev tools' dependencies (psutil) are also the product's; the tools themselves are not.
    assert {name for name in dev & set(runtime) if not name.startswith("types-")} <= {"psutil"}
    assert "pip wheel" in DOCKERFILE and ".whl" in DOCKERFILE
    assert " -e " not in DOCKERFILE


def test_the_image_runs_as_a_non_root_user() -> None:
    users = re.findall(r"^USER (\S+)", DOCKERFILE, re.M)
    assert users and users[-1] not in {"root", "0"}


def test_prometheus_loads_the_rules_and_scrapes_the_jobs_they_name() -> None:
    config = yaml.safe_load((ROOT / "observability" / "prometheus.yml").read_text())
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    rules = (ROOT / "observability" / "alerts.yml").read_text()
    assert set(re.findall(r'job="([\w-]+)"', rules)) <= jobs
    mounts = SERVICES["prometheus"]["volumes"]
    assert any(m.startswith("./observability/alerts.yml:") for m in mounts)
    assert "/etc/prometheus/alerts.yml" in config["rule_files"]


def test_grafana_is_provisioned_with_the_dashboard_on_its_datasource() -> None:
    provisioning = ROOT / "observability" / "grafana" / "provisioning"
    datasource = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())
    dashboard = json.loads((ROOT / "observability" / "dashboard.json").read_text())
    uids = {panel["datasource"]["uid"] for panel in dashboard["panels"] if "datasource" in panel}
    assert uids == {source["uid"] for source in datasource["datasources"]}
    assert any("dashboard.json:" in m for m in SERVICES["grafana"]["volumes"])
