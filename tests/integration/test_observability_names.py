"""Every metric the alerts and the dashboard name is exported by a live API, worker or relay."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client import REGISTRY, generate_latest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import WorkflowFailureError

from api.main import create_app
from foundation.settings import Settings
from foundation.temporal_client import connect_temporal
from processes.worker import fulfillment_worker
from processes.worker_metrics import serve_worker_metrics
from tests.support import in_process_client, order_body, running_relay, started_run

pytestmark = pytest.mark.integration
Auth = Callable[..., dict[str, str]]
OBSERVABILITY = Path(__file__).resolve().parents[2] / "observability"
# Ours and the SDK's; `up` and the like are Prometheus's own, made when it scrapes.
EXPORTED_PREFIXES = ("order_api_", "order_worker_", "order_relay_", "temporal_")
IDENTIFIER = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def _named_in(expressions: list[str]) -> set[str]:
    return {
        name
        for expression in expressions
        for name in IDENTIFIER.findall(expression)
        if name.startswith(EXPORTED_PREFIXES)
    }


def metrics_named_by_alerts() -> set[str]:
    rules = yaml.safe_load((OBSERVABILITY / "alerts.yml").read_text())
    return _named_in([rule["expr"] for group in rules["groups"] for rule in group["rules"]])


def metrics_named_by_dashboard() -> set[str]:
    dashboard = json.loads((OBSERVABILITY / "dashboard.json").read_text())
    return _named_in(
        [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    )


def exported(scrape: str) -> set[str]:
    return {line.split("{")[0].split(" ")[0] for line in scrape.splitlines() if line[:1].isalpha()}


def test_the_rules_and_the_dashboard_name_metrics_at_all() -> None:
    # Guards the check below against a parser that finds nothing and so passes vacuously.
    assert "order_api_http_requests_total" in metrics_named_by_alerts()
    assert "order_worker_orders_finished_total" in metrics_named_by_dashboard()


async def test_every_metric_the_alerts_and_dashboard_name_is_exported(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], auth: Auth, clean_db: None
) -> None:
    own = settings.model_copy(update={"task_queue": f"names-{uuid.uuid4().hex[:8]}"})
    with serve_worker_metrics("127.0.0.1", 0) as metrics:
        client = await connect_temporal(own, runtime=metrics.runtime)
        async with (
            fulfillment_worker(client, own, sessions),
            running_relay(own, sessions, client),
            in_process_client(create_app(own)) as api,
        ):
            # One order that completes and one that fails, so every labelled series has a sample.
            good = await api.post(
                "/orders", json=order_body(), headers=auth(key=f"{own.task_queue}-ok")
            )
            declined = await api.post(
                "/orders",
                json=order_body(payment_method="tok_declined"),
                headers=auth(key=f"{own.task_queue}-declined"),
            )
            await (await started_run(client, good.json()["workflow_id"])).result()
            with pytest.raises(WorkflowFailureError):
                await (await started_run(client, declined.json()["workflow_id"])).result()
            api_scrape = (await api.get("/metrics")).text
        async with httpx.AsyncClient() as scraper:
            worker_scrape = (await scraper.get(metrics.url)).text
    # The relay serves the process's registry, as `order-api relay` does on its own port.
    relay_scrape = generate_latest(REGISTRY).decode()

    available = exported(api_scrape) | exported(worker_scrape) | exported(relay_scrape)
    wanted = metrics_named_by_alerts() | metrics_named_by_dashboard()
    assert wanted - available == set()
