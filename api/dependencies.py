"""Typed request dependencies: settings, the session factory, the Temporal client, the listener."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from api.orders.start_backlog import StartBacklog
from api.status_changes import StatusChangeListener
from foundation.settings import Settings


def _settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def _session_factory(request: Request) -> async_sessionmaker[AsyncSession]:
    return request.app.state.session_factory  # type: ignore[no-any-return]


def _temporal(request: Request) -> Client:
    return request.app.state.temporal  # type: ignore[no-any-return]


def _status_changes(request: Request) -> StatusChangeListener:
    return request.app.state.status_changes  # type: ignore[no-any-return]


def _start_backlog(request: Request) -> StartBacklog:
    return request.app.state.start_backlog  # type: ignore[no-any-return]


AppSettings = Annotated[Settings, Depends(_settings)]
SessionFactory = Annotated[async_sessionmaker[AsyncSession], Depends(_session_factory)]
TemporalClient = Annotated[Client, Depends(_temporal)]
StatusChanges = Annotated[StatusChangeListener, Depends(_status_changes)]
PendingStarts = Annotated[StartBacklog, Depends(_start_backlog)]
