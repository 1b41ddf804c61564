"""The FastAPI application: wiring only; behaviour lives in the routers and services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from api import health
from api.auth import TokenVerifier
from api.body_limit import BodySizeLimit
from api.codec.router import preflight_router as codec_preflight_router
from api.codec.router import router as codec_router
from api.dead_letters.router import router as dead_letters_router
from api.header_limit import HeaderSizeLimit
from api.idempotency.stored_answers import StoredAnswers
from api.metrics import install_metrics
from api.openapi import install_openapi
from api.orders.router import router as orders_router
from api.orders.service import OrderService
from api.orders.start_backlog import StartBacklog
from api.orders.views import OrderViews
from api.problems import install_problem_handlers
from api.products.router import router as products_router
from api.ratelimit import OrderRateLimiter
from api.request_id import install_request_id
from api.status_changes import StatusChangeListener
from api.tracing import install_tracing
from foundation.collector import freeze_startup_objects
from foundation.db import (
    make_engine,
    make_read_pool,
    make_read_session_factory,
    make_session_factory,
)
from foundation.heap_release import heap_released_when_quiet
from foundation.payload_codec import EncryptionCodec
from foundation.settings import LogFormat, Settings, get_settings, settings_or_exit
from foundation.telemetry import configure_logging, configure_tracing
from foundation.temporal_client import connect_temporal

NO_DOCS: dict[str, Any] = {"docs_url": None, "redoc_url": None, "openapi_url": None}


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # At startup, not at import: importing the app must not reconfigure the process.
        configure_logging(
            settings.log_level, json_lines=settings.effective_log_format is LogFormat.JSON
        )
        configure_tracing("order-api", export_to_console=settings.otel_console_export)
        engine = make_engine(
            settings.effective_database_url,
            pool_size=settings.api_db_pool_size,
            max_overflow=settings.api_db_max_overflow,
        )
        app.state.settings = settings
        app.state.token_verifier = TokenVerifier(settings)
        app.state.order_rate_limiter = OrderRateLimiter(settings.rate_limit_orders_per_minute)
        app.state.session_factory = make_session_factory(engine)
        app.state.read_session_factory = make_read_session_factory(engine)
        read_pool = make_read_pool(
            settings.effective_database_url, size=settings.api_read_pool_size, name="api-reads"
        )
        await read_pool.open(wait=False)
        app.state.order_views = OrderViews(read_pool)
        app.state.stored_answers = StoredAnswers(read_pool)
        app.state.temporal = await connect_temporal(settings, lazy=True)
        app.state.payload_codec = EncryptionCodec(settings.payload_keyring())
        app.state.status_changes = StatusChangeListener(settings.effective_database_url)
        app.state.status_changes.start()
        app.state.start_backlog = StartBacklog(
            app.state.session_factory,
            bound=settings.max_start_backlog,
            refresh_seconds=settings.start_backlog_refresh_seconds,
        )
        app.state.start_backlog.start()
        app.state.order_service = OrderService(
            settings,
            app.state.session_factory,
            app.state.temporal,
            app.state.start_backlog,
            reads=app.state.read_session_factory,
            stored=app.state.stored_answers,
        )
        freeze_startup_objects()
        async with heap_released_when_quiet(settings.heap_release_check_seconds):
            yield
        await app.state.start_backlog.stop()
        await app.state.status_changes.stop()
        await read_pool.close()
        await engine.dispose()

    app = FastAPI(
        title="Order API",
        version="0.1.0",
        summary="Idempotent order intake; fulfilment runs as Temporal workflows.",
        lifespan=lifespan,
        # Off in production unless turned on (ORDER_API_DOCS_ENABLED); the contract is openapi.yaml.
        **({} if settings.effective_docs_enabled else NO_DOCS),
    )
    install_problem_handlers(app)
    # Added before the metrics middleware, so metrics (outermost) count its 413s too.
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_body_bytes)
    install_metrics(app, settings)
    install_tracing(app)
    install_request_id(app)
    # Added last, so outermost of the app's own middleware: oversized headers are refused before
    # anything else reads them (the tracing instrumentation wraps the stack, recording no headers).
    app.add_middleware(HeaderSizeLimit, max_bytes=settings.max_request_header_bytes)
    app.include_router(health.router)
    app.include_router(products_router)
    app.include_router(orders_router)
    app.include_router(dead_letters_router)
    app.include_router(codec_router)
    app.include_router(codec_preflight_router)
    install_openapi(app)
    return app


# Imported by uvicorn: bad settings end the process with one line, not a traceback.
app = create_app(settings_or_exit())
