"""A worker started while Temporal is unreachable waits for it instead of exiting."""

from __future__ import annotations

import logging

import pytest

from foundation.settings import Settings
from processes import patient_connect


async def test_keeps_retrying_until_temporal_answers(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    attempts: list[int] = []
    connected = object()

    async def connect(_: Settings, **__: object) -> object:
        attempts.append(1)
        if len(attempts) < 3:
            raise RuntimeError("Failed client connect: connection refused")
        return connected

    monkeypatch.setattr(patient_connect, "connect_temporal", connect)
    monkeypatch.setattr(patient_connect, "FIRST_WAIT_SECONDS", 0.001)
    caplog.set_level(logging.WARNING, logger=patient_connect.__name__)

    client = await patient_connect.connect_when_reachable(Settings())

    assert client is connected
    assert len(attempts) == 3
    assert caplog.text.count("unreachable") == 2


async def test_other_errors_are_not_mistaken_for_an_outage(monkeypatch: pytest.MonkeyPatch) -> None:
    async def connect(_: Settings, **__: object) -> object:
        raise ValueError("bad namespace setting")

    monkeypatch.setattr(patient_connect, "connect_temporal", connect)

    with pytest.raises(ValueError, match="bad namespace"):
        await patient_connect.connect_when_reachable(Settings())
