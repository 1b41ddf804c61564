"""Recorded histories replay against today's workflow code: a non-deterministic change fails.

The histories in tests/histories/ were recorded from real runs (completed, failed, cancelled,
redriven). Refresh them with `make histories` only when a change is meant to be incompatible,
and then version the workflow instead of breaking the runs that are in flight.

They were recorded before payloads were encrypted, so they also show that the workers' codec
still reads a clear history (it passes through payloads that carry no encrypted encoding).
Histories recorded since are encrypted with the suite's fixed key, which the replayer is given.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from foundation.settings import Settings
from foundation.temporal_client import data_converter
from tests.support import HISTORIES, SUITE_PAYLOAD_KEYS
from workflows.order_fulfillment import OrderFulfillmentWorkflow

RECORDED = sorted(HISTORIES.glob("*.json"))


def test_histories_of_every_outcome_are_recorded() -> None:
    names = {path.stem for path in RECORDED}
    assert {"completed", "failed-after-exhausted-retries", "cancelled"} <= names


@pytest.mark.parametrize("path", RECORDED, ids=[p.stem for p in RECORDED])
async def test_recorded_history_replays_deterministically(path: Path) -> None:
    settings = Settings(payload_keys=SUITE_PAYLOAD_KEYS)
    replayer = Replayer(
        workflows=[OrderFulfillmentWorkflow], data_converter=data_converter(settings)
    )
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure
