"""The scrape endpoint the worker and a lone relay serve their metrics from."""

from __future__ import annotations

import socket
import urllib.request

from prometheus_client import CollectorRegistry, Counter

from processes.metrics_server import serve_metrics


def test_it_serves_the_registry_at_metrics() -> None:
    registry = CollectorRegistry()
    Counter("probe_events", "Events a probe counted", registry=registry).inc(3)
    with (
        serve_metrics("127.0.0.1", 0, registry) as port,
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer,
    ):
        body = answer.read()
    assert b"probe_events_total 3.0" in body


def test_its_port_is_free_again_once_it_stops() -> None:
    with serve_metrics("127.0.0.1", 0, CollectorRegistry()) as port:
        pass
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))
