"""A process's Prometheus scrape endpoint, served from a thread, that stops as soon as it is told.

prometheus-client's `start_http_server` serves with the standard library's default shutdown poll of
half a second: stopping it took a worker 0.46 s, most of the 0.6 s `order-api run` gives a worker
on Ctrl-C before it kills it. This is the same server from the library's own parts (its WSGI app
and threading server), polled for shutdown every tenth of a second.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import REGISTRY, CollectorRegistry, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

SHUTDOWN_POLL_SECONDS = 0.1


class _QuietHandler(WSGIRequestHandler):
    # Every scrape would otherwise print a line to stderr, i.e. to the process's log.
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve_metrics(host: str, port: int, registry: CollectorRegistry = REGISTRY) -> Iterator[int]:
    """Serve `registry` at http://host:port/metrics until the block ends; yields the bound port
    (port 0 picks a free one)."""
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    server_class = type("MetricsServer", (ThreadingWSGIServer,), {"address_family": family})
    server: ThreadingWSGIServer = make_server(
        host, port, make_wsgi_app(registry), server_class, handler_class=_QuietHandler
    )
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": SHUTDOWN_POLL_SECONDS},
        name="metrics-http",
        daemon=True,
    )
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
