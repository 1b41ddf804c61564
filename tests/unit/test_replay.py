"""Recorded histories replay against today's workflow code: a non-deterministic change fails.

The histories in tests/histories/ were recorded from real runs (completed, failed, cancelled,
redriven). Refresh them with `make histories` only when a change is meant to be incompatible,
and then version the workflow instead of breaking the runs that are in flight.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from tests.support import HISTORIES
from workflows.order_fulfillment import OrderFulfillmentWorkflow

RECORDED = sorted(HISTORIES.glob("*.json"))


def test_histories_of_every_outcome_are_recorded() -> None:
    names = {path.stem for path in RECORDED}
    assert {"completed", "failed-after-exhausted-retries", "cancelled"} <= names


@pytest.mark.parametrize("path", RECORDED, ids=[p.stem for p in RECORDED])
async def test_recorded_history_replays_deterministically(path: Path) -> None:
    replayer = Replayer(
        workflows=[OrderFulfillmentWorkflow], data_converter=pydantic_data_converter
    )
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure
