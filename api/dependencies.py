"""Typed request dependencies: settings, the session factory, the read views, the Temporal client,
the listener.

All are `async def`: FastAPI runs a plain `def` dependency on a worker thread, which would cost
a thread hop per dependency on every request for what is an attribute read.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from api.orders.views import OrderViews
from api.status_changes import StatusChangeListener
from foundation.settings import Settings


async def _settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


async def _session_factory(request: Request) -> async_sessionmaker[AsyncSession]:
    return request.app.state.session_factory  # type: ignore[no-any-return]


async def _order_views(request: Request) -> OrderViews:
    return request.app.state.order_views  # type: ignore[no-any-return]


async def _temporal(request: Request) -> Client:
    return request.app.state.temporal  # type: ignore[no-any-return]


async def _status_changes(request: Request) -> StatusChangeListener:
    return request.app.state.status_changes  # type: ignore[no-any-return]


AppSettings = Annotated[Settings, Depends(_settings)]
SessionFactory = Annotated[async_sessionmaker[AsyncSession], Depends(_session_factory)]
Views = Annotated[OrderViews, Depends(_order_views)]
TemporalClient = Annotated[Client, Depends(_temporal)]
StatusChanges = Annotated[StatusChangeListener, Depends(_status_changes)]
