"""Recorded histories replay against today's workflow code: a non-deterministic change fails.

The histories in tests/histories/ were recorded from real runs (completed, failed, cancelled,
redriven). Refresh them with `make histories` only when a change is meant to be incompatible,
and then version the workflow instead of breaking the runs that are in flight.

They were recorded before payloads were encrypted, so they also show that the workers' codec
still reads a clear history (it passes through payloads that carry no encrypted encoding).
Histories recorded since are encrypted with the suite's fixed key, which the replayer is given.

The top-level histories are of the first shape, which wrote each status with an activity task;
tests/histories/<patch>/ holds those of the shape that patch introduced (tests/support.py): local
activities for every status, then the steps writing the status their success leads to.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from foundation.settings import Settings
from foundation.temporal_client import data_converter
from tests.support import CURRENT_HISTORIES, HISTORIES, SUITE_PAYLOAD_KEYS
from workflows.order_fulfillment import OrderFulfillmentWorkflow

# The marker name the SDK records a local activity's result under.
LOCAL_ACTIVITY_MARKER = "core_local_activity"
RECORDED = sorted(HISTORIES.rglob("*.json"))
SHAPES = [HISTORIES, *sorted(path for path in HISTORIES.iterdir() if path.is_dir())]


def _history(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, path.read_text())


@pytest.mark.parametrize("shape", SHAPES, ids=[s.name for s in SHAPES])
def test_histories_of_every_outcome_are_recorded_for_each_shape(shape: Path) -> None:
    names = {path.stem for path in shape.glob("*.json")}
    assert {"completed", "failed-after-exhausted-retries", "cancelled"} <= names


def test_the_current_shape_writes_statuses_without_activity_tasks() -> None:
    scheduled = [
        event.activity_task_scheduled_event_attributes.activity_type.name
        for event in _history(CURRENT_HISTORIES / "completed.json").events
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
    assert scheduled == ["reserve_stock", "charge_payment", "create_shipment"]


def test_the_current_shape_writes_only_the_final_status_with_a_local_activity() -> None:
    local_activities = [
        event
        for event in _history(CURRENT_HISTORIES / "completed.json").events
        if event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
        and event.marker_recorded_event_attributes.marker_name == LOCAL_ACTIVITY_MARKER
    ]
    assert len(local_activities) == 1  # COMPLETED; RESERVED, PAID and SHIPPED came with the steps


@pytest.mark.parametrize(
    "path", RECORDED, ids=[str(p.relative_to(HISTORIES).with_suffix("")) for p in RECORDED]
)
async def test_recorded_history_replays_deterministically(path: Path) -> None:
    settings = Settings(payload_keys=SUITE_PAYLOAD_KEYS)
    replayer = Replayer(
        workflows=[OrderFulfillmentWorkflow], data_converter=data_converter(settings)
    )
    result = await replayer.replay_workflow(_history(path), raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure
